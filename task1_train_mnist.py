"""Task 1: build and train the report's network on MNIST, save it, reload it and use it (report Figs 1-8).

    python task1_train_mnist.py                                         # the report's protocol
    python task1_train_mnist.py --recipe adamw-onecycle --dropout 0.1   # same Net, better recipe
    python task1_train_mnist.py --no-train                              # reload the model, parts E-G only
    python task1_train_mnist.py --arch transformer                      # the course's transformer, fast
    python task1_train_mnist.py --template                              # the transformer template, exactly

Writes fig01-fig08, metrics.json and model.pth to --out-dir (default outputs/task1/; the transformer's
outputs/task1_transformer/, the template's outputs/task1_template/), and, beyond the report,
extra_embedding_map.png: the fc1 features of the first --map-points test digits in 2-D; for the
transformer also extra_attention.png, the attention rollout of ten test digits.  Training saves itself
to train_state.pt in --out-dir as it goes: after Ctrl-C, the same command carries the run on.
Expect test accuracy ~98.2 % (report: 97.99 %; the better recipe: ~99.3 %) in about 30 s on a
2-core laptop CPU; the transformer ~99.3 % in about 9 minutes (the template: hours on a CPU).
"""

import dataclasses
import json
import math
import time
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
    train_state,
    training,
)
from recognition.paths import DATA_DIR, MODEL_NAME, TRAIN_STATE_NAME, model_file, out_dir

DIGITS_DIR = DATA_DIR / "handwritten_digits"
CLASS_NAMES = classify.DIGITS
RECIPE_CHOICES = [
    "report",
    "adamw-onecycle",
    "adamw-decay",
    "transformer-fast",
    "transformer-template",
]
# Each architecture's defaults; --template sets the course template's whole transformer run.
DEFAULTS = {
    "cnn": {"recipe": "report", "epochs": 5, "hidden": 50, "dropout": 0.5},
    # The fast setting, found by measuring (benchmarks/bench_transformer.py and the README): 16 tokens of 7x7
    # patches, and no dropout in the encoder, which lets attention use SDPA's fused CPU kernel.
    "transformer": {
        "recipe": "transformer-fast",
        "epochs": 15,
        "hidden": 128,
        "dropout": 0.0,
        "patch": 7,
        "stride": 7,
        "d_model": 64,
        "heads": 4,
        "layers": 4,
        "ff": 128,
        "pool": "mean",
    },
    "template": {
        "recipe": "transformer-template",
        "epochs": 15,
        "hidden": 128,
        "dropout": 0.1,
        "patch": 4,
        "stride": 2,
        "d_model": 48,
        "heads": 8,
        "layers": 4,
        "ff": 128,
        "pool": "mean",
    },
}
TRANSFORMER_SHAPE = ["patch", "stride", "d_model", "heads", "layers", "ff", "pool"]
BATCH_LINE_EVERY_S = (
    120  # a line on the epoch in hand this often: only epochs of minutes (the template's) get any
)
MAP_POINTS = (
    2000  # t-SNE of 2000 points: ~10 CPU-seconds (measured); of all 10000 ~6 times that (N log N)
)


def parse_args(argv=None):
    p = cli.parser(
        __doc__,
        None,
        out_help="outputs/task1/; the transformer's outputs/task1_transformer/, "
        "the template's outputs/task1_template/",
    )
    cnn, fast = DEFAULTS["cnn"], DEFAULTS["transformer"]
    p.add_argument(
        "--arch",
        choices=["cnn", "transformer"],
        default="cnn",
        help="the report's Net, or the course's transformer (models.NetTransformer) (default: cnn)",
    )
    p.add_argument(
        "--template",
        action="store_true",
        help="train the course template's transformer exactly: 4x4 patches at stride 2, d_model 48, "
        "8 heads, AdamW lr 1e-3, batch 64, 15 epochs (default: off)",
    )
    p.add_argument(
        "--recipe",
        choices=RECIPE_CHOICES,
        default=None,
        help="; ".join(recipes.describe(r) for r in RECIPE_CHOICES)
        + f" (default: {cnn['recipe']}; the transformer's {fast['recipe']})",
    )
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        default=None,
        help=f"training epochs (default: {cnn['epochs']}; the transformer's {fast['epochs']})",
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
        help=f"units of the hidden layer fc1 (default: {cnn['hidden']}; the transformer's {fast['hidden']})",
    )
    p.add_argument(
        "--dropout",
        type=cli.dropout_rate,
        default=None,
        help=f"dropout rate: of the Dropout2d after conv2 (default: {cnn['dropout']}); of the "
        f"transformer's positions and encoder (default: {fast['dropout']})",
    )
    add_transformer_shape(p)
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
        help="the model --no-train reads (default: outputs/task1/model.pth; with --arch transformer "
        "outputs/task1_transformer/model.pth, with --template outputs/task1_template/model.pth)",
    )
    p.add_argument(
        "--digits-dir",
        type=cli.folder,
        default=DIGITS_DIR,
        help="photos of handwritten digits for part G (default: data/handwritten_digits/)",
    )
    p.add_argument(
        "--map-points",
        type=cli.non_negative_int,
        default=MAP_POINTS,
        help="map the fc1 features of the first N test digits with PCA and t-SNE (perplexity "
        f"{analysis.PERPLEXITY:g}); 0: no map (default: {MAP_POINTS}; t-SNE time grows ~N log N)",
    )
    cli.add_limits(p)
    return with_defaults(p.parse_args(argv))


def add_transformer_shape(p):
    """The transformer's shape flags; each defaults to the fast setting (the template's with --template)."""
    fast, template = DEFAULTS["transformer"], DEFAULTS["template"]
    g = p.add_argument_group("transformer shape (with --arch transformer)")
    for name, kind, what in [
        ("patch", cli.positive_int, "patch side in pixels"),
        ("stride", cli.positive_int, "pixels between patches; patches overlap when below --patch"),
        ("d_model", cli.positive_int, "token width"),
        ("heads", cli.positive_int, "attention heads"),
        ("layers", cli.positive_int, "encoder layers"),
        ("ff", cli.positive_int, "feed-forward width of each layer"),
    ]:
        g.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            default=None,
            help=f"{what} (default: {fast[name]}; template {template[name]})",
        )
    g.add_argument(
        "--pool",
        choices=["mean", "cls"],
        default=None,
        help="one token from the encoder's output: the mean of all tokens or a CLS token (default: mean)",
    )


def with_defaults(args):
    """Fill the flags left unset with the defaults of the architecture chosen, and the default files."""
    if args.template:
        args.arch = "transformer"
    table = DEFAULTS["template" if args.template else args.arch]
    for name, value in table.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    step = (
        "task1_template"
        if args.template
        else "task1_transformer"
        if args.arch == "transformer"
        else "task1"
    )
    args.out_dir = args.out_dir or out_dir(step)
    args.save = args.save or args.out_dir / MODEL_NAME
    args.model = args.model or model_file(step)  # what --no-train reads: the default run's model
    return args


def build_model(args):
    """The network the flags describe (ConfigError, one line, for settings that cannot build one)."""
    if args.arch == "cnn":
        return Net(hidden=args.hidden, dropout=args.dropout)
    return NetTransformer(
        hidden=args.hidden, dropout=args.dropout, **{k: getattr(args, k) for k in TRANSFORMER_SHAPE}
    )


def load_mnist(args, train, device):
    """(uint8 images, normalised images on `device`, labels on `device`) of one MNIST split."""
    u8, y = datasets.load_split(
        "MNIST",
        train=train,
        data_dir=args.data_dir,
        limit=args.train_limit if train else args.test_limit,
    )
    return u8, datasets.normalize(u8, "MNIST").to(device), y.to(device)


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
    """A function printing one line per evaluated epoch of training.fit."""

    def progress(r):
        print(
            f"epoch {r['epoch']}: train loss {r['train_eval_loss']:.4f} acc {100 * r['train_accuracy']:.2f}%  "
            f"test loss {r['test_loss']:.4f} acc {r['test_correct']}/{n_test} ({100 * r['test_accuracy']:.2f}%)  "
            f"{r['train_seconds']:.1f}s",
            flush=True,
        )

    return progress


def batch_line(n_batches, every_s=BATCH_LINE_EVERY_S):
    """A function printing, at most every `every_s` seconds, how far the epoch in hand has got."""
    last_line = time.monotonic()

    def report(epoch, p):
        nonlocal last_line
        if (
            p.step == 1
        ):  # an epoch's first line comes every_s into it, not straight after the evaluation before
            last_line = time.monotonic()
        elif time.monotonic() - last_line >= every_s and p.step < n_batches:
            last_line = time.monotonic()
            left = (
                p.seconds / p.step * (n_batches - p.step)
            )  # p.step > 0: a batch has just been done
            when = f"about {left / 60:.0f} min" if left >= 90 else "a minute or so"
            print(
                f"  epoch {epoch}: batch {p.step}/{n_batches}, mean loss {p.loss_sum / p.count:.4f}, "
                f"{when} to the end of the epoch",
                flush=True,
            )

    return report


def train(args, model, generator, device, test, out):
    """Parts B-D: train `model` (built from the flags, seeded), with train and test evaluation every epoch
    (Fig 5), and save it; `generator` shuffles and augments the batches.  Returns the history and the run's
    saved state, which main removes once metrics.json holds the history."""
    recipe = recipes.RECIPES[args.recipe]
    if args.batch_size:
        recipe = dataclasses.replace(recipe, batch_size=args.batch_size)
    model = training.prepare(model, device)
    print(f"{type(model).__name__}: {parameter_count(model):,} parameters")
    show_network(model, out, args.show)
    _, x_train, y_train = load_mnist(args, True, device)
    # Whatever decides what training computes: a saved run of other settings is not carried on.
    settings = {
        "arch": architecture(model),
        "model_args": model.config(),
        "recipe": dataclasses.asdict(recipe),
        "epochs": args.epochs,
        "seed": args.seed,
        "train_images": len(y_train),
        "test_images": len(test[1]),
    }
    saver = train_state.Resumable(out / TRAIN_STATE_NAME, settings)
    history = training.fit(
        model,
        (x_train, y_train),
        test,
        recipe,
        args.epochs,
        generator,
        on_epoch=progress_line(len(test[1])),
        on_step=batch_line(math.ceil(len(y_train) / recipe.batch_size)),
        saver=saver,
    )
    plots.loss_curves(
        history,
        out / "fig05_loss_curves.png",
        title=f"Fig 5: MNIST, {type(model).__name__}, recipe '{recipe.name}'",
        show=args.show,
    )
    save_checkpoint(
        model,
        args.save,
        class_names=CLASS_NAMES,
        recipe=recipe.name,
        epochs=args.epochs,
        train_seconds=training.train_seconds(history),
    )
    print(f"saved {args.save}")
    return history, saver


def training_metrics(history, epochs):
    return {
        "history": history,
        "recipe": history["recipe"],
        "epochs": epochs,
        "train_seconds": training.train_seconds(history),
        "sittings": history.get("sittings", 1),
    }


def earlier_training(metrics_file, model_file):
    """What `metrics_file` says of the training of `model_file`, if it says anything: --no-train keeps it, so
    that the hours a model took are not forgotten when its figures are drawn again."""
    try:
        earlier = json.loads(Path(metrics_file).read_text())
        same_model = Path(earlier["model"]).resolve() == Path(model_file).resolve()
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or not one a run wrote
        return {}
    keys = ("history", "recipe", "epochs", "train_seconds", "sittings")
    return {k: earlier[k] for k in keys if k in earlier} if same_model else {}


def first_ten_table(model, x, y):
    """Part E: the network's 10 outputs (2 decimals), its prediction and the label, for each of 10 digits."""
    out = training.predict(model, x[:10])
    lines = ["digit  " + " ".join(f"{c:>6}" for c in range(10)) + "   pred label"]
    for i, (row, label) in enumerate(zip(out, y[:10])):
        values = " ".join(f"{v:6.2f}" for v in row.tolist())
        lines.append(f"{i:>5}  {values}   {int(row.argmax()):>4} {int(label):>5}")
    correct = int((out.argmax(1) == y[:10]).sum())
    return "\n".join(lines), correct


def use_reloaded(model, test_u8, test, out, show):
    """Parts E-F: the reloaded network on the first ten test digits (Fig 6), nine predictions (Fig 7), the test set."""
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
        f"reloaded model: test accuracy {final['correct']}/{final['n']} ({100 * final['accuracy']:.2f}%), "
        f"loss {final['loss']:.4f}; first ten digits {correct10}/10 correct"
    )
    return final, correct10


def classify_photos(model, folder, out, show):
    """Part G: photos as taken (Fig 4) and as the network sees them, with its predictions (Fig 8)."""
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
    head = (
        f"Fig 8: handwritten digits, {sum(r['label'] == r['prediction'] for r in known)}/{len(known)} correct"
        if known
        else "Fig 8: handwritten digits"
    )
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


def embedding_map(model, x, y, n, out, show):
    """Beyond the report: the fc1 features of the first n test digits in 2-D (PCA, t-SNE), errors ringed."""
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
    """Beyond the course: the attention rollout of the first test digit of each class (extra_attention.png)."""
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
    args = parse_args(argv)
    device = cli.device(args.device)
    out = args.out_dir
    model_file = args.model if args.no_train else args.save
    if args.no_train:
        load_checkpoint(
            model_file, num_classes=10
        )  # fail now, before any work, if it is not usable
    else:
        generator = training.set_seed(
            args.seed
        )  # the initial weights, the batches, dropout: all from the seed
        untrained = build_model(args)  # settings that cannot build a network fail now, in one line
    test_u8, x_test, y_test = load_mnist(
        args, False, device
    )  # A. the data and the first six test digits
    plots.image_grid(
        test_u8[:6],
        [f"Ground truth: {int(t)}" for t in y_test[:6]],
        out / "fig01_first_digits.png",
        rows=2,
        cols=3,
        suptitle="Fig 1: the first six MNIST test digits",
        show=args.show,
    )
    metrics = {"task": "task1", "seed": args.seed, "device": str(device), "model": str(model_file)}
    if args.no_train:
        metrics.update(earlier_training(out / "metrics.json", model_file))
    else:
        history, saver = train(args, untrained, generator, device, (x_test, y_test), out)
        metrics.update(training_metrics(history, args.epochs))
    model, ckpt = load_checkpoint(
        model_file, num_classes=10
    )  # E-F. reload into a fresh network in eval mode
    model = training.prepare(model, device)
    metrics.update(
        arch=ckpt["arch"], model_args=ckpt["model_args"], parameters=parameter_count(model)
    )
    final, correct10 = use_reloaded(model, test_u8, (x_test, y_test), out, args.show)
    results, hw_accuracy = classify_photos(model, args.digits_dir, out, args.show)  # G
    n_map = min(args.map_points, len(y_test))
    if n_map >= 4:  # fewer points make no map
        metrics["embedding_map"] = embedding_map(model, x_test, y_test, n_map, out, args.show)
    if architecture(model) == "transformer":
        metrics["attention"] = attention_figure(model, x_test, y_test, test_u8, out, args.show)
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
    if not args.no_train:
        saver.remove()  # only now that the model and its history are saved
    print(f"figures and metrics.json in {out}  ({metrics['wall_time_s']:.1f}s)")


if __name__ == "__main__":
    cli.run(main)
