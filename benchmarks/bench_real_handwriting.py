"""Benchmark: how well the project reads real people's handwriting, which it never trains on.

From a given Task 1 model, trains Task 3's Greek head (recognition/transfer.py, Task 3's own
recipe and epochs) on the project's stand-in letters (data/greek_hands_train by default) for
each letter set, with seeds --seed .. --seed+K-1, and measures it on every real letter set under
DIR: greek/ (three writers) and greek_forms/ (42 writers of scanned forms).  For each: accuracy
as mean +- sd over the seeds, per letter, the most common confusions, and the worst tenth of
writers (a writer is a file name's first part: `w07.bmp`, `w1_alpha.png`).  Letter sets:
alpha/beta/gamma, alpha..epsilon, those and lambda, pi, and every letter present in both the real
set and the training folder.  Also Task 1's model on DIR/digits through Task 1's photo pipeline.
Prints its lines and the time it took; writes no files.

    python benchmarks/bench_real_handwriting.py --model outputs/task1/model.pth
    python benchmarks/bench_real_handwriting.py --pipeline course photo   # compare the pipelines

DIR (--real-dir) defaults to $REAL_HANDWRITING, else ../shared/real_handwriting beside the
repository; it is only read, never copied or trained on.
"""

import statistics
import time
from collections import Counter
from pathlib import Path

from models import load_checkpoint
from recognition import classify, cli, letters, training, transfer
from recognition.errors import DataError
from recognition.paths import MNIST_MODEL, REAL_DIR, ROOT

LETTER_SETS = {
    "alpha/beta/gamma": ["alpha", "beta", "gamma"],
    "alpha..epsilon": ["alpha", "beta", "gamma", "delta", "epsilon"],
    "alpha..epsilon, lambda, pi": ["alpha", "beta", "gamma", "delta", "epsilon", "lambda", "pi"],
}
REAL_SETS = ("greek", "greek_forms")  # the folders of real letters under --real-dir, if present
WORST_SHARE = 0.1  # the worst tenth of writers
SEEDS = 5
TOP_CONFUSIONS = 5


def parse_args(argv=None):
    p = cli.parser(__doc__, None)
    p.add_argument(
        "--real-dir",
        type=cli.folder,
        default=REAL_DIR,
        help="real handwriting: digits/, and greek/<letter>/ and greek_forms/<letter>/ where "
        "present (default: $REAL_HANDWRITING or ../shared/real_handwriting)",
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
        "--head",
        choices=list(transfer.HEADS),
        default=transfer.HEAD,
        help=f"which layers learn, as Task 3's --head (default: {transfer.HEAD})",
    )
    p.add_argument(
        "--seeds",
        type=cli.positive_int,
        default=SEEDS,
        help=f"seeds per letter set (default: {SEEDS})",
    )
    return p.parse_args(argv)


def letter_sets(train_dir, real_greek):
    """The letter sets to measure: the fixed ones both folders hold, and all letters in both."""
    present = sorted(
        set(letters.letter_classes(train_dir)) & set(letters.letter_classes(real_greek))
    )
    fixed = {name: c for name, c in LETTER_SETS.items() if set(c) <= set(present)}
    return {**fixed, f"all {len(present)} present": present}


def writer_of(path):
    """The writer of a real letter file: its name's first part (`w07.bmp`, `w1_alpha_2.png`)."""
    return Path(path).stem.split("_")[0]


def worst_share(correct, writers, share=WORST_SHARE):
    """Accuracy over the worst `share` of writers (at least one), each writer's letters pooled."""
    per_writer = {}
    for ok, w in zip(correct, writers):
        per_writer.setdefault(w, []).append(ok)
    ranked = sorted(per_writer.values(), key=lambda v: sum(v) / len(v))
    worst = ranked[: max(1, round(share * len(ranked)))]
    return sum(map(sum, worst)) / sum(map(len, worst)), len(worst), len(ranked)


def rows_of(y, all_classes, classes):
    """The mask of the rows of labels `y` (indexing `all_classes`) that are of `classes`."""
    return sum(y == all_classes.index(c) for c in classes).bool()


def subset(data, all_classes, classes, device):
    """`data` = (x, y) over `all_classes`, kept to `classes`: (x, y) with y indexing `classes`."""
    x, y = data
    mask = rows_of(y, all_classes, classes)
    renumber = {all_classes.index(c): i for i, c in enumerate(classes)}
    return x[mask].to(device), y[mask].apply_(renumber.get).to(device)


def measure_set(
    model_path, classes, train, real, writers, seeds, device, head=transfer.HEAD, trained=None
):
    """Train the head once per seed; accuracy on the real letters per seed, per letter and over
    the worst tenth of `writers` (one per real letter).

    `trained` keeps the heads by (classes, seed), so that a letter set that two real sets hold
    is trained once for both (the same training letters and seed give the same head).
    Returns (accuracies, worst-tenth accuracies, per-letter accuracies, Counter of (truth,
    read as), real letters, (writers in the worst tenth, writers)).
    """
    trained = {} if trained is None else trained
    accuracies, worst, per_letter, confusions = [], [], {c: [] for c in classes}, Counter()
    truth = real[1].cpu().tolist()
    for seed in seeds:
        key = (tuple(classes), seed)
        if key not in trained:
            trained[key], _ = transfer.train_head(
                model_path,
                len(classes),
                train,
                train,  # nothing is evaluated while it trains (eval_epochs=[])
                seed,
                device,
                head=head,
                eval_epochs=[],
                eval_train=False,
            )
        pred = training.predict(trained[key], real[0]).argmax(1).cpu().tolist()
        correct = [p == t for p, t in zip(pred, truth)]
        accuracies.append(sum(correct) / len(truth))
        share, n_worst, n_writers = worst_share(correct, writers)
        worst.append(share)
        for k, c in enumerate(classes):
            mine = [p for p, t in zip(pred, truth) if t == k]
            per_letter[c].append(sum(p == k for p in mine) / len(mine))
        confusions.update((classes[t], classes[p]) for p, t in zip(pred, truth) if p != t)
    return accuracies, worst, per_letter, confusions, len(truth), (n_worst, n_writers)


def mean_sd(values):
    """'m % +- s' of fractions, in percent."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} % +- {100 * sd:.1f}"


def report_set(name, accuracies, worst, per_letter, confusions, n, writers, seeds):
    """Print one letter set's lines."""
    print(
        f"{name}: {mean_sd(accuracies)} on {n} real letters "
        f"({len(seeds)} seeds: {', '.join(f'{100 * a:.1f}' for a in accuracies)})"
    )
    print(f"  worst {writers[0]} of {writers[1]} writers: {mean_sd(worst)}")
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


def measure_pipeline(pipeline, model_path, train_dir, real_greek, seeds, device, head, trained):
    """Print every letter set's lines for the head trained through `pipeline`, tested on the real
    letters in `real_greek`; `trained` keeps the heads for the next real set (measure_set)."""
    print(
        f"== {real_greek.name}: {pipeline} pipeline, {head} head trained on {train_dir}, "
        f"{transfer.EPOCHS} epochs, seeds {seeds}"
    )
    sets = letter_sets(train_dir, real_greek)
    every = sorted({c for classes in sets.values() for c in classes})
    # Each image is read once per pipeline; the letter sets are subsets of these tensors.
    train = letters.load_letter_folder(train_dir, every, pipeline)[:2]
    *real, paths = letters.load_letter_folder(real_greek, every, pipeline)
    for name, classes in sets.items():
        mask = rows_of(real[1], every, classes).tolist()
        writers = [writer_of(p) for p, kept in zip(paths, mask) if kept]
        measured = measure_set(
            model_path,
            classes,
            subset(train, every, classes, device),
            subset(real, every, classes, device),
            writers,
            seeds,
            device,
            head,
            trained,
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
    real_sets = [args.real_dir / name for name in REAL_SETS if (args.real_dir / name).is_dir()]
    seeds = list(range(args.seed, args.seed + args.seeds))
    started = time.perf_counter()
    trained = {pipeline: {} for pipeline in args.pipeline}  # each pipeline's heads
    for real_greek in real_sets:
        for pipeline in args.pipeline:
            measure_pipeline(
                pipeline,
                args.model,
                args.train_dir,
                real_greek,
                seeds,
                device,
                args.head,
                trained[pipeline],
            )
    correct, n, wrong = measure_digits(args.model, digits_dir, device)
    print(
        f"digits (Task 1 model, photo pipeline): {correct}/{n}"
        + (f"; wrong: {', '.join(wrong)}" if wrong else "")
    )
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    cli.run(main)
