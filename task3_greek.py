"""Task 3 and Extensions 1-2: Greek letters by transfer learning from Task 1's network.

Task 3 (alpha, beta, gamma), Extension 1 (five letters), Extension 2 (epochs x batch size)
and your own letter images:

    python task3_greek.py
    python task3_greek.py --letters alpha beta gamma delta epsilon
    python task3_greek.py --sweep
    python task3_greek.py --classify my_letters/
    python task3_greek.py --classify sheet.jpg --labels alpha beta gamma

Task 1's model is only read: its layers are frozen and a new last layer learns the letters,
with conv2 and fc1 (`--head last-three`, the default) or alone (`--head last`, the report's)
(`--model outputs/task1_transformer/model.pth` transfers from the transformer instead).
By default it learns from many writers' stand-in letters of all 24 lowercase letters
(data/greek_hands_train, tested on data/greek_hands_test, other writers) through the photo
pipeline, which reads real scans, photos and screenshots; `--head last --pipeline course
--train-dir data/greek_train --test-dir data/greek_test` is the report's protocol (what
reproduce.py runs).

Writes to outputs/task3/ (K other letters: outputs/task3_greekK/): Fig 11
fig11_greek_predictions.png (Fig 16 fig16_five_letters_predictions.png for five letters),
Fig 12 fig12_training_error.png, Fig 13 fig13_network.txt, confusion_matrix.png, the Greek
model.pth, metrics.json and, beyond the report, extra_embedding_map.png (fc1's features in
2-D).  --sweep: Fig 17 fig17_sweep_loss.png, sweep_results.csv and .md in outputs/task3_sweep/;
--classify: classified_letters.png (a sheet photo: classified_sheet.png) in
outputs/task3_classify/.
Expect >= 97 % on the test writers, and 18/18 (three letters) and 29/30 (five) by the
report's protocol; 5-20 s a run on a 2-core laptop CPU.
"""

import csv
import dataclasses
import functools
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models import load_checkpoint, save_checkpoint
from recognition import (
    analysis,
    classify,
    cli,
    datasets,
    files,
    letters,
    plots,
    recipes,
    training,
)
from recognition.errors import UsageError
from recognition.paths import GREEK_MODEL, MNIST_MODEL, MODEL_NAME, ROOT, out_dir
from recognition.transfer import (
    EPOCHS,
    HEAD,
    HEAD_RECIPES,
    HEADS,
    RECIPE,
    learning_layers,
    train_head,
)

LETTERS = ("alpha", "beta", "gamma")
SWEEP_EPOCHS = (5, 10, 20, 40, 80, 160)
SWEEP_BATCH_SIZES = (1, 5, 12, 36)
GRID_PER_LETTER = 6  # test images shown per letter in Figs 11 and 16 (the misread ones first)


@dataclass(frozen=True)
class Settings:
    """Task 3's command line as plain values, each default filled in for the mode."""

    mode: str  # "train", "sweep" or "classify"
    model: Path  # the model read: Task 1's (train, sweep) or a Greek one (classify)
    save: Path  # where "train" writes the Greek model
    out_dir: Path
    letters: tuple
    train_dir: Path
    test_dir: Path
    pipeline: str | None  # None with classify: the Greek model's own
    epochs: tuple  # one value; "sweep": every epoch count to tabulate
    batch_sizes: tuple  # one value; "sweep": one run each
    lr: float
    augment: bool
    frozen_dropout: bool
    head: str  # a name in transfer.HEADS: which layers learn
    classify_dir: Path | None  # a folder of letter images, or one photo of a sheet of them
    labels: tuple | None  # the sheet's letters in reading order, to score it by
    seed: int
    device: str
    show: bool

    def recipe(self, batch_size):
        """Task 3's recipe at `batch_size`, with the learning rate and augmentation asked for."""
        head_recipe = recipes.RECIPES[HEAD_RECIPES[self.head]]
        return dataclasses.replace(
            head_recipe, batch_size=batch_size, lr=self.lr, augment=self.augment
        )


def from_root(path):
    """A default path as --help shows it: from the repository root."""
    return path.relative_to(ROOT).as_posix()


def numbers(values):
    return " ".join(map(str, values))


def make_parser():
    p = cli.parser(
        __doc__,
        None,
        out_help="outputs/task3/, task3_greekK/ for K other letters, "
        "task3_sweep/ or task3_classify/",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"the model read: Task 1's (default: {from_root(MNIST_MODEL)}); "
        f"with --classify, a Greek one (default: {from_root(GREEK_MODEL)})",
    )
    p.add_argument(
        "--save",
        type=Path,
        default=None,
        help=f"where to write the Greek model (default: {MODEL_NAME} in --out-dir)",
    )
    p.add_argument(
        "--letters",
        nargs="+",
        default=LETTERS,
        metavar="LETTER",
        help=f"letter folders to learn; classes in sorted order (default: {' '.join(LETTERS)})",
    )
    p.add_argument(
        "--train-dir",
        type=cli.folder,
        default=letters.TRAIN_DIR,
        help=f"one folder of training images per letter (default: {from_root(letters.TRAIN_DIR)}/, "
        "many writers; data/greek_train/ is the course-sized set)",
    )
    p.add_argument(
        "--test-dir",
        type=cli.folder,
        default=letters.TEST_DIR,
        help=f"the test letters, laid out the same (default: {from_root(letters.TEST_DIR)}/, "
        "other writers)",
    )
    p.add_argument(
        "--pipeline",
        choices=letters.PIPELINES,
        default=None,
        help="how an image becomes the network's input, for training and test alike: photo (ink "
        "found, strokes to MNIST's width, fit 20x20, centred by mass) or course (the course's "
        f"GreekTransform, the report's protocol) (default: {letters.PIPELINES[0]}; "
        "--classify: the Greek model's own)",
    )
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        nargs="+",
        default=None,
        help=f"training epochs (default: {EPOCHS}; --sweep: {numbers(SWEEP_EPOCHS)})",
    )
    p.add_argument(
        "--batch-size",
        type=cli.positive_int,
        nargs="+",
        default=None,
        help=f"batch size (default: {RECIPE.batch_size}; --sweep: {numbers(SWEEP_BATCH_SIZES)})",
    )
    p.add_argument(
        "--lr",
        type=cli.positive_float,
        default=RECIPE.lr,
        help=f"learning rate (default: {RECIPE.lr})",
    )
    p.add_argument(
        "--no-augment",
        action="store_true",
        help="train on the images as they are, as the report did (default: small random "
        "rotations, scalings and shifts)",
    )
    p.add_argument(
        "--frozen-dropout",
        action="store_true",
        help="keep the frozen layers' dropout active while the new layer trains, as the report's "
        "network.train() did (default: frozen layers in eval mode)",
    )
    p.add_argument(
        "--head",
        choices=list(HEADS),
        default=HEAD,
        help="which layers learn: last = only the new fc2, as the report; last-two = fc1 too; "
        "last-three = conv2 (the transformer: its norm) and fc1 too; both with label smoothing, "
        f"which reads other writers better (default: {HEAD})",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--sweep",
        action="store_true",
        help="Extension 2: train for every --epochs x --batch-size (default: off)",
    )
    mode.add_argument(
        "--classify",
        type=Path,
        default=None,
        metavar="DIR_OR_PHOTO",
        help="only predict the images under DIR, or every letter on a PHOTO of a sheet, with a "
        "Greek --model (default: off)",
    )
    p.add_argument(
        "--labels",
        nargs="+",
        default=None,
        metavar="LETTER",
        help="with --classify PHOTO: its letters in reading order (rows top to bottom, each left "
        "to right), to score it by (default: none)",
    )
    return p


def default_step(mode, letter_names):
    """The output folder's name: task3, task3_greekK for K other letters, task3_sweep, ..."""
    if mode != "train":
        return f"task3_{mode}"
    if sorted(set(letter_names)) == sorted(LETTERS):
        return "task3"
    return f"task3_greek{len(set(letter_names))}"


def parse_args(argv=None):
    """The command line as Settings; UsageError for values that do not go together."""
    args = make_parser().parse_args(argv)
    mode = "classify" if args.classify else "sweep" if args.sweep else "train"
    if args.labels and not (args.classify and args.classify.is_file()):
        raise UsageError("--labels names the letters of a --classify PHOTO: pass one")
    epochs = args.epochs or (SWEEP_EPOCHS if args.sweep else [EPOCHS])
    batch_sizes = args.batch_size or (SWEEP_BATCH_SIZES if args.sweep else [RECIPE.batch_size])
    for flag, values in (("--epochs", epochs), ("--batch-size", batch_sizes)):
        if len(values) > 1 and not args.sweep:
            raise UsageError(f"{flag} takes one value, or several with --sweep")
    out = args.out_dir or out_dir(default_step(mode, args.letters))
    model = args.model or (GREEK_MODEL if mode == "classify" else MNIST_MODEL)
    save = args.save or out / MODEL_NAME
    if mode != "classify" and save.resolve() == model.resolve():
        raise UsageError(f"--save {save} is the MNIST model itself; choose another file")
    default_pipeline = None if mode == "classify" else letters.PIPELINES[0]
    return Settings(
        mode=mode,
        model=model,
        save=save,
        out_dir=out,
        letters=tuple(args.letters),
        train_dir=args.train_dir,
        test_dir=args.test_dir,
        pipeline=args.pipeline or default_pipeline,
        epochs=tuple(epochs),
        batch_sizes=tuple(batch_sizes),
        lr=args.lr,
        augment=not args.no_augment,
        frozen_dropout=args.frozen_dropout,
        head=args.head,
        classify_dir=args.classify,
        labels=tuple(args.labels) if args.labels else None,
        seed=args.seed,
        device=args.device,
        show=args.show,
    )


def load_data(train_dir, test_dir, letter_names, pipeline, device):
    """(classes, (x_train, y_train), (x_test, y_test), test paths) on `device`.

    The classes are the sorted letter names; the test folder must hold the same letters.
    """
    classes = letters.letter_classes(train_dir, letter_names)
    letters.letter_classes(test_dir, classes)
    x_train, y_train, _ = letters.load_letter_folder(train_dir, classes, pipeline)
    x_test, y_test, test_paths = letters.load_letter_folder(test_dir, classes, pipeline)
    return (
        classes,
        (x_train.to(device), y_train.to(device)),
        (x_test.to(device), y_test.to(device)),
        test_paths,
    )


def grid_rows(y, pred, k, per_row=GRID_PER_LETTER):
    """The test images to show, as indices: a row of up to `per_row` per letter, misread first."""
    rows = []
    for c in range(k):
        mine = [i for i in range(len(y)) if y[i] == c]
        rows.append(sorted(mine, key=lambda i: pred[i] == y[i])[:per_row])
    return rows


def prediction_grid(test, y, pred, classes, final, out, show):
    """Fig 11 (Fig 16 for five letters): a row of test letters per class, titled by prediction."""
    number = 16 if len(classes) == 5 else 11
    name = "fig16_five_letters_predictions.png" if number == 16 else "fig11_greek_predictions.png"
    y, pred = y.tolist(), pred.tolist()
    rows = grid_rows(y, pred, len(classes))
    cols = max(len(r) for r in rows)
    shown = [i for r in rows for i in r + [None] * (cols - len(r))]  # None: an empty cell
    results = {
        i: {"label": classes[y[i]], "prediction": classes[pred[i]]} for i in shown if i is not None
    }
    cell = dict(zip(results, zip(*classify.titles_and_colors(list(results.values())))))
    titles, colors = zip(*(cell.get(i, ("", "black")) for i in shown))
    images = datasets.denormalize(test[0].cpu())
    blank = images[0] * 0
    plots.image_grid(
        [images[i] if i is not None else blank for i in shown],
        titles,
        out / name,
        cols=cols,
        show=show,
        title_colors=colors,
        suptitle=f"Fig {number}: test letters, {final['correct']}/{final['n']} correct",
    )


def test_report(model, test, test_paths, classes, out, show):
    """The test letters predicted: grid (Fig 11, Fig 16 for five), per class, confusion matrix."""
    final = training.evaluate(model, *test)
    pred, y = training.predict(model, test[0]).argmax(1).cpu(), test[1].cpu()
    counts = analysis.confusion(y, pred, len(classes))
    per_class = dict(zip(classes, analysis.per_class_accuracy(counts).tolist()))
    results = [
        {"label": classes[t], "prediction": classes[p]} for t, p in zip(y.tolist(), pred.tolist())
    ]
    prediction_grid(test, y, pred, classes, final, out, show)
    plots.confusion_matrix(
        counts.numpy(),
        classes,
        out / "confusion_matrix.png",
        show=show,
        title=f"Test set confusion, {100 * final['accuracy']:.1f} % correct",
    )
    wrong = [
        f"{p.name}: {r['prediction']}"
        for p, r in zip(test_paths, results)
        if r["label"] != r["prediction"]
    ]
    for c in classes:
        print(f"  {c:<8} {100 * per_class[c]:5.1f}%")
    print(
        f"test accuracy {final['correct']}/{final['n']} ({100 * final['accuracy']:.1f}%), "
        f"loss {final['loss']:.4f}" + (f"; wrong: {', '.join(wrong)}" if wrong else "")
    )
    return {
        "test_accuracy": final["accuracy"],
        "test_loss": final["loss"],
        "test_correct": final["correct"],
        "test_n": final["n"],
        "per_class_accuracy": per_class,
        "confusion": counts.tolist(),
        "misclassified": wrong,
    }


def letter_map(model, train, test, classes, out, show):
    """Beyond the report: the fc1 features of the training and test letters in 2-D (PCA, t-SNE)."""
    if len(train[1]) + len(test[1]) < 4:  # too few letters for a map
        return None
    features, log_p = analysis.fc1_features(model, torch.cat([train[0], test[0]]))
    labels = torch.cat([train[1], test[1]]).cpu().numpy()
    is_test = np.arange(len(labels)) >= len(train[1])
    wrong = is_test & (log_p.argmax(1).numpy() != labels)
    maps, info = analysis.maps_2d(features)
    plots.embedding_map(
        maps,
        labels,
        classes,
        out / "extra_embedding_map.png",
        show=show,
        groups=[("training letters", ~is_test, "o"), ("test letters", is_test, "^")],
        marked=wrong,
        marked_label="test, misclassified",
        title=f"fc1's features of the Greek letters (frozen from MNIST) in 2-D "
        f"(t-SNE perplexity {info['perplexity']:.3g}, random state {info['random_state']})",
    )
    return {
        "points": len(labels),
        "test_points": int(is_test.sum()),
        "misclassified": int(wrong.sum()),
        **info,
    }


def print_epoch(record, n_test):
    """One progress line per trained epoch."""
    if record["epoch"]:
        print(
            f"epoch {record['epoch']:>2}: train loss {record['train_eval_loss']:.4f} "
            f"acc {100 * record['train_accuracy']:5.1f}%  test loss {record['test_loss']:.4f} "
            f"acc {record['test_correct']}/{n_test}",
            flush=True,
        )


def describe_network(model, out):
    """Fig 13: the network as printed, also written to fig13_network.txt."""
    print(model)
    files.write_text(str(model) + "\n", out / "fig13_network.txt")
    trainable = ", ".join(n for n, p in model.named_parameters() if p.requires_grad)
    print(f"trainable: {trainable}; frozen: the rest")


def train_letters(s, device):
    """Task 3 / Extension 1: train the new last layer (Figs 12, 13), save it, test it (11 or 16)."""
    classes, train, test, test_paths = load_data(
        s.train_dir, s.test_dir, s.letters, s.pipeline, device
    )
    print(
        f"classes {classes}: {len(train[1])} training and {len(test[1])} test images, "
        f"{s.pipeline} pipeline"
    )
    (epochs,), (batch_size,) = s.epochs, s.batch_sizes
    recipe = s.recipe(batch_size)
    model, history = train_head(
        s.model,
        len(classes),
        train,
        test,
        s.seed,
        device,
        recipe=recipe,
        epochs=epochs,
        frozen_dropout=s.frozen_dropout,
        head=s.head,
        on_epoch=functools.partial(print_epoch, n_test=len(test[1])),
    )
    describe_network(model, s.out_dir)
    plots.error_curves(
        history,
        s.out_dir / "fig12_training_error.png",
        show=s.show,
        title=f"Fig 12: {len(classes)} Greek letters, "
        f"{', '.join(learning_layers(model, s.head))} trained (batch {batch_size})",
    )
    save_checkpoint(
        model,
        s.save,
        class_names=classes,
        task="task3",
        epochs=epochs,
        recipe=dataclasses.asdict(recipe),
        frozen_dropout=s.frozen_dropout,
        head=s.head,
        pipeline=s.pipeline,
    )
    print(f"saved {s.save}")
    return {
        "classes": classes,
        **test_report(model, test, test_paths, classes, s.out_dir, s.show),
        "embedding_map": letter_map(model, train, test, classes, s.out_dir, s.show),
        "recipe": dataclasses.asdict(recipe),
        "epochs": epochs,
        "frozen_dropout": s.frozen_dropout,
        "head": s.head,
        "pipeline": s.pipeline,
        "saved": str(s.save),
        "history": history,
    }


def sweep_rows(history, batch_size, epochs):
    """The rows of one batch size's run at the listed epoch counts."""
    best = min(history["epochs"][1:], key=lambda e: e["test_loss"])
    return [
        {
            "batch_size": batch_size,
            "epochs": e["epoch"],
            "examples_seen": e["seen"],
            "train_loss": round(e["train_eval_loss"], 4),
            "test_loss": round(e["test_loss"], 4),
            "train_accuracy": round(e["train_accuracy"], 4),
            "test_accuracy": round(e["test_accuracy"], 4),
            "lowest_test_loss_epoch": best["epoch"],
        }
        for e in history["epochs"]
        if e["epoch"] in epochs
    ], best


def write_sweep_tables(rows, out):
    """sweep_results.csv and sweep_results.md (returns the markdown lines)."""
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    files.write_text(table.getvalue(), out / "sweep_results.csv")
    lines = [
        "| batch | epochs | examples seen | train loss | test loss | train acc | test acc |",
        "|" + " --- |" * 7,
    ]
    lines += [
        f"| {r['batch_size']} | {r['epochs']} | {r['examples_seen']} | {r['train_loss']:.4f} | "
        f"{r['test_loss']:.4f} | {100 * r['train_accuracy']:.1f} % | "
        f"{100 * r['test_accuracy']:.1f} % |"
        for r in rows
    ]
    files.write_text("\n".join(lines) + "\n", out / "sweep_results.md")
    return lines


def sweep(s, device):
    """Extension 2: the new layer trained from the same start for each batch size.

    Evaluated after every epoch: with a constant learning rate, a run of E epochs is the first E
    epochs of the longest run (same seed, same shuffles), so one run per batch size gives every
    epoch count.
    """
    classes, train, test, _ = load_data(s.train_dir, s.test_dir, s.letters, s.pipeline, device)
    runs, rows = [], []
    for bs in sorted(set(s.batch_sizes)):
        _, history = train_head(
            s.model,
            len(classes),
            train,
            test,
            s.seed,
            device,
            recipe=s.recipe(bs),
            epochs=max(s.epochs),
            frozen_dropout=s.frozen_dropout,
            head=s.head,
        )
        runs.append((f"batch {bs}", history))
        new, best = sweep_rows(history, bs, s.epochs)
        rows += new
        print(
            f"batch {bs:>3}: lowest test loss {best['test_loss']:.4f} after epoch {best['epoch']} "
            f"({best['seen']} examples)"
            + ("; still falling at the end" if best["epoch"] == max(s.epochs) else "")
        )
    print("\n".join(write_sweep_tables(rows, s.out_dir)))
    plots.sweep_curves(
        runs,
        s.out_dir / "fig17_sweep_loss.png",
        show=s.show,
        title=f"Fig 17: {len(classes)} Greek letters, train (solid) and test (dashed) loss",
    )
    return {
        "classes": classes,
        "frozen_dropout": s.frozen_dropout,
        "head": s.head,
        "lr": s.lr,
        "pipeline": s.pipeline,
        "rows": rows,
    }


def classify_letters(s, device):
    """--classify: predict every image under a folder with a saved Greek model.

    The images go through the pipeline the model learned through (or --pipeline); those in
    letter folders are scored.
    """
    model, ckpt = load_checkpoint(s.model, made_by="task3_greek.py")
    classes = ckpt.get("class_names") or [str(i) for i in range(model.fc2.out_features)]
    model = training.prepare(model, device)
    pipeline = s.pipeline or letters.saved_pipeline(ckpt, s.model)
    if s.classify_dir.is_file():
        return classify_sheet(model, classes, pipeline, s)
    results, x, accuracy = classify.classify_folder(
        model, s.classify_dir, letters.input_function(pipeline), classes
    )
    for r in results:
        label = f" (label {r['label']})" if r["label"] else ""
        print(f"{r['file']}: {r['prediction']} (p={r['probability']:.2f}){label}")
    if accuracy is not None:
        known = [r for r in results if r["label"] is not None]
        correct = sum(r["label"] == r["prediction"] for r in known)
        print(f"{correct}/{len(known)} correct ({100 * accuracy:.1f}%)")
    titles, colors = classify.titles_and_colors(results)
    plots.image_grid(
        datasets.denormalize(x),
        titles,
        s.out_dir / "classified_letters.png",
        cols=min(6, len(results)),
        title_colors=colors,
        show=s.show,
        suptitle=f"Letters in {s.classify_dir.name}/ classified by {s.model.name}",
    )
    return {"classes": classes, "pipeline": pipeline, "results": results, "accuracy": accuracy}


def classify_sheet(model, classes, pipeline, s):
    """--classify PHOTO: every letter on a photo of a sheet, read (turned the way the model reads
    it best) and scored by --labels in reading order (classified_sheet.png)."""
    unknown = sorted(set(s.labels or ()) - set(classes))
    if unknown:
        raise UsageError(f"--labels {' '.join(unknown)}: the model knows {', '.join(classes)}")
    photo = s.classify_dir
    found, results, x, accuracy = classify.classify_sheet(
        model, photo, letters.input_function(pipeline), classes, s.labels
    )
    print(classify.sheet_line(results, accuracy, photo))
    classify.sheet_figure(
        photo,
        found,
        results,
        x,
        s.out_dir / "classified_sheet.png",
        f"Letters on {photo.name}, read turned {found.rotation}°, by {s.model.name}",
        show=s.show,
    )
    rows = [[results[i] for i in row] for row in found.rows()]
    return {
        "classes": classes,
        "pipeline": pipeline,
        "rotation": found.rotation,
        "rows": rows,
        "accuracy": accuracy,
    }


RUNS = {"train": train_letters, "sweep": sweep, "classify": classify_letters}


def main(argv=None):
    t_start = time.perf_counter()
    s = parse_args(argv)
    device = cli.device(s.device)
    if s.mode != "classify":
        load_checkpoint(s.model, num_classes=10)  # a missing or wrong model fails before any work
    metrics = RUNS[s.mode](s, device)
    files.write_json(
        {
            "task": "task3",
            "mode": s.mode,
            "seed": s.seed,
            "device": str(device),
            "model": str(s.model),
            **metrics,
            "wall_time_s": time.perf_counter() - t_start,
        },
        s.out_dir / "metrics.json",
    )
    print(f"figures and metrics.json in {s.out_dir}  ({time.perf_counter() - t_start:.1f}s)")


if __name__ == "__main__":
    cli.run(main)
