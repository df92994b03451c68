"""Benchmark: how well the project reads real people's handwriting, which it never trains on.

From a given Task 1 model, trains Task 3's Greek head on the project's own stand-in letters
(data/greek_hands_train by default) for each letter set, with seeds --seed .. --seed+K-1, and
measures it on DIR/greek (real letters of three writers): accuracy as mean +- sd over the seeds,
per letter, and the most common confusions.  Also Task 1's model on DIR/digits through Task 1's
photo pipeline.  Letter sets: alpha/beta/gamma, alpha..epsilon, and every letter present in both
DIR/greek and the training folder.  Goals: >= 95 %, >= 90 %, >= 85 %; digits >= 29/30.

    python benchmarks/bench_real_handwriting.py --model outputs/task1/model.pth   # ~3 min on 2 cores
    python benchmarks/bench_real_handwriting.py --pipeline course photo           # compare pipelines

DIR (--real-dir) defaults to $REAL_HANDWRITING, else ../shared/real_handwriting beside the
repository; it is only read, never copied or trained on.
"""

import statistics
from collections import Counter
from pathlib import Path

import task3_greek
from models import load_checkpoint
from recognition import classify, cli, letters, training
from recognition.errors import DataError
from recognition.paths import DATA_DIR, MNIST_MODEL, REAL_DIR, ROOT

LETTER_SETS = {
    "alpha/beta/gamma": ["alpha", "beta", "gamma"],
    "alpha..epsilon": ["alpha", "beta", "gamma", "delta", "epsilon"],
}
SEEDS = 5
TOP_CONFUSIONS = 5
DIGITS = [str(d) for d in range(10)]


def parse_args(argv=None):
    p = cli.parser(__doc__, None)
    p.add_argument(
        "--real-dir",
        type=cli.folder,
        default=REAL_DIR,
        help="real handwriting: greek/<letter>/ and digits/ (default: $REAL_HANDWRITING or "
        "../shared/real_handwriting)",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=MNIST_MODEL,
        help="Task 1's model (default: outputs/task1/model.pth)",
    )
    p.add_argument(
        "--train-dir",
        type=cli.folder,
        default=DATA_DIR / "greek_hands_train",
        help="the letters the head learns from (default: data/greek_hands_train/)",
    )
    p.add_argument(
        "--pipeline",
        nargs="+",
        choices=letters.PIPELINES,
        default=[letters.PIPELINES[0]],
        help=f"letter pipeline(s) to measure (default: {letters.PIPELINES[0]})",
    )
    p.add_argument(
        "--seeds",
        type=cli.positive_int,
        default=SEEDS,
        help=f"seeds per letter set (default: {SEEDS})",
    )
    return p.parse_args(argv)


def letter_sets(train_dir, real_greek):
    """The letter sets to measure: the fixed ones, and all letters present in both folders."""
    present = sorted(
        set(letters.letter_classes(train_dir)) & set(letters.letter_classes(real_greek))
    )
    return {**LETTER_SETS, f"all {len(present)} present": present}


def head_args(args, pipeline):
    """Task 3's own settings (recipe, epochs, frozen layers) for this model and pipeline."""
    return task3_greek.settings(
        task3_greek.parse_args(
            [
                "--model",
                str(args.model),
                "--pipeline",
                pipeline,
                "--train-dir",
                str(args.train_dir),
                "--out-dir",
                str(ROOT / "outputs" / "bench_real_handwriting"),
            ]
        )
    )


def subset(data, all_classes, classes, device):
    """(x, y) of `data` = (x, y) over `all_classes`, kept to `classes`, y renumbered to index `classes`."""
    x, y = data
    keep = [all_classes.index(c) for c in classes]
    mask = sum(y == k for k in keep).bool()
    renumber = {k: i for i, k in enumerate(keep)}
    return x[mask].to(device), y[mask].apply_(renumber.get).to(device)


def measure_set(t3, device, classes, train, real, seeds):
    """Train the head once per seed; accuracy on the real letters per seed, per letter, and confusions."""
    accuracies, per_letter, confusions = [], {c: [] for c in classes}, Counter()
    truth = real[1].cpu().tolist()
    for seed in seeds:
        model, _ = task3_greek.train_head(
            t3, device, len(classes), train, real, seed, eval_epochs=[], eval_train=False
        )
        pred = training.predict(model, real[0]).argmax(1).cpu().tolist()
        accuracies.append(sum(p == t for p, t in zip(pred, truth)) / len(truth))
        for k, c in enumerate(classes):
            mine = [p for p, t in zip(pred, truth) if t == k]
            per_letter[c].append(sum(p == k for p in mine) / len(mine))
        confusions.update((classes[t], classes[p]) for p, t in zip(pred, truth) if p != t)
    return accuracies, per_letter, confusions, len(truth)


def report_set(name, accuracies, per_letter, confusions, n, seeds):
    """Print one letter set's lines."""
    sd = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    print(
        f"{name}: {100 * statistics.mean(accuracies):.1f} % +- {100 * sd:.1f} on {n} real letters "
        f"({len(seeds)} seeds: {', '.join(f'{100 * a:.1f}' for a in accuracies)})"
    )
    print(
        "  per letter: "
        + ", ".join(f"{c} {100 * statistics.mean(v):.0f} %" for c, v in per_letter.items())
    )
    common = confusions.most_common(TOP_CONFUSIONS)
    print(
        "  most common confusions (over all seeds): "
        + (", ".join(f"{t} read as {p} x{k}" for (t, p), k in common) if common else "none")
    )


def measure_digits(args, device):
    """Task 1's model on DIR/digits through the photo pipeline: (correct, labelled)."""
    model, _ = load_checkpoint(args.model, num_classes=10)
    model = training.prepare(model, device)
    results, _, _ = classify.classify_folder(
        model, args.real_dir / "digits", classify.photo_input, DIGITS
    )
    known = [r for r in results if r["label"] is not None]
    wrong = [
        f"{r['file']} read as {r['prediction']}" for r in known if r["label"] != r["prediction"]
    ]
    return sum(r["label"] == r["prediction"] for r in known), len(known), wrong


def main(argv=None):
    args = parse_args(argv)
    device = cli.device(args.device)
    load_checkpoint(
        args.model, num_classes=10
    )  # a missing or wrong model fails now, before any work
    real_greek = args.real_dir / "greek"
    seeds = list(range(args.seed, args.seed + args.seeds))
    for pipeline in args.pipeline:
        t3 = head_args(args, pipeline)
        print(
            f"== {pipeline} pipeline, head trained on {t3.train_dir}, {t3.epochs[0]} epochs, seeds {seeds}"
        )
        sets = letter_sets(args.train_dir, real_greek)
        every = sorted({c for classes in sets.values() for c in classes})
        # Each image is read once per pipeline; the letter sets are subsets of these tensors.
        train = letters.load_letter_folder(t3.train_dir, every, pipeline)[:2]
        real = letters.load_letter_folder(real_greek, every, pipeline)[:2]
        for name, classes in sets.items():
            report_set(
                name,
                *measure_set(
                    t3,
                    device,
                    classes,
                    subset(train, every, classes, device),
                    subset(real, every, classes, device),
                    seeds,
                ),
                seeds,
            )
    if (args.real_dir / "digits").is_dir():
        correct, n, wrong = measure_digits(args, device)
        print(
            f"digits (Task 1 model, photo pipeline): {correct}/{n}"
            + (f"; wrong: {', '.join(wrong)}" if wrong else "")
        )
    else:
        raise DataError(
            f"no folder {args.real_dir / 'digits'}: the real set should hold digits/ and greek/"
        )


if __name__ == "__main__":
    cli.run(main)
