"""Task 2: look inside Task 1's network: its first layer's filters and what they do (report Figs 9-10).

    python task1_train_mnist.py      # first, once: writes outputs/task1/model.pth
    python task2_examine.py          # reads it, writes the figures to outputs/task2/

Fig 9: conv1's ten 5x5 filters; Fig 10: the first training digit filtered by each with OpenCV's
filter2D, checked against conv1's own output (they agree to ~1e-6); beyond the report, Grad-CAM
for digits the network gets right and wrong, and the errors it makes: the test confusion matrix,
per-class accuracy and the five most confused pairs with examples.  About 5 s on a 2-core laptop CPU.
"""

import time
from pathlib import Path

import cv2
import torch

from models import load_checkpoint
from recognition import analysis, cli, datasets, files, filters, plots, training
from recognition.errors import UsageError
from recognition.gradcam import grad_cam
from recognition.paths import MNIST_MODEL

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
        help="Task 1's model (default: outputs/task1/model.pth, written by task1_train_mnist.py)",
    )
    p.add_argument(
        "--test-limit",
        type=cli.positive_int,
        default=None,
        help="use only the first N test digits for Grad-CAM and the errors (default: all 10000)",
    )
    return p.parse_args(argv)


def cam_examples(model, x, y, n=N_CAM):
    """Indices of the first n correctly and the first n wrongly classified digits, and all predictions."""
    log_p = training.predict(model, x)
    pred = log_p.argmax(1).cpu()
    y = y.cpu()
    right = torch.nonzero(pred == y).flatten()[:n].tolist()
    wrong = torch.nonzero(pred != y).flatten()[:n].tolist()
    return right, wrong, pred, log_p.exp().cpu()


def show_conv1(model, data_dir, out, show):
    """Parts A-B: conv1's weights (Fig 9) and the first training digit filtered by each filter (Fig 10)."""
    weight = model.conv1.weight.detach().cpu()  # (10, 1, 5, 5): 10 filters, 1 input channel, 5x5
    print(f"conv1 weight shape: {tuple(weight.shape)}")
    for k, w in enumerate(weight):
        print(
            f"filter {k}:\n"
            + "\n".join("  " + " ".join(f"{v:6.3f}" for v in row) for row in w[0].tolist())
        )
    kernels = [w[0].numpy() for w in weight]
    titles = [f"Filter {k}" for k in range(len(kernels))]
    plots.filter_grid(
        kernels,
        titles,
        out / "fig09_conv1_filters.png",
        cols=4,
        suptitle="Fig 9: the 10 filters of conv1 (5x5)",
        show=show,
    )
    x_u8, y = datasets.load_split("MNIST", train=True, data_dir=data_dir, limit=1)
    digit = datasets.normalize(x_u8, "MNIST")[0]  # (1, 28, 28), as the network sees it
    # filter2D with its default border, as the report; compared with conv1 where the border plays no part
    responses, check = filters.layer_check(
        model.conv1, digit, range(len(kernels)), border=cv2.BORDER_REFLECT_101
    )
    print(
        f"filter2D responses vs conv1's output (bias added, {check['compared']} values): "
        f"max |difference| {check['max_abs_diff']:.2e}, outputs up to {check['max_abs_output']:.2f}"
    )
    plots.filter_response_grid(
        kernels,
        responses,
        out / "fig10_conv1_responses.png",
        titles,
        cols=5,
        source=x_u8[0].numpy(),
        source_title=f"first training digit ({int(y[0])})",
        show=show,
        suptitle="Fig 10: conv1's filters (above) and the first training digit filtered by each (below)",
    )
    return {
        "conv1_weight_shape": list(weight.shape),
        "conv1_weights": weight.squeeze(1).tolist(),
        "conv1_bias": model.conv1.bias.detach().cpu().tolist(),
        "first_training_label": int(y[0]),
        "filter2d_check": check,
    }


def load_test(args, device):
    """(uint8 images, normalised images on `device`, labels) of the first --test-limit test digits."""
    xt_u8, yt = datasets.load_split(
        "MNIST", train=False, data_dir=args.data_dir, limit=args.test_limit
    )
    return xt_u8, datasets.normalize(xt_u8, "MNIST").to(device), yt


def show_gradcam(model, test, args, out):
    """Part C (beyond the report): Grad-CAM for the first test digits it gets right and wrong."""
    xt_u8, xt, yt = test
    right, wrong, pred, prob = cam_examples(model, xt, yt)
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
        "top: digits it gets right; middle: wrong, map for its answer; bottom: map for the true digit"
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
        show=args.show,
        suptitle=f"Beyond the report: Grad-CAM over conv2 - where the net found its evidence\n{rows}",
    )
    errors = int((pred != yt.cpu()).sum())
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
    """Up to N_EXAMPLES digits of each (true, predicted) pair, a row each (None fills a short row), with titles."""
    images, titles = [], []
    for t, p, _ in pairs:
        idx = torch.nonzero((yt == t) & (pred == p)).flatten()[:N_EXAMPLES].tolist()
        images += [xt_u8[i].numpy() for i in idx] + [None] * (N_EXAMPLES - len(idx))
        titles += [
            f"{t} read as {p}\np({p})={prob[i, p]:.2f}, p({t})={prob[i, t]:.2f}" for i in idx
        ]
        titles += [""] * (N_EXAMPLES - len(idx))
    return images, titles


def show_errors(model, test, out, show):
    """Part D (beyond the report): the test confusion matrix, per-class accuracy, the most confused pairs."""
    xt_u8, xt, yt = test
    prob = training.predict(model, xt).exp().cpu()  # (N, 10)
    pred = prob.argmax(1)
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
            suptitle=f"The {len(pairs)} most confused pairs, a row each, with the network's probabilities",
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
    training.set_seed(args.seed)
    model, ckpt = load_checkpoint(
        args.model, num_classes=10
    )  # a missing file says: run task1_train_mnist.py first
    if ckpt["arch"] != "cnn":
        raise UsageError(
            f"{args.model} holds a {ckpt['arch']}, which has no convolution filters to examine; "
            "its attention is in extra_attention.png beside it (task1_train_mnist.py --arch transformer)"
        )
    metrics = {"task": "task2", "model": str(args.model), "device": str(device)}
    with torch.no_grad():
        metrics.update(show_conv1(model, args.data_dir, args.out_dir, args.show))
    model = training.prepare(model, device)  # Grad-CAM needs gradients
    test = load_test(args, device)
    metrics.update(show_gradcam(model, test, args, args.out_dir))
    metrics.update(
        show_errors(model, test, args.out_dir, args.show), wall_time_s=time.perf_counter() - t_start
    )
    files.write_json(metrics, args.out_dir / "metrics.json")
    print(f"figures and metrics.json in {args.out_dir}  ({metrics['wall_time_s']:.1f}s)")


if __name__ == "__main__":
    cli.run(main)
