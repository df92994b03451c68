"""Benchmark: how well the project reads real people's handwriting, which it never trains on.

From a given Task 1 model, trains Task 3's Greek head (recognition/transfer.py, Task 3's own
recipe and epochs) on the project's stand-in letters (data/greek_hands_train by default) for
each letter set, with seeds --seed .. --seed+K-1, and measures it on DIR/greek (real letters of
three writers): accuracy as mean +- sd over the seeds, per letter, and the most common
confusions.  Also Task 1's model on DIR/digits through Task 1's photo pipeline.  Letter sets:
alpha/beta/gamma, alpha..epsilon, and every letter present in both DIR/greek and the training
folder.  Goals: >= 95 %, >= 90 %, >= 85 %; digits >= 29/30.  Prints its lines; writes no files.

    python benchmarks/bench_real_handwriting.py --model outputs/task1/model.pth   # ~3 min, 2 cores
    python benchmarks/bench_real_handwriting.py --pipeline course photo   # compare the pipelines

DIR (--real-dir) defaults to $REAL_HANDWRITING, else ../shared/real_handwriting beside the
repository; it is only read, never copied or trained on.
"""

import statistics
from collections import Counter
from pathlib import Path

from models import load_checkpoint
from recognition import classify, cli, letters, training, transfer
from recognition.errors import DataError
from recognition.paths import MNIST_MODEL, REAL_DIR, ROOT

LETTER_SETS = {
    "alpha/beta/gamma": ["alpha", "beta", "gamma"],
    "alpha..epsilon": ["alpha", "beta", "gamma", "delta", "epsilon"],
}
SEEDS = 5
TOP_CONFUSIONS = 5


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
        help=f"Task 1's model (default: {MNIST_MODEL.relative_to(ROOT).as_posix()})",
    )
    p.add_argument(
        "--train-dir",
        type=cli.folder,
        default=letters.TRAIN_DIR,
        help="the letters the head learns from "
        f"(default: {letters.TRAIN_DIR.relative_to(ROOT).as_posix()}/)",
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


def subset(data, all_classes, classes, device):
    """`data` = (x, y) over `all_classes`, kept to `classes`: (x, y) with y indexing `classes`."""
    x, y = data
    keep = [all_classes.index(c) for c in classes]
    mask = sum(y == k for k in keep).bool()
    renumber = {k: i for i, k in enumerate(keep)}
    return x[mask].to(device), y[mask].apply_(renumber.get).to(device)


def measure_set(model_path, classes, train, real, seeds, device):
    """Train the head once per seed; accuracy on the real letters per seed and per letter.

    Returns (accuracies, per-letter accuracies, Counter of (truth, read as), real letters).
    """
    accuracies, per_letter, confusions = [], {c: [] for c in classes}, Counter()
    truth = real[1].cpu().tolist()
    for seed in seeds:
        model, _ = transfer.train_head(
            model_path, len(classes), train, real, seed, device, eval_epochs=[], eval_train=False
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


def measure_digits(model_path, digits_dir, device):
    """Task 1's model on `digits_dir` through the photo pipeline: (correct, labelled, wrong)."""
    model, _ = load_checkpoint(model_path, num_classes=10)
    model = training.prepare(model, device)
    results, _, _ = classify.classify_folder(
        model, digits_dir, classify.photo_input, classify.DIGITS
    )
    known = [r for r in results if r["label"] is not None]
    wrong = [
        f"{r['file']} read as {r['prediction']}" for r in known if r["label"] != r["prediction"]
    ]
    return sum(r["label"] == r["prediction"] for r in known), len(known), wrong


def measure_pipeline(pipeline, model_path, train_dir, real_greek, seeds, device):
    """Print every letter set's lines for the head trained through `pipeline`."""
    print(
        f"== {pipeline} pipeline, head trained on {train_dir}, {transfer.EPOCHS} epochs, "
        f"seeds {seeds}"
    )
    sets = letter_sets(train_dir, real_greek)
    every = sorted({c for classes in sets.values() for c in classes})
    # Each image is read once per pipeline; the letter sets are subsets of these tensors.
    train = letters.load_letter_folder(train_dir, every, pipeline)[:2]
    real = letters.load_letter_folder(real_greek, every, pipeline)[:2]
    for name, classes in sets.items():
        measured = measure_set(
            model_path,
            classes,
            subset(train, every, classes, device),
            subset(real, every, classes, device),
            seeds,
            device,
        )
        report_set(name, *measured, seeds)


def main(argv=None):
    args = parse_args(argv)
    device = cli.device(args.device)
    # A missing or wrong model, or no real digits, fails before any work.
    load_checkpoint(args.model, num_classes=10)
    digits_dir = args.real_dir / "digits"
    if not digits_dir.is_dir():
        raise DataError(f"no folder {digits_dir}: the real set should hold digits/ and greek/")
    seeds = list(range(args.seed, args.seed + args.seeds))
    for pipeline in args.pipeline:
        measure_pipeline(
            pipeline, args.model, args.train_dir, args.real_dir / "greek", seeds, device
        )
    correct, n, wrong = measure_digits(args.model, digits_dir, device)
    print(
        f"digits (Task 1 model, photo pipeline): {correct}/{n}"
        + (f"; wrong: {', '.join(wrong)}" if wrong else "")
    )


if __name__ == "__main__":
    cli.run(main)
