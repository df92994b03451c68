"""Task 2: look inside Task 1's network: its first layer's filters and what they do (Figs 9-10).

    python task1_train_mnist.py      # first, once: writes outputs/task1/model.pth
    python task2_examine.py          # reads it; figures and metrics.json go to outputs/task2/

Writes fig09_conv1_filters.png (conv1's ten 5x5 filters) and fig10_conv1_responses.png (the first
training digit filtered by each with OpenCV's filter2D, checked against conv1's own output); beyond
the report, extra_gradcam.png (Grad-CAM for test digits the network gets right and wrong),
extra_confusion_matrix.png and extra_confused_pairs.png (the five most confused pairs).
Expect conv1 weight (10, 1, 5, 5) and filter2D = conv1's output to ~2.4e-7 (outputs up to 7.9);
about 3 s on a 2-core laptop CPU.
"""

import time
from pathlib import Path

import torch

from models import load_checkpoint
from recognition import analysis, cli, datasets, files, first_digit, plots, training
from recognition.errors import UsageError
from recognition.gradcam import grad_cam
from recognition.paths import MNIST_MODEL, ROOT

N_CAM = 5  # digits per row of the Grad-CAM figure
N_PAIRS, N_EXAMPLES = 5, 4  # the most confused pairs, and example digits of each
CLASS_NAMES = [str(d) for d in range(10)]


def parse_args(argv=None):
    p = cli.parser(__doc__, "task2")
    p.add_argument(
        "--model",
        type=Path,
        default=MNIST_MODEL,
        metavar="FILE",
        help=f"Task 1's model, written by task1_train_mnist.py "
        f"(default: {MNIST_MODEL.relative_to(ROOT)})",
    )
    p.add_argument(
        "--test-limit",
        type=cli.positive_int,
        default=None,
        help="use only the first N test digits for Grad-CAM and the errors (default: all 10000)",
    )
    return p.parse_args(argv)


def load_cnn(path):
    """Task 1's network from `path`; a transformer has no filters, which is a one-line error."""
    model, ckpt = load_checkpoint(path, num_classes=10)  # a missing file: run task1 first
    if ckpt["arch"] != "cnn":
        raise UsageError(
            f"{path} holds a {ckpt['arch']}, which has no convolution filters to examine; "
            "its attention is in extra_attention.png beside it "
            "(task1_train_mnist.py --arch transformer)"
        )
    return model


def filter_rows(weight):
    """conv1's (10, 1, 5, 5) weights as text, a 5x5 block of numbers per filter."""
    return "\n".join(
        f"filter {k}:\n"
        + "\n".join("  " + " ".join(f"{v:6.3f}" for v in row) for row in w[0].tolist())
        for k, w in enumerate(weight)
    )


def show_conv1(model, data_dir, out, show):
    """Parts A-B: conv1's weights (Fig 9) and the first training digit filtered by each (Fig 10)."""
    weight = model.conv1.weight.detach().cpu()  # (10, 1, 5, 5): 10 filters, 1 input channel, 5x5
    print(f"conv1 weight shape: {tuple(weight.shape)}")
    print(filter_rows(weight))
    titles = [f"Filter {k}" for k in range(len(weight))]
    plots.filter_grid(
        [w[0].numpy() for w in weight],
        titles,
        out / "fig09_conv1_filters.png",
        cols=4,
        suptitle="Fig 9: the 10 filters of conv1 (5x5)",
        show=show,
    )
    label, check = first_digit.responses_figure(
        model.conv1,
        titles,
        out / "fig10_conv1_responses.png",
        "Fig 10: conv1's filters (above) and the first training digit filtered by each (below)",
        data_dir=data_dir,
        show=show,
    )
    print(
        f"filter2D responses vs conv1's output (bias added, {check['compared']} values): "
        f"max |difference| {check['max_abs_diff']:.2e}, outputs up to {check['max_abs_output']:.2f}"
    )
    return {
        "conv1_weight_shape": list(weight.shape),
        "conv1_weights": weight.squeeze(1).tolist(),
        "conv1_bias": model.conv1.bias.detach().cpu().tolist(),
        "first_training_label": label,
        "filter2d_check": check,
    }


def show_gradcam(model, test, pred, prob, out, show):
    """Part C (beyond the report): Grad-CAM for the first test digits it gets right and wrong.

    test: (uint8 images, normalised images on the model's device, labels); pred, prob: the
    network's answers (N,) and probabilities (N, 10) for them, on the CPU.
    """
    xt_u8, xt, yt = test
    right = torch.nonzero(pred == yt).flatten()[:N_CAM].tolist()
    wrong = torch.nonzero(pred != yt).flatten()[:N_CAM].tolist()
    idx = right + wrong
    maps = list(grad_cam(model, xt[idx], pred[idx].tolist()))
    titles = [f"{int(yt[i])}, p={prob[i, pred[i]]:.2f}" for i in right]
    titles += [f"true {int(yt[i])} -> {int(pred[i])}, p={prob[i, pred[i]]:.2f}" for i in wrong]
    colors = ["green"] * len(right) + ["red"] * len(wrong)
    if wrong:  # the same wrong digits again, with the map for the class they should have been
        maps += list(grad_cam(model, xt[wrong], yt[wrong].tolist()))
        titles += [f"evidence for {int(yt[i])}" for i in wrong]
        colors += ["black"] * len(wrong)
        idx = idx + wrong
    rows = (
        "top: digits it gets right; middle: wrong, map for its answer; "
        "bottom: map for the true digit"
        if wrong
        else "digits it gets right (no wrong ones among those searched)"
    )
    plots.image_grid(
        [xt_u8[i].numpy() for i in idx],
        titles,
        out / "extra_gradcam.png",
        cols=N_CAM,
        title_colors=colors,
        overlays=maps,
        show=show,
        suptitle="Beyond the report: Grad-CAM over conv2 - where the net found its evidence\n"
        + rows,
    )
    errors = int((pred != yt).sum())
    print(
        f"Grad-CAM: {len(right)} correct and {len(wrong)} misclassified test digits "
        f"(test indices {right + wrong}); {errors} of {len(yt)} searched are misclassified"
    )
    return {
        "gradcam": {
            "correct": right,
            "misclassified": wrong,
            "predictions": [int(pred[i]) for i in right + wrong],
        },
        "test_errors": errors,
        "test_n": len(yt),
    }


def confused_examples(pairs, xt_u8, yt, pred, prob):
    """Up to N_EXAMPLES digits of each (true, predicted) pair, a row each, with their titles.

    None fills a row that has fewer examples, so that each pair keeps its own row.
    """
    images, titles = [], []
    for t, p, _ in pairs:
        idx = torch.nonzero((yt == t) & (pred == p)).flatten()[:N_EXAMPLES].tolist()
        images += [xt_u8[i].numpy() for i in idx] + [None] * (N_EXAMPLES - len(idx))
        titles += [
            f"{t} read as {p}\np({p})={prob[i, p]:.2f}, p({t})={prob[i, t]:.2f}" for i in idx
        ]
        titles += [""] * (N_EXAMPLES - len(idx))
    return images, titles


def show_errors(xt_u8, yt, pred, prob, out, show):
    """Part D (beyond the report): confusion matrix, per-class accuracy, the most confused pairs.

    pred, prob: the network's answers (N,) and probabilities (N, 10) for test digits xt_u8, yt.
    """
    counts = analysis.confusion(yt, pred, len(CLASS_NAMES))
    per_class = analysis.per_class_accuracy(counts)
    pairs = analysis.most_confused(counts, N_PAIRS)
    n, correct = int(counts.sum()), int(counts.trace())
    plots.confusion_matrix(
        counts.numpy(),
        CLASS_NAMES,
        out / "extra_confusion_matrix.png",
        show=show,
        title=f"MNIST test set: {correct}/{n} correct (rows: true digit)",
    )
    if pairs:
        images, titles = confused_examples(pairs, xt_u8, yt, pred, prob)
        plots.image_grid(
            images,
            titles,
            out / "extra_confused_pairs.png",
            cols=N_EXAMPLES,
            show=show,
            suptitle=f"The {len(pairs)} most confused pairs, a row each, "
            "with the network's probabilities",
        )
    print(
        "per-class accuracy: "
        + "  ".join(f"{c}: {100 * a:.1f}%" for c, a in zip(CLASS_NAMES, per_class))
    )
    print(
        "most confused (true -> predicted: count): "
        + ", ".join(f"{t} -> {p}: {c}" for t, p, c in pairs)
    )
    return {
        "confusion": counts.tolist(),
        "per_class_accuracy": per_class.tolist(),
        "confused_pairs": [{"true": t, "predicted": p, "count": c} for t, p, c in pairs],
    }


def main(argv=None):
    t_start = time.perf_counter()
    args = parse_args(argv)
    device = cli.device(args.device)
    model_file, data_dir, out, show = args.model, args.data_dir, args.out_dir, args.show
    training.set_seed(args.seed)
    model = load_cnn(model_file)
    metrics = {"task": "task2", "model": str(model_file), "device": str(device)}
    metrics.update(show_conv1(model, data_dir, out, show))
    model = training.prepare(model, device)  # Grad-CAM needs gradients
    xt_u8, xt, yt = datasets.load_normalized(
        "MNIST", train=False, data_dir=data_dir, limit=args.test_limit, device=device
    )
    log_p = training.predict(model, xt)
    yt, pred, prob = yt.cpu(), log_p.argmax(1).cpu(), log_p.exp().cpu()  # (N,), (N,), (N, 10)
    metrics.update(show_gradcam(model, (xt_u8, xt, yt), pred, prob, out, show))
    metrics.update(show_errors(xt_u8, yt, pred, prob, out, show))
    metrics["wall_time_s"] = time.perf_counter() - t_start
    files.write_json(metrics, out / "metrics.json")
    print(f"figures and metrics.json in {out}  ({metrics['wall_time_s']:.1f}s)")


if __name__ == "__main__":
    cli.run(main)
