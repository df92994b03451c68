"""Extension: AlexNet's first two convolution layers, their filters and what they do (report Figs 18-19).

    python ext_alexnet.py                                        # downloads weights and CIFAR-10 once
    python ext_alexnet.py --model alexnet-owt-7be5be79.pth --image photo.jpg   # offline
    python ext_alexnet.py --random-weights --image photo.jpg     # offline, on an untrained AlexNet

torchvision's AlexNet with its ImageNet weights looks at the first CIFAR-10 test image.
Fig 18: features[0], 10 of its 64 filters above their responses (filter2D per colour channel,
summed); Fig 19: features[3], each filter's strongest input channel above its whole response.
Both checked against the layers' own outputs (~2e-6).  About 10 s on a 2-core laptop CPU.
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
OFFLINE_HINT = (
    "pass --model FILE (a saved AlexNet state_dict, such as torchvision's alexnet-owt-7be5be79.pth) "
    "or --random-weights, and --image FILE (any photo)"
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
        help="any photo to look at (default: the first CIFAR-10 test image, downloaded into --data-dir)",
    )
    p.add_argument(
        "--layers",
        type=int,
        nargs="+",
        default=[0, 3],
        help="indices in model.features of the conv layers to show: 0, 3, 6, 8, 10 (default: 0 3)",
    )
    p.add_argument(
        "--num-filters",
        type=cli.positive_int,
        default=10,
        help="how many filters of each layer to show, the first ones (default: 10)",
    )
    return p.parse_args(argv)


@contextlib.contextmanager
def quiet_download():
    """Hide download progress (printed on stdout and stderr) and give up on a silent network after a while."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        socket.setdefaulttimeout(old)


def load_alexnet(weights_file=None, random_weights=False, seed=1):
    """(AlexNet in eval mode, a few words on its weights), from a file, at random, or torchvision's download."""
    from torchvision.models import AlexNet_Weights, alexnet

    if random_weights:
        torch.manual_seed(seed)
        return alexnet(weights=None).eval(), "random weights (untrained)"
    if weights_file is not None:
        path = Path(weights_file)
        if not path.is_file():
            raise UsageError(f"no weights file {path}: {OFFLINE_HINT}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # not a zip, refused pickle, truncated ...
            raise UsageError(
                f"{path} is not a readable weights-only state_dict ({first_line(e)})"
            ) from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]  # a checkpoint dict that wraps the state_dict
        model = alexnet(weights=None)
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as e:
            raise UsageError(
                f"{path} does not hold the weights of torchvision's AlexNet ({first_line(e)})"
            ) from None
        return model.eval(), f"weights from {path.name}"
    try:
        with quiet_download():
            model = alexnet(weights=AlexNet_Weights.IMAGENET1K_V1)
    except Exception as e:  # no network, a proxy refusing, a corrupt cache file ...
        raise UsageError(
            f"cannot get AlexNet's ImageNet weights ({first_line(e)}): {OFFLINE_HINT}"
        ) from None
    return model.eval(), "ImageNet weights"


def load_image(image_file, data_dir):
    """(RGB PIL image, a few words on it): --image, or the first CIFAR-10 test image via torchvision."""
    if image_file is not None:
        return images.read_rgb(image_file), Path(image_file).name
    from torchvision.datasets import CIFAR10

    try:
        with quiet_download():
            test = CIFAR10(str(data_dir), train=False, download=True)
    except Exception as e:
        raise UsageError(
            f"cannot get CIFAR-10 into {data_dir} ({first_line(e)}): {OFFLINE_HINT}"
        ) from None
    img, label = test[0]
    return img.convert("RGB"), f"CIFAR-10 test image 0 ({test.classes[label]})"


def preprocess(img):
    """RGB PIL image -> (3, 224, 224) float tensor as AlexNet's ImageNet weights expect (their own transforms)."""
    from torchvision.models import AlexNet_Weights

    return AlexNet_Weights.IMAGENET1K_V1.transforms()(
        img
    )  # resize 256, centre crop 224, ImageNet mean/std


def for_display(x):
    """A normalised (3, H, W) tensor -> (H, W, 3) array in [0, 1]."""
    from torchvision.models import AlexNet_Weights

    t = AlexNet_Weights.IMAGENET1K_V1.transforms()
    mean, std = torch.tensor(t.mean).view(3, 1, 1), torch.tensor(t.std).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def conv_layers(model):
    return [i for i, m in enumerate(model.features) if isinstance(m, torch.nn.Conv2d)]


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
    responses, check = filters.layer_check(
        conv, inputs, range(n)
    )  # zero border = the layer's padding
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
    head = f"{fig}: AlexNet features[{index}], {weights_desc}: the first {n} of its {conv.out_channels} filters"
    if conv.in_channels == 3:
        return (
            f"{head} ({kh}x{kw}x3, shown as colour images)\nbelow each: filter2D on the image per colour "
            f"channel, summed = the layer's output (stride {conv.stride[0]}, padding {conv.padding[0]})"
        )
    c, h, w = input_shape
    return (
        f"{head} ({conv.in_channels}x{kh}x{kw} each; shown: the {kh}x{kw} kernel of its strongest input "
        f"channel, by L2 norm)\nbelow each: its response to the {c} activation maps ({h}x{w}) of the layers "
        f"before, filter2D per channel, summed"
    )


def main(argv=None):
    t_start = time.perf_counter()
    args = parse_args(argv)
    device = cli.device(args.device)
    training.set_seed(args.seed)
    model, weights_desc = load_alexnet(args.model, args.random_weights, args.seed)
    model = model.to(device)
    bad = [i for i in args.layers if i not in conv_layers(model)]
    if bad:
        raise UsageError(
            f"--layers {bad[0]} is not a convolution layer of AlexNet: choose from "
            f"{', '.join(map(str, conv_layers(model)))}"
        )
    img, image_desc = load_image(args.image, args.data_dir)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    x = preprocess(img)  # (3, 224, 224)
    shown_image = for_display(x)
    x = x.to(device)
    print(
        f"AlexNet with {weights_desc}; image: {image_desc}, resized and cropped to {tuple(x.shape[1:])}"
    )
    metrics = {
        "task": "ext_alexnet",
        "weights": weights_desc,
        "image": image_desc,
        "device": str(device),
        "layers": {},
    }

    with torch.no_grad():
        if (
            not args.random_weights
        ):  # what the network makes of the image, for a sense of its weights
            from torchvision.models import AlexNet_Weights

            prob = torch.softmax(model(x.unsqueeze(0)), 1)[0].cpu()
            top = prob.topk(3)
            names = AlexNet_Weights.IMAGENET1K_V1.meta["categories"]
            guesses = [(names[int(i)], float(p)) for p, i in zip(top.values, top.indices)]
            print(
                "AlexNet's top 3 ImageNet classes: "
                + ", ".join(f"{c} ({p:.2f})" for c, p in guesses)
            )
            metrics["top3"] = guesses

        for index in args.layers:
            r = examine_layer(model, x, index, args.num_filters)
            conv = r["conv"]
            print(
                f"features[{index}]: weight {tuple(conv.weight.shape)}, input {r['input_shape']}; filter2D "
                f"responses vs the layer's output ({r['check']['compared']} values): max |difference| "
                f"{r['check']['max_abs_diff']:.2e}, outputs up to {r['check']['max_abs_output']:.2f}"
            )
            name = FIGURES.get(index, (None, f"alexnet_features{index}.png"))[1]
            plots.filter_response_grid(
                r["shown"],
                r["responses"],
                out / name,
                r["titles"],
                cols=5,
                source=shown_image,
                source_title=f"input: {image_desc}",
                suptitle=layer_title(index, conv, r["n"], r["input_shape"], weights_desc),
                show=args.show,
            )
            if conv.in_channels == 3:  # all of the first layer's filters, the classic picture
                all_filters = [w.transpose(1, 2, 0) for w in conv.weight.detach().cpu().numpy()]
                plots.filter_grid(
                    all_filters,
                    [str(k) for k in range(len(all_filters))],
                    out / f"alexnet_conv{conv_layers(model).index(index) + 1}_all_filters.png",
                    cols=8,
                    suptitle=f"AlexNet features[{index}], {weights_desc}: all "
                    f"{len(all_filters)} filters",
                    show=args.show,
                )
            metrics["layers"][str(index)] = {
                "weight_shape": list(conv.weight.shape),
                "input_shape": list(r["input_shape"]),
                "filter2d_check": r["check"],
                "strongest_input_channels": r["channels"],
                "figure": name,
            }

    metrics["wall_time_s"] = time.perf_counter() - t_start
    files.write_json(metrics, out / "metrics.json")
    print(f"figures and metrics.json in {out}  ({metrics['wall_time_s']:.1f}s)")


if __name__ == "__main__":
    cli.run(main)
