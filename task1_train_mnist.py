"""Task 1: build and train the report's network on MNIST, save it, reload it and use it.

Writes the report's Figs 1-8 (fig01_first_digits.png ... fig08_handwritten_digits.png; Figs 3 and 6
as text), metrics.json and model.pth to --out-dir (default outputs/task1/; the transformer's
outputs/task1_transformer/, the template's outputs/task1_template/), and, beyond the report,
extra_embedding_map.png (the fc1 features of the first --map-points test digits in 2-D) and, for the
transformer, extra_attention.png (the attention rollout of ten test digits); with --sheet,
fig08_handwritten_sheet.png (part G on one photo of a whole sheet of digits).

    python task1_train_mnist.py                                         # the report's protocol
    python task1_train_mnist.py --recipe adamw-onecycle --dropout 0.1   # same Net, better recipe
    python task1_train_mnist.py --no-train                              # reload the model: E-G only
    python task1_train_mnist.py --arch transformer                      # the course's transformer
    python task1_train_mnist.py --template                              # the template, exactly
    python task1_train_mnist.py --no-train --sheet page.jpg --labels 0 1 2 3 4 5 6 7 8 9

Expect test accuracy 9819/10000 (98.19 %), loss 0.0569, with the default seed (the report: 97.99 %)
in about 30 s on a 2-core laptop CPU; the better recipe 99.30 %; the transformer 99.39 % in about
7 minutes (the template: hours on a CPU).  Training saves itself to train_state.pt in --out-dir as
it goes: after Ctrl-C, the same command carries the run on.
"""

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models import (
    Net,
    NetTransformer,
    architecture,
    layer_table,
    load_checkpoint,
    parameter_count,
    save_checkpoint,
)
from recognition import (
    analysis,
    attention,
    classify,
    cli,
    datasets,
    files,
    images,
    plots,
    recipes,
    resumable,
    training,
)
from recognition.errors import DataError, UsageError
from recognition.paths import DATA_DIR, MODEL_NAME, TRAIN_STATE_NAME, model_file, out_dir

DIGITS_DIR = DATA_DIR / "handwritten_digits"
CLASS_NAMES = classify.DIGITS
BATCH_LINE_EVERY_S = 120  # a line on the epoch in hand this often: only the template's epochs last
MAP_POINTS = 1000  # t-SNE of 1000 points: about 1.2 s on 2 cores (recognition/analysis.py)


@dataclass(frozen=True)
class Shape:
    """The transformer's shape: models.NetTransformer's arguments beside hidden and dropout.  Each
    field's `help` is its flag's."""

    patch: int = field(metadata={"help": "patch side in pixels"})
    stride: int = field(
        metadata={"help": "pixels between patches; patches overlap when below --patch"}
    )
    d_model: int = field(metadata={"help": "token width"})
    heads: int = field(metadata={"help": "attention heads"})
    layers: int = field(metadata={"help": "encoder layers"})
    ff: int = field(metadata={"help": "feed-forward width of each layer"})
    pool: str = field(
        default="mean",
        metadata={
            "help": "one token from the encoder's output: the mean of all tokens or a CLS token"
        },
    )


@dataclass(frozen=True)
class Network:
    """The network Task 1 trains: its architecture, fc1's units, its dropout and, for the
    transformer, its shape."""

    arch: str  # "cnn": the report's Net; "transformer": models.NetTransformer
    hidden: int
    dropout: float  # Net's Dropout2d after conv2; the transformer's positions and encoder
    shape: Shape | None = None

    def arguments(self):
        """The network's constructor arguments."""
        shape = {} if self.shape is None else dataclasses.asdict(self.shape)
        return {"hidden": self.hidden, "dropout": self.dropout, **shape}

    def build(self):
        """The network (ConfigError, one line, for settings that cannot build one)."""
        return (Net if self.arch == "cnn" else NetTransformer)(**self.arguments())


@dataclass(frozen=True)
class Mode:
    """One way to run Task 1 (--arch cnn, --arch transformer, --template): its defaults."""

    network: Network
    recipe: str  # a name in recipes.RECIPES
    epochs: int
    folder: str  # the default output folder, outputs/<folder>/


MODES = {
    "cnn": Mode(Network("cnn", hidden=50, dropout=0.5), "report", epochs=5, folder="task1"),
    # The fast setting, found by measuring (benchmarks/bench_transformer.py and the README): 16
    # tokens of 7x7 patches, and no dropout in the encoder, which lets attention use SDPA's fused
    # CPU kernel.
    "transformer": Mode(
        Network("transformer", hidden=128, dropout=0.0, shape=Shape(7, 7, 64, 4, 4, 128)),
        "transformer-fast",
        epochs=15,
        folder="task1_transformer",
    ),
    # The course template's whole transformer run, exactly.
    "template": Mode(
        Network("transformer", hidden=128, dropout=0.1, shape=Shape(4, 2, 48, 8, 4, 128)),
        "transformer-template",
        epochs=15,
        folder="task1_template",
    ),
}
SHAPE_FLAGS = [f.name for f in dataclasses.fields(Shape)]  # --patch ... --pool


@dataclass(frozen=True)
class Settings:
    """Task 1's flags as plain values, each one not given taken from the mode's defaults."""

    network: Network
    recipe: recipes.Recipe  # with --batch-size applied
    epochs: int
    train: bool  # False with --no-train: reload `model` and run parts E-G only
    model: Path  # the model file: what training writes (--save), or what --no-train reads (--model)
    out_dir: Path
    digits_dir: Path
    sheet: Path | None  # a photo of a sheet of digits for part G, besides digits_dir
    labels: tuple | None  # the sheet's digits in reading order, to score it by
    map_points: int
    data_dir: Path
    train_limit: int | None
    test_limit: int | None
    device: str
    seed: int
    show: bool


def build_parser():
    cnn, fast, template = MODES["cnn"], MODES["transformer"], MODES["template"]
    p = cli.parser(
        __doc__,
        None,
        out_help=f"outputs/{cnn.folder}/; the transformer's outputs/{fast.folder}/, "
        f"the template's outputs/{template.folder}/",
    )
    p.add_argument(
        "--arch",
        choices=["cnn", "transformer"],
        default="cnn",
        help="the report's Net, or the course's transformer (models.NetTransformer) (default: cnn)",
    )
    t, r = template.network.shape, recipes.RECIPES[template.recipe]
    p.add_argument(
        "--template",
        action="store_true",
        help=f"train the course template's transformer exactly: {t.patch}x{t.patch} patches at "
        f"stride {t.stride}, d_model {t.d_model}, {t.heads} heads, AdamW lr {r.lr:g}, batch "
        f"{r.batch_size}, {template.epochs} epochs (default: off)",
    )
    p.add_argument(
        "--recipe",
        choices=recipes.WHOLE_NETWORK,
        default=None,
        help="; ".join(recipes.describe(r) for r in recipes.WHOLE_NETWORK)
        + f" (default: {cnn.recipe}; the transformer's {fast.recipe})",
    )
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        default=None,
        help=f"training epochs (default: {cnn.epochs}; the transformer's {fast.epochs})",
    )
    p.add_argument(
        "--batch-size",
        type=cli.positive_int,
        default=None,
        help="training batch size (default: the recipe's)",
    )
    p.add_argument(
        "--hidden",
        type=cli.positive_int,
        default=None,
        help=f"units of the hidden layer fc1 (default: {cnn.network.hidden}; the transformer's "
        f"{fast.network.hidden})",
    )
    p.add_argument(
        "--dropout",
        type=cli.dropout_rate,
        default=None,
        help=f"dropout rate: of the Dropout2d after conv2 (default: {cnn.network.dropout}); of "
        f"the transformer's positions and encoder (default: {fast.network.dropout})",
    )
    add_shape_flags(p, fast.network.shape, template.network.shape)
    p.add_argument(
        "--save",
        type=Path,
        default=None,
        help=f"where to write the trained model (default: {MODEL_NAME} in --out-dir)",
    )
    p.add_argument(
        "--no-train",
        action="store_true",
        help="skip training: reload --model and run parts E-G only (default: off)",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"the model --no-train reads (default: outputs/{cnn.folder}/{MODEL_NAME}; with "
        f"--arch transformer outputs/{fast.folder}/{MODEL_NAME}, with --template "
        f"outputs/{template.folder}/{MODEL_NAME})",
    )
    p.add_argument(
        "--digits-dir",
        type=cli.folder,
        default=DIGITS_DIR,
        help="photos of handwritten digits for part G (default: data/handwritten_digits/)",
    )
    p.add_argument(
        "--sheet",
        type=Path,
        default=None,
        metavar="PHOTO",
        help="also part G on one photo of a whole sheet of digits, turned any way: "
        "fig08_handwritten_sheet.png (default: none)",
    )
    p.add_argument(
        "--labels",
        nargs="+",
        choices=CLASS_NAMES,
        default=None,
        metavar="DIGIT",
        help="the --sheet's digits in reading order (rows top to bottom, each left to right), "
        "to score it by (default: none)",
    )
    p.add_argument(
        "--map-points",
        type=cli.non_negative_int,
        default=MAP_POINTS,
        help="map the fc1 features of the first N test digits with PCA and t-SNE (perplexity "
        f"{analysis.PERPLEXITY:g}); 0: no map (default: {MAP_POINTS}; t-SNE time grows "
        "~N log N)",
    )
    cli.add_limits(p)
    return p


def add_shape_flags(p, fast, template):
    """The transformer's shape flags, --patch to --pool; each defaults to the `fast` shape
    (`template`'s with --template)."""
    g = p.add_argument_group("transformer shape (with --arch transformer)")
    for f in dataclasses.fields(Shape):
        kind = {"choices": ["mean", "cls"]} if f.name == "pool" else {"type": cli.positive_int}
        g.add_argument(
            f"--{f.name.replace('_', '-')}",
            default=None,
            help=f"{f.metadata['help']} (default: {getattr(fast, f.name)}; template "
            f"{getattr(template, f.name)})",
            **kind,
        )


def parse_args(argv=None):
    """The flags as Settings: each one not given takes the default of the mode chosen."""
    a = build_parser().parse_args(argv)
    mode = MODES["template" if a.template else a.arch]
    given = {k: v for k, v in vars(a).items() if v is not None}  # a flag not given is None
    network = dataclasses.replace(
        mode.network, **{k: given[k] for k in ("hidden", "dropout") if k in given}
    )
    if network.shape is not None:  # the transformer's; Net has none
        shape = {k: given[k] for k in SHAPE_FLAGS if k in given}
        network = dataclasses.replace(network, shape=dataclasses.replace(network.shape, **shape))
    recipe = recipes.RECIPES[given.get("recipe", mode.recipe)]
    if a.batch_size:
        recipe = dataclasses.replace(recipe, batch_size=a.batch_size)
    if a.labels and not a.sheet:
        raise UsageError("--labels names the digits of a --sheet PHOTO: pass one")
    if a.sheet is not None and not a.sheet.is_file():
        raise DataError(f"no image file {a.sheet}: --sheet takes a photo of a sheet of digits")
    out = a.out_dir or out_dir(mode.folder)
    if a.no_train:
        model = a.model or model_file(mode.folder)  # the default run's model
    else:
        model = a.save or out / MODEL_NAME
    return Settings(
        network=network,
        recipe=recipe,
        epochs=a.epochs or mode.epochs,
        train=not a.no_train,
        model=model,
        out_dir=out,
        digits_dir=a.digits_dir,
        sheet=a.sheet,
        labels=tuple(a.labels) if a.labels else None,
        map_points=a.map_points,
        data_dir=a.data_dir,
        train_limit=a.train_limit,
        test_limit=a.test_limit,
        device=a.device,
        seed=a.seed,
        show=a.show,
    )


def show_network(model, out, show):
    """Part B: the network printed (Fig 3) and drawn (Fig 2)."""
    print(model)
    files.write_text(str(model) + "\n", out / "fig03_network.txt")
    plots.network_diagram(
        layer_table(model),
        out / "fig02_network_diagram.png",
        title="Fig 2: the network, with the size of each layer's output",
        show=show,
    )


def progress_line(n_test):
    """A function printing one line per evaluated epoch of training."""

    def progress(r):
        print(
            f"epoch {r['epoch']}: train loss {r['train_eval_loss']:.4f} "
            f"acc {100 * r['train_accuracy']:.2f}%  test loss {r['test_loss']:.4f} "
            f"acc {r['test_correct']}/{n_test} ({100 * r['test_accuracy']:.2f}%)  "
            f"{r['train_seconds']:.1f}s",
            flush=True,
        )

    return progress


def batch_line(n_batches, every_s=BATCH_LINE_EVERY_S):
    """A function printing, at most every `every_s` seconds, how far the epoch in hand has got."""
    last_line = time.monotonic()

    def report(epoch, p):
        nonlocal last_line
        if p.step == 1:  # an epoch's first line comes every_s into it, not after the evaluation
            last_line = time.monotonic()
        elif time.monotonic() - last_line >= every_s and p.step < n_batches:
            last_line = time.monotonic()
            left = p.seconds / p.step * (n_batches - p.step)  # p.step > 0: a batch is done
            when = f"about {left / 60:.0f} min" if left >= 90 else "a minute or so"
            print(
                f"  epoch {epoch}: batch {p.step}/{n_batches}, mean loss "
                f"{p.loss_sum / p.count:.4f}, {when} to the end of the epoch",
                flush=True,
            )

    return report


def train(model, s, generator, device, test):
    """Parts B-D: train `model` as the Settings `s` say, with train and test evaluation every
    epoch (Fig 5), and save it to `s.model`; `generator` shuffles and augments the batches.
    Returns the history and the run's state file, which main removes once metrics.json holds the
    history."""
    model = training.prepare(model, device)
    print(f"{type(model).__name__}: {parameter_count(model):,} parameters")
    show_network(model, s.out_dir, s.show)
    _, x, y = datasets.load_normalized("MNIST", True, s.data_dir, s.train_limit, device)
    # Whatever decides what training computes: a saved run of other settings is not carried on.
    settings = {
        "arch": architecture(model),
        "model_args": model.config(),
        "recipe": dataclasses.asdict(s.recipe),
        "epochs": s.epochs,
        "seed": s.seed,
        "train_images": len(y),
        "test_images": len(test[1]),
    }
    state = resumable.StateFile(s.out_dir / TRAIN_STATE_NAME, settings)
    history = resumable.fit(
        model,
        (x, y),
        test,
        s.recipe,
        s.epochs,
        generator,
        state,
        on_epoch=progress_line(len(test[1])),
        on_step=batch_line(training.batches_per_epoch(len(y), s.recipe)),
    )
    plots.loss_curves(
        history,
        s.out_dir / "fig05_loss_curves.png",
        title=f"Fig 5: MNIST, {type(model).__name__}, recipe '{s.recipe.name}'",
        show=s.show,
    )
    save_checkpoint(
        model,
        s.model,
        class_names=CLASS_NAMES,
        recipe=s.recipe.name,
        epochs=s.epochs,
        train_seconds=training.train_seconds(history),
    )
    print(f"saved {s.model}")
    return history, state


def training_metrics(history, epochs):
    return {
        "history": history,
        "recipe": history["recipe"],
        "epochs": epochs,
        "train_seconds": training.train_seconds(history),
        "sittings": history.get("sittings", 1),
    }


def earlier_training(metrics_file, model_file):
    """What `metrics_file` says of the training of `model_file`, if it says anything: --no-train
    keeps it, so that the hours a model took are not forgotten when its figures are drawn again."""
    try:
        earlier = json.loads(Path(metrics_file).read_text())
        same_model = Path(earlier["model"]).resolve() == Path(model_file).resolve()
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or not one a run wrote
        return {}
    keys = ("history", "recipe", "epochs", "train_seconds", "sittings")
    return {k: earlier[k] for k in keys if k in earlier} if same_model else {}


def first_ten_table(model, x, y):
    """Part E: the network's 10 outputs (2 decimals), its prediction and the label, for each of
    10 digits."""
    out = training.predict(model, x[:10])
    lines = ["digit  " + " ".join(f"{c:>6}" for c in range(10)) + "   pred label"]
    for i, (row, label) in enumerate(zip(out, y[:10])):
        values = " ".join(f"{v:6.2f}" for v in row.tolist())
        lines.append(f"{i:>5}  {values}   {int(row.argmax()):>4} {int(label):>5}")
    correct = int((out.argmax(1) == y[:10]).sum())
    return "\n".join(lines), correct


def use_reloaded(model, test_u8, test, out, show):
    """Parts E-F: the reloaded network on the first ten test digits (Fig 6), nine predictions
    (Fig 7), the test set."""
    x_test, y_test = test
    table, correct10 = first_ten_table(model, x_test, y_test)
    print(table)
    files.write_text(table + "\n", out / "fig06_first_ten_outputs.txt")
    preds = training.predict(model, x_test[:9]).argmax(1).tolist()
    plots.image_grid(
        test_u8[:9],
        [f"Prediction: {p}" for p in preds],
        out / "fig07_predictions.png",
        rows=3,
        cols=3,
        suptitle="Fig 7: predictions of the reloaded model",
        show=show,
    )
    final = training.evaluate(model, x_test, y_test)
    print(
        f"reloaded model: test accuracy {final['correct']}/{final['n']} "
        f"({100 * final['accuracy']:.2f}%), loss {final['loss']:.4f}; "
        f"first ten digits {correct10}/10 correct"
    )
    return final, correct10


def classify_photos(model, folder, out, show):
    """Part G: photos as taken (Fig 4) and as the network sees them, with its predictions
    (Fig 8)."""
    results, x, accuracy = classify.classify_folder(
        model, folder, classify.photo_input, CLASS_NAMES
    )
    names = [r["file"] for r in results]
    photos = [np.asarray(images.read_rgb(folder / name)) for name in names]
    plots.image_grid(
        photos,
        names,
        out / "fig04_handwritten_photos.png",
        cols=min(5, len(photos)),
        suptitle="Fig 4: photos of handwritten digits, as taken",
        show=show,
    )
    titles, colors = classify.titles_and_colors(results)
    known = [r for r in results if r["label"] is not None]
    head = "Fig 8: handwritten digits"
    if known:
        head += f", {sum(r['label'] == r['prediction'] for r in known)}/{len(known)} correct"
    plots.image_grid(
        datasets.denormalize(x),
        titles,
        out / "fig08_handwritten_digits.png",
        cols=min(5, len(results)),
        suptitle=head,
        show=show,
        title_colors=colors,
    )
    for r in results:
        print(
            f"{r['file']}: predicted {r['prediction']}"
            + (f" (label {r['label']})" if r["label"] else "")
        )
    if accuracy is not None:
        print(f"handwritten digits: {100 * accuracy:.0f}% correct")
    return results, accuracy


def classify_sheet(model, photo, labels, out, show):
    """Part G on one photo of a sheet: every digit found, read and, with `labels`, scored
    (fig08_handwritten_sheet.png).  Returns what metrics.json keeps of it."""
    found, results, x, accuracy = classify.classify_sheet(
        model, photo, classify.photo_input, CLASS_NAMES, labels
    )
    head = f"Fig 8: a sheet of handwritten digits, read turned {found.rotation}°"
    known = [r for r in results if r["label"] is not None]
    if known:
        head += f", {sum(r['label'] == r['prediction'] for r in known)}/{len(known)} correct"
    classify.sheet_figure(
        photo, found, results, x, out / "fig08_handwritten_sheet.png", head, show=show
    )
    print(classify.sheet_line(results, accuracy, photo))
    rows = [[results[i] for i in row] for row in found.rows()]
    return {"photo": str(photo), "rotation": found.rotation, "rows": rows, "accuracy": accuracy}


def embedding_map(model, x, y, n, out, show):
    """Beyond the report: the fc1 features of the first n test digits in 2-D (PCA, t-SNE), errors
    ringed."""
    features, log_p = analysis.fc1_features(model, x[:n])
    labels = y[:n].cpu().numpy()
    wrong = log_p.argmax(1).numpy() != labels
    maps, info = analysis.maps_2d(features)
    plots.embedding_map(
        maps,
        labels,
        CLASS_NAMES,
        out / "extra_embedding_map.png",
        marked=wrong,
        show=show,
        title=f"fc1's {features.shape[1]} features of the first {n} MNIST test digits in 2-D "
        f"(t-SNE perplexity {info['perplexity']:.3g}, random state {info['random_state']})",
    )
    print(
        f"embedding map of {n} test digits ({int(wrong.sum())} misclassified): t-SNE "
        f"{info['seconds']['t-SNE']:.1f}s ({info['cpu_seconds']['t-SNE']:.1f}s CPU)"
    )
    return {"points": n, "misclassified": int(wrong.sum()), **info}


def attention_figure(model, x, y, test_u8, out, show):
    """Beyond the course: the attention rollout of the first test digit of each class
    (extra_attention.png)."""
    labels = y.cpu().numpy()
    idx = [int(np.flatnonzero(labels == c)[0]) for c in range(10) if (labels == c).any()]
    log_p, maps = attention.rollout(model, x[idx])
    pred = log_p.argmax(1).tolist()
    titles = [f"{p} (label {labels[i]})" for p, i in zip(pred, idx)]
    colors = ["black" if p == labels[i] else "red" for p, i in zip(pred, idx)]
    plots.image_grid(
        [test_u8[i].numpy() for i in idx],
        titles,
        out / "extra_attention.png",
        cols=5,
        overlays=maps,
        suptitle="What the transformer attends to: attention rollout over its "
        f"{model.side}x{model.side} grid of patches",
        title_colors=colors,
        show=show,
    )
    return {"digits": idx, "predictions": pred}


def main(argv=None):
    t_start = time.perf_counter()
    s = parse_args(argv)
    device = cli.device(s.device)
    out = s.out_dir
    if s.train:
        generator = training.set_seed(s.seed)  # the initial weights, the batches, dropout
        untrained = s.network.build()  # settings that cannot build a network fail now, in one line
    else:
        load_checkpoint(s.model, num_classes=10)  # fail now, before any work, if it is unusable
    # A. the data and the first six test digits
    test_u8, x_test, y_test = datasets.load_normalized(
        "MNIST", False, s.data_dir, s.test_limit, device
    )
    plots.image_grid(
        test_u8[:6],
        [f"Ground truth: {int(t)}" for t in y_test[:6]],
        out / "fig01_first_digits.png",
        rows=2,
        cols=3,
        suptitle="Fig 1: the first six MNIST test digits",
        show=s.show,
    )
    metrics = {"task": "task1", "seed": s.seed, "device": str(device), "model": str(s.model)}
    if s.train:
        history, state = train(untrained, s, generator, device, (x_test, y_test))
        metrics.update(training_metrics(history, s.epochs))
    else:
        metrics.update(earlier_training(out / "metrics.json", s.model))
    # E-F. reload into a fresh network in eval mode
    model, ckpt = load_checkpoint(s.model, num_classes=10)
    model = training.prepare(model, device)
    metrics.update(
        arch=ckpt["arch"], model_args=ckpt["model_args"], parameters=parameter_count(model)
    )
    final, correct10 = use_reloaded(model, test_u8, (x_test, y_test), out, s.show)
    results, hw_accuracy = classify_photos(model, s.digits_dir, out, s.show)  # G
    if s.sheet is not None:
        metrics["sheet"] = classify_sheet(model, s.sheet, s.labels, out, s.show)
    n_map = min(s.map_points, len(y_test))
    if n_map >= 4:  # fewer points make no map
        metrics["embedding_map"] = embedding_map(model, x_test, y_test, n_map, out, s.show)
    if architecture(model) == "transformer":
        metrics["attention"] = attention_figure(model, x_test, y_test, test_u8, out, s.show)
    metrics.update(
        test_accuracy=final["accuracy"],
        test_loss=final["loss"],
        test_correct=final["correct"],
        test_n=final["n"],
        first_ten_correct=correct10,
        handwritten=results,
        handwritten_accuracy=hw_accuracy,
        wall_time_s=time.perf_counter() - t_start,
    )
    files.write_json(metrics, out / "metrics.json")
    if s.train:
        state.remove()  # only now that the model and its history are saved
    print(f"figures and metrics.json in {out}  ({metrics['wall_time_s']:.1f}s)")


if __name__ == "__main__":
    cli.run(main)
