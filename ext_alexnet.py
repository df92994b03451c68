"""Extension: AlexNet's first two convolution layers, their filters and what they do (Figs 18-19).

    python ext_alexnet.py                                   # downloads weights and CIFAR-10 once
    python ext_alexnet.py --model alexnet-owt-7be5be79.pth --image photo.jpg   # offline
    python ext_alexnet.py --random-weights --image photo.jpg  # offline, on an untrained AlexNet

torchvision's AlexNet with its ImageNet weights looks at the first CIFAR-10 test image (or --image).
Writes fig18_alexnet_conv1.png (features[0]: 10 of its 64 filters above their responses, filter2D
per colour channel, summed), alexnet_conv1_all_filters.png (all 64), fig19_alexnet_conv2.png
(features[3]: each filter's strongest input channel above its whole response) and metrics.json
to outputs/alexnet/.  Expect filter2D = each layer's own output to ~2e-6; about 10 s on a 2-core
laptop CPU.
"""

import contextlib
import io
import socket
import time
from pathlib import Path

import torch

from recognition import cli, files, filters, images, plots, training
from recognition.errors import UsageError, first_line

FIGURES = {0: ("Fig 18", "fig18_alexnet_conv1.png"), 3: ("Fig 19", "fig19_alexnet_conv2.png")}
LAYERS = (0, 3)  # model.features indices of the layers the report shows
NUM_FILTERS = 10  # filters shown of each layer, the first ones
OFFLINE_HINT = (
    "pass --model FILE (a saved AlexNet state_dict, such as torchvision's "
    "alexnet-owt-7be5be79.pth) or --random-weights, and --image FILE (any photo)"
)
DOWNLOAD_TIMEOUT_S = 60


def parse_args(argv=None):
    p = cli.parser(__doc__, "alexnet")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="AlexNet state_dict file to load, weights-only (default: torchvision's ImageNet "
        "weights, downloaded once into $TORCH_HOME)",
    )
    which.add_argument(
        "--random-weights",
        action="store_true",
        help="use an untrained, randomly initialised AlexNet; needs no download (default: off)",
    )
    p.add_argument(
        "--image",
        type=Path,
        default=None,
        metavar="FILE",
        help="any photo to look at "
        "(default: the first CIFAR-10 test image, downloaded into --data-dir)",
    )
    p.add_argument(
        "--layers",
        type=int,
        nargs="+",
        default=list(LAYERS),
        help="indices in model.features of the conv layers to show: 0, 3, 6, 8, 10 "
        f"(default: {' '.join(map(str, LAYERS))})",
    )
    p.add_argument(
        "--num-filters",
        type=cli.positive_int,
        default=NUM_FILTERS,
        help=f"how many filters of each layer to show, the first ones (default: {NUM_FILTERS})",
    )
    return p.parse_args(argv)


@contextlib.contextmanager
def quiet_download():
    """Hide download progress (on stdout and stderr); give up on a silent network after a while."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        socket.setdefaulttimeout(old)


def load_alexnet(weights_file=None, random_weights=False, seed=1):
    """(AlexNet in eval mode, a few words on its weights): from a file, at random, or downloaded.

    Every failure is a one-line UsageError that says how to run offline; the exception that caused
    it is kept as its cause.
    """
    from torchvision.models import AlexNet_Weights, alexnet

    if random_weights:
        torch.manual_seed(seed)
        return alexnet(weights=None).eval(), "random weights (untrained)"
    if weights_file is not None:
        return load_weights_file(Path(weights_file)), f"weights from {Path(weights_file).name}"
    try:
        with quiet_download():
            model = alexnet(weights=AlexNet_Weights.IMAGENET1K_V1)
    except Exception as e:  # no network, a proxy refusing, a corrupt cache file ...
        raise UsageError(
            f"cannot get AlexNet's ImageNet weights ({first_line(e)}): {OFFLINE_HINT}"
        ) from e
    return model.eval(), "ImageNet weights"


def load_weights_file(path):
    """torchvision's AlexNet, in eval mode, with the state_dict at `path` (loaded weights-only)."""
    from torchvision.models import alexnet

    if not path.is_file():
        raise UsageError(f"no weights file {path}: {OFFLINE_HINT}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # not a zip, refused pickle, truncated ...
        raise UsageError(
            f"{path} is not a readable weights-only state_dict ({first_line(e)})"
        ) from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a checkpoint dict that wraps the state_dict
    model = alexnet(weights=None)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise UsageError(
            f"{path} does not hold the weights of torchvision's AlexNet ({first_line(e)})"
        ) from None
    return model.eval()


def load_image(image_file, data_dir):
    """(RGB PIL image, a few words on it): --image, or the first CIFAR-10 test image."""
    if image_file is not None:
        return images.read_rgb(image_file), Path(image_file).name
    from torchvision.datasets import CIFAR10

    try:
        with quiet_download():
            test = CIFAR10(str(data_dir), train=False, download=True)
    except Exception as e:  # as for the weights: any failure means "offline", said in one line
        raise UsageError(
            f"cannot get CIFAR-10 into {data_dir} ({first_line(e)}): {OFFLINE_HINT}"
        ) from e
    img, label = test[0]
    return img.convert("RGB"), f"CIFAR-10 test image 0 ({test.classes[label]})"


def preprocess(img):
    """RGB PIL image -> (3, 224, 224) float tensor, by the ImageNet weights' own transforms."""
    from torchvision.models import AlexNet_Weights

    # resize 256, centre crop 224, ImageNet mean/std
    return AlexNet_Weights.IMAGENET1K_V1.transforms()(img)


def for_display(x):
    """A normalised (3, H, W) tensor -> (H, W, 3) array in [0, 1]."""
    from torchvision.models import AlexNet_Weights

    t = AlexNet_Weights.IMAGENET1K_V1.transforms()
    mean, std = torch.tensor(t.mean).view(3, 1, 1), torch.tensor(t.std).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def conv_layers(model):
    return [i for i, m in enumerate(model.features) if isinstance(m, torch.nn.Conv2d)]


def check_layers(model, layers):
    """A one-line UsageError unless every index in `layers` is one of `model`'s conv layers."""
    bad = [i for i in layers if i not in conv_layers(model)]
    if bad:
        raise UsageError(
            f"--layers {bad[0]} is not a convolution layer of AlexNet: choose from "
            f"{', '.join(map(str, conv_layers(model)))}"
        )


@torch.no_grad()
def top3(model, x):
    """AlexNet's three likeliest ImageNet classes for image x (3, 224, 224): [(name, p), ...]."""
    from torchvision.models import AlexNet_Weights

    prob = torch.softmax(model(x.unsqueeze(0)), 1)[0].cpu()
    top = prob.topk(3)
    names = AlexNet_Weights.IMAGENET1K_V1.meta["categories"]
    return [(names[int(i)], float(p)) for p, i in zip(top.values, top.indices)]


@torch.no_grad()
def examine_layer(model, x, index, n):
    """Filters 0..n-1 of conv layer model.features[index] and their filter2D responses to its input.

    x: the normalised image (3, 224, 224).  The layer's input is what the layers before
    it make of x.  Returns a dict: shown filters ((kh, kw, 3) colour or the strongest
    input channel's (kh, kw)), their titles, responses (n, H, W), and the check against the layer.
    """
    conv = model.features[index]
    inputs = model.features[:index](x.unsqueeze(0)).squeeze(0)  # (C, H, W): the layer's own input
    n = min(n, conv.out_channels)
    # zero border = the layer's padding
    responses, check = filters.layer_check(conv, inputs, range(n))
    weight = conv.weight.detach().cpu().numpy()  # (out, C, kh, kw)
    if conv.in_channels == 3:  # an RGB filter: show it as a colour image
        shown = [w.transpose(1, 2, 0) for w in weight[:n]]
        titles, channels = [f"filter {k}" for k in range(n)], None
    else:
        picks = [filters.strongest_input_channel(w) for w in weight[:n]]
        channels = [c for c, _ in picks]
        shown = [s for _, s in picks]
        titles = [f"filter {k} (in-ch {c})" for k, c in enumerate(channels)]
    return {
        "conv": conv,
        "input_shape": tuple(inputs.shape),
        "shown": shown,
        "titles": titles,
        "responses": responses,
        "check": check,
        "channels": channels,
        "n": n,
    }


def layer_title(index, conv, n, input_shape, weights_desc):
    fig, _ = FIGURES.get(index, (f"features[{index}]", None))
    kh, kw = conv.kernel_size
    head = (
        f"{fig}: AlexNet features[{index}], {weights_desc}: "
        f"the first {n} of its {conv.out_channels} filters"
    )
    if conv.in_channels == 3:
        return (
            f"{head} ({kh}x{kw}x3, shown as colour images)\n"
            "below each: filter2D on the image per colour channel, summed = the layer's output "
            f"(stride {conv.stride[0]}, padding {conv.padding[0]})"
        )
    c, h, w = input_shape
    return (
        f"{head} ({conv.in_channels}x{kh}x{kw} each; shown: the {kh}x{kw} kernel of its strongest "
        f"input channel, by L2 norm)\nbelow each: its response to the {c} activation maps "
        f"({h}x{w}) of the layers before, filter2D per channel, summed"
    )


def draw_all_filters(conv, index, number, weights_desc, out, show):
    """Every colour filter of a first layer, the classic picture (alexnet_conv<N>_all_filters)."""
    all_filters = [w.transpose(1, 2, 0) for w in conv.weight.detach().cpu().numpy()]
    plots.filter_grid(
        all_filters,
        [str(k) for k in range(len(all_filters))],
        out / f"alexnet_conv{number}_all_filters.png",
        cols=8,
        suptitle=f"AlexNet features[{index}], {weights_desc}: all {len(all_filters)} filters",
        show=show,
    )


def show_layer(model, x, index, num_filters, image, weights_desc, out, show):
    """The figure and the filter2D check of conv layer model.features[index]; returns its metrics.

    x: the normalised image (3, 224, 224); image: (it as shown, (H, W, 3) in [0, 1], its words).
    """
    r = examine_layer(model, x, index, num_filters)
    conv, check = r["conv"], r["check"]
    print(
        f"features[{index}]: weight {tuple(conv.weight.shape)}, input {r['input_shape']}; "
        f"filter2D responses vs the layer's output ({check['compared']} values): "
        f"max |difference| {check['max_abs_diff']:.2e}, outputs up to {check['max_abs_output']:.2f}"
    )
    name = FIGURES.get(index, (None, f"alexnet_features{index}.png"))[1]
    shown_image, image_desc = image
    plots.filter_response_grid(
        r["shown"],
        r["responses"],
        out / name,
        r["titles"],
        cols=5,
        source=shown_image,
        source_title=f"input: {image_desc}",
        suptitle=layer_title(index, conv, r["n"], r["input_shape"], weights_desc),
        show=show,
    )
    if conv.in_channels == 3:
        number = conv_layers(model).index(index) + 1
        draw_all_filters(conv, index, number, weights_desc, out, show)
    return {
        "weight_shape": list(conv.weight.shape),
        "input_shape": list(r["input_shape"]),
        "filter2d_check": check,
        "strongest_input_channels": r["channels"],
        "figure": name,
    }


def main(argv=None):
    t_start = time.perf_counter()
    args = parse_args(argv)
    device = cli.device(args.device)
    out, show, layers, num_filters = args.out_dir, args.show, args.layers, args.num_filters
    training.set_seed(args.seed)
    model, weights_desc = load_alexnet(args.model, args.random_weights, args.seed)
    model = model.to(device)
    check_layers(model, layers)
    img, image_desc = load_image(args.image, args.data_dir)
    out.mkdir(parents=True, exist_ok=True)
    x = preprocess(img)  # (3, 224, 224)
    image = (for_display(x), image_desc)
    x = x.to(device)
    print(
        f"AlexNet with {weights_desc}; image: {image_desc}, "
        f"resized and cropped to {tuple(x.shape[1:])}"
    )
    metrics = {
        "task": "ext_alexnet",
        "weights": weights_desc,
        "image": image_desc,
        "device": str(device),
        "layers": {},
    }
    if not args.random_weights:  # what the network makes of the image, for a sense of its weights
        metrics["top3"] = top3(model, x)
        print(
            "AlexNet's top 3 ImageNet classes: "
            + ", ".join(f"{c} ({p:.2f})" for c, p in metrics["top3"])
        )
    for index in layers:
        metrics["layers"][str(index)] = show_layer(
            model, x, index, num_filters, image, weights_desc, out, show
        )
    metrics["wall_time_s"] = time.perf_counter() - t_start
    files.write_json(metrics, out / "metrics.json")
    print(f"figures and metrics.json in {out}  ({metrics['wall_time_s']:.1f}s)")


if __name__ == "__main__":
    cli.run(main)
