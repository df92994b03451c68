"""Task 3 and Extensions 1-2: Greek letters by transfer learning from Task 1's network (Figs 11-13, 16, 17).

    python task3_greek.py                                            # Task 3: alpha, beta, gamma
    python task3_greek.py --letters alpha beta gamma delta epsilon   # Extension 1: five letters
    python task3_greek.py --sweep                                    # Extension 2: epochs x batch size
    python task3_greek.py --classify my_letters/                     # predict your own letter images

Task 1's model is only read: its layers are frozen and a new last layer learns the letters
(`--model outputs/task1_transformer/model.pth` transfers from the transformer instead).
By default it learns from many writers' stand-in letters (data/greek_hands_train, tested on
data/greek_hands_test, other writers) through the photo pipeline, which reads real scans,
photos and screenshots; `--pipeline course --train-dir data/greek_train --test-dir
data/greek_test` is the report's protocol (what reproduce.py runs). Writes figures,
metrics.json, the Greek model.pth and, beyond the report, a 2-D map of fc1's features to outputs/task3/
(other letter sets: outputs/task3_greekK/).
Expect >= 97 % on the test writers and 18/18 (three letters), 29/30 (five) by the report's
protocol, 5-20 s each on a 2-core laptop CPU.
"""

import csv
import dataclasses
import io
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from models import load_checkpoint, save_checkpoint
from recognition import analysis, classify, cli, datasets, files, letters, plots, recipes, training
from recognition.errors import UsageError
from recognition.paths import DATA_DIR, GREEK_MODEL, MNIST_MODEL, MODEL_NAME, out_dir

LETTERS = ["alpha", "beta", "gamma"]
RECIPE = recipes.RECIPES["transfer"]
EPOCHS, SWEEP_EPOCHS = 20, [5, 10, 20, 40, 80, 160]
SWEEP_BATCH_SIZES = [1, 5, 12, 36]
GRID_PER_LETTER = 6  # test images shown per letter in Figs 11 and 16 (the misread ones first)


def parse_args(argv=None):
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
        help="the model read: Task 1's (default: outputs/task1/model.pth); "
        "with --classify, a Greek one (default: outputs/task3/model.pth)",
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
        default=DATA_DIR / "greek_hands_train",
        help="one folder of training images per letter (default: data/greek_hands_train/, many "
        "writers; data/greek_train/ is the course-sized set)",
    )
    p.add_argument(
        "--test-dir",
        type=cli.folder,
        default=DATA_DIR / "greek_hands_test",
        help="the test letters, laid out the same (default: data/greek_hands_test/, other writers)",
    )
    p.add_argument(
        "--pipeline",
        choices=letters.PIPELINES,
        default=None,
        help="how an image becomes the network's input, for training and test alike: photo (ink "
        "found, strokes to MNIST's width, fit 20x20, centred by mass) or course (the course's "
        "GreekTransform, the report's protocol) (default: photo; --classify: the Greek "
        "model's own)",
    )
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        nargs="+",
        default=None,
        help=f"training epochs (default: {EPOCHS}; --sweep: {' '.join(map(str, SWEEP_EPOCHS))})",
    )
    p.add_argument(
        "--batch-size",
        type=cli.positive_int,
        nargs="+",
        default=None,
        help=f"batch size (default: {RECIPE.batch_size}; --sweep: {' '.join(map(str, SWEEP_BATCH_SIZES))})",
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
        "--sweep",
        action="store_true",
        help="Extension 2: train for every --epochs x --batch-size (default: off)",
    )
    p.add_argument(
        "--classify",
        type=cli.folder,
        default=None,
        metavar="DIR",
        help="only predict the images under DIR with a Greek --model (default: off)",
    )
    return p.parse_args(argv)


def settings(args):
    """Fill in the defaults that depend on the mode: output folder, model to read, epochs, batch sizes."""
    k = len(set(args.letters))
    step = (
        "task3_sweep"
        if args.sweep
        else "task3_classify"
        if args.classify
        else "task3"
        if sorted(set(args.letters)) == LETTERS
        else f"task3_greek{k}"
    )
    args.out_dir = args.out_dir or out_dir(step)
    args.model = args.model or (GREEK_MODEL if args.classify else MNIST_MODEL)
    args.save = args.save or args.out_dir / MODEL_NAME
    args.epochs = args.epochs or (SWEEP_EPOCHS if args.sweep else [EPOCHS])
    args.batch_size = args.batch_size or (SWEEP_BATCH_SIZES if args.sweep else [RECIPE.batch_size])
    if not args.classify:
        args.pipeline = args.pipeline or letters.PIPELINES[0]
    for flag, values in (("--epochs", args.epochs), ("--batch-size", args.batch_size)):
        if len(values) > 1 and not args.sweep:
            raise UsageError(f"{flag} takes one value, or several with --sweep")
    if not args.classify and Path(args.save).resolve() == Path(args.model).resolve():
        raise UsageError(f"--save {args.save} is the MNIST model itself; choose another file")
    return args


def keep_in_eval(module):
    """Make `module.train()` leave it in eval mode, dropout off, while the rest of the net trains.

    nn.Module.train switches each child through the child's own `train`, so an instance-level
    `train` that does nothing keeps this branch in eval mode; its class and state_dict keys stay.
    """
    module.eval()
    module.train = lambda mode=True: module
    return module


def greek_net(base, num_classes, frozen_eval=False):
    """`base` (a Net or a NetTransformer) with every parameter frozen and fc2 replaced by a new, trainable
    Linear(hidden, num_classes); with `frozen_eval`, the frozen layers keep their dropout off in training."""
    for param in base.parameters():
        param.requires_grad_(False)
    if frozen_eval:
        for name, child in base.named_children():
            if name != "fc2":
                keep_in_eval(child)
    base.fc2 = nn.Linear(
        base.fc1.out_features, num_classes
    )  # (B, hidden) -> (B, K), requires_grad by default
    return base


def base_model(args, device, num_classes):
    """Task 1's network from --model, frozen, with a new last layer for `num_classes` letters."""
    model, _ = load_checkpoint(args.model, num_classes=10)
    return training.prepare(
        greek_net(model, num_classes, frozen_eval=not args.frozen_dropout), device
    )


def load_data(args, device):
    """(classes, (x_train, y_train), (x_test, y_test), test paths), the same class order in both folders."""
    classes = letters.letter_classes(args.train_dir, args.letters)
    letters.letter_classes(args.test_dir, classes)  # the test folder must hold the same letters
    x_train, y_train, _ = letters.load_letter_folder(args.train_dir, classes, args.pipeline)
    x_test, y_test, test_paths = letters.load_letter_folder(args.test_dir, classes, args.pipeline)
    return (
        classes,
        (x_train.to(device), y_train.to(device)),
        (x_test.to(device), y_test.to(device)),
        test_paths,
    )


def recipe_for(args, batch_size):
    return dataclasses.replace(
        RECIPE, batch_size=batch_size, lr=args.lr, augment=not args.no_augment
    )


def grid_rows(y, pred, k, per_row=GRID_PER_LETTER):
    """Indices of the test images to show: a row of up to `per_row` per letter, the misread ones first."""
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
    """Predictions on the test letters: grid (Fig 11, or Fig 16 for five), per class, confusion matrix."""
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
        f"test accuracy {final['correct']}/{final['n']} ({100 * final['accuracy']:.1f}%), loss {final['loss']:.4f}"
        + (f"; wrong: {', '.join(wrong)}" if wrong else "")
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


def train_head(args, device, num_classes, train, test, seed, **fit_options):
    """Task 1's frozen network with a new last layer trained on `train` (seeded by `seed`): (model, history)."""
    generator = training.set_seed(seed)
    model = base_model(args, device, num_classes)
    history = training.fit(
        model,
        train,
        test,
        recipe_for(args, args.batch_size[0]),
        args.epochs[0],
        generator,
        **fit_options,
    )
    return model, history


def train_letters(args, device):
    """Task 3 / Extension 1: train the new last layer (Figs 12, 13), save the model, test it (Fig 11 or 16)."""
    classes, train, test, test_paths = load_data(args, device)
    out = args.out_dir
    print(
        f"classes {classes}: {len(train[1])} training and {len(test[1])} test images, {args.pipeline} pipeline"
    )

    def progress(r):
        if r["epoch"]:
            print(
                f"epoch {r['epoch']:>2}: train loss {r['train_eval_loss']:.4f} acc {100 * r['train_accuracy']:5.1f}%"
                f"  test loss {r['test_loss']:.4f} acc {r['test_correct']}/{len(test[1])}",
                flush=True,
            )

    model, history = train_head(
        args, device, len(classes), train, test, args.seed, on_epoch=progress
    )
    print(model)
    files.write_text(str(model) + "\n", out / "fig13_network.txt")
    print(
        f"trainable: {', '.join(n for n, p in model.named_parameters() if p.requires_grad)}; frozen: the rest"
    )
    recipe = recipe_for(args, args.batch_size[0])
    plots.error_curves(
        history,
        out / "fig12_training_error.png",
        show=args.show,
        title=f"Fig 12: {len(classes)} Greek letters, only fc2 trained (batch {recipe.batch_size})",
    )
    save_checkpoint(
        model,
        args.save,
        class_names=classes,
        task="task3",
        epochs=args.epochs[0],
        recipe=dataclasses.asdict(recipe),
        frozen_dropout=args.frozen_dropout,
        pipeline=args.pipeline,
    )
    print(f"saved {args.save}")
    report = test_report(model, test, test_paths, classes, out, args.show)
    return {
        "classes": classes,
        **report,
        "embedding_map": letter_map(model, train, test, classes, out, args.show),
        "recipe": dataclasses.asdict(recipe),
        "epochs": args.epochs[0],
        "frozen_dropout": args.frozen_dropout,
        "pipeline": args.pipeline,
        "saved": str(args.save),
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
        f"{r['test_loss']:.4f} | {100 * r['train_accuracy']:.1f} % | {100 * r['test_accuracy']:.1f} % |"
        for r in rows
    ]
    files.write_text("\n".join(lines) + "\n", out / "sweep_results.md")
    return lines


def sweep(args, device):
    """Extension 2: the new layer trained from the same start for each batch size, evaluated after every epoch.

    With a constant learning rate, a run of E epochs is the first E epochs of the longest
    run (same seed, same shuffles), so one run per batch size gives every epoch count.
    """
    classes, train, test, _ = load_data(args, device)
    runs, rows = [], []
    for bs in sorted(set(args.batch_size)):
        generator = training.set_seed(args.seed)
        model = base_model(args, device, len(classes))
        history = training.fit(
            model, train, test, recipe_for(args, bs), max(args.epochs), generator
        )
        runs.append((f"batch {bs}", history))
        new, best = sweep_rows(history, bs, args.epochs)
        rows += new
        print(
            f"batch {bs:>3}: lowest test loss {best['test_loss']:.4f} after epoch {best['epoch']} "
            f"({best['seen']} examples)"
            + ("; still falling at the end" if best["epoch"] == max(args.epochs) else "")
        )
    print("\n".join(write_sweep_tables(rows, args.out_dir)))
    plots.sweep_curves(
        runs,
        args.out_dir / "fig17_sweep_loss.png",
        show=args.show,
        title=f"Fig 17: {len(classes)} Greek letters, train (solid) and test (dashed) loss",
    )
    return {
        "classes": classes,
        "frozen_dropout": args.frozen_dropout,
        "lr": args.lr,
        "pipeline": args.pipeline,
        "rows": rows,
    }


def classify_letters(args, device):
    """--classify: predict every image under a folder with a saved Greek model; score those in letter folders."""
    model, ckpt = load_checkpoint(args.model, made_by="task3_greek.py")
    classes = ckpt.get("class_names") or [str(i) for i in range(model.fc2.out_features)]
    model = training.prepare(model, device)
    # A Greek model reads images as it was trained to; models from before --pipeline used the course's.
    args.pipeline = args.pipeline or ckpt.get("pipeline", "course")
    results, x, accuracy = classify.classify_folder(
        model, args.classify, letters.input_function(args.pipeline), classes
    )
    for r in results:
        label = f" (label {r['label']})" if r["label"] else ""
        print(f"{r['file']}: {r['prediction']} (p={r['probability']:.2f}){label}")
    if accuracy is not None:
        known = [r for r in results if r["label"] is not None]
        print(
            f"{sum(r['label'] == r['prediction'] for r in known)}/{len(known)} correct ({100 * accuracy:.1f}%)"
        )
    titles, colors = classify.titles_and_colors(results)
    plots.image_grid(
        datasets.denormalize(x),
        titles,
        args.out_dir / "classified_letters.png",
        cols=min(6, len(results)),
        title_colors=colors,
        show=args.show,
        suptitle=f"Letters in {Path(args.classify).name}/ classified by {Path(args.model).name}",
    )
    return {"classes": classes, "pipeline": args.pipeline, "results": results, "accuracy": accuracy}


def main(argv=None):
    t_start = time.perf_counter()
    args = settings(parse_args(argv))
    device = cli.device(args.device)
    if args.classify:
        metrics = classify_letters(args, device)
    else:
        load_checkpoint(
            args.model, num_classes=10
        )  # a missing or wrong model fails now, before any work
        metrics = (sweep if args.sweep else train_letters)(args, device)
    mode = "classify" if args.classify else "sweep" if args.sweep else "train"
    files.write_json(
        {
            "task": "task3",
            "mode": mode,
            "seed": args.seed,
            "device": str(device),
            "model": str(args.model),
            **metrics,
            "wall_time_s": time.perf_counter() - t_start,
        },
        args.out_dir / "metrics.json",
    )
    print(f"figures and metrics.json in {args.out_dir}  ({time.perf_counter() - t_start:.1f}s)")


if __name__ == "__main__":
    cli.run(main)
