"""Extension: a fixed Gabor filter bank as conv1, the rest of the report's Net trained.

    python ext_gabor.py              # 3 seeds x (Gabor conv1, learned conv1), 5 epochs each
    python ext_gabor.py --repeats 2 --epochs 1 --train-limit 3000 --test-limit 1000   # a quick try

conv1 gets 10 Gabor kernels of 5x5 (cv2.getGaborKernel: 5 orientations x even and odd phase),
frozen with a zero bias; conv2 and the fully connected layers train with the report's recipe.
Each seed trains both networks from the same start for the other layers and the same batches.
Writes gabor_bank_responses.png (the bank and its filter2D responses, laid out as Fig 10),
learned_vs_gabor.png (learned filters beside their closest Gabor kernel), metrics.json and the
first seed's Gabor network as model.pth to --out-dir (default outputs/ext_gabor/).
Expect Gabor 98.32 +- 0.06 %, learned 98.04 +- 0.20 % (3 seeds), and filter2D = the frozen conv1's
output to ~1.2e-6; six runs of 5 epochs, each about as long as Task 1's (~30 s on a 2-core laptop
CPU), so about 3 minutes.
"""

import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from models import Net, save_checkpoint
from recognition import cli, datasets, files, first_digit, plots, recipes, training
from recognition.paths import MODEL_NAME

RECIPE = recipes.RECIPES["report"]
EPOCHS = 5  # training epochs per run
REPEATS = 3  # seeds per network
CONV1_KINDS = ("gabor", "learned")
# The bank (README, "A Gabor first layer"): bars at 5 orientations 36 degrees apart, each as an even
# kernel (phase 0: a bright stroke on dark) and an odd one (phase 90 degrees: an edge).
BAR_ANGLES = (0.0, 36.0, 72.0, 108.0, 144.0)  # degrees anticlockwise from horizontal, on screen
PHASES = (0.0, 90.0)  # degrees
WAVELENGTH = 4.0  # pixels: the even kernel's bright centre stripe is ~2 px, an MNIST stroke's width
SIGMA = 1.5  # pixels across the stripes: the envelope falls to ~40 % at the 5x5 kernel's edge
GAMMA = 0.5  # aspect ratio: the envelope is twice as long along the stripes (orientation selective)
KSIZE = 5


def gabor_kernel(bar_angle, phase, size=KSIZE, wavelength=WAVELENGTH, sigma=SIGMA, gamma=GAMMA):
    """A (size, size) float32 Gabor kernel, stripes at `bar_angle` degrees, zero mean, unit norm.

    OpenCV's theta is the direction the cosine varies in, measured with rows pointing down, so
    stripes at bar angle phi (anticlockwise on screen) need theta = 90 - phi degrees.
    Zero mean: the uniform background of a digit gives no response (conv1's bias is frozen at 0);
    unit norm: every kernel's responses are on the same scale.
    """
    k = cv2.getGaborKernel(
        (size, size),
        sigma,
        np.deg2rad(90.0 - bar_angle),
        wavelength,
        gamma,
        np.deg2rad(phase),
        ktype=cv2.CV_32F,
    )
    k = k - k.mean()
    return (k / np.linalg.norm(k)).astype(np.float32)


def gabor_bank():
    """(kernels float32 (10, 5, 5), titles): every bar angle with every phase."""
    specs = [(a, p) for a in BAR_ANGLES for p in PHASES]
    kernels = np.stack([gabor_kernel(a, p) for a, p in specs])
    titles = [f"{a:g} deg, {'even' if p == 0 else 'odd'}" for a, p in specs]
    return kernels, titles


def set_gabor(model, kernels):
    """Put `kernels` (10, 5, 5) and a zero bias in `model`'s conv1 and freeze both."""
    with torch.no_grad():
        model.conv1.weight.copy_(torch.as_tensor(kernels).unsqueeze(1))  # -> (10, 1, 5, 5)
        model.conv1.bias.zero_()
    # requires_grad False: training.make_optimizer passes only parameters that require grad
    model.conv1.requires_grad_(False)
    return model


def parse_args(argv=None):
    p = cli.parser(__doc__, "ext_gabor")
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        default=EPOCHS,
        help=f"training epochs per run (default: {EPOCHS})",
    )
    p.add_argument(
        "--repeats",
        type=cli.positive_int,
        default=REPEATS,
        help=f"seeds per network: --seed, --seed+1, ... (default: {REPEATS})",
    )
    p.add_argument(
        "--save",
        type=Path,
        default=None,
        help=f"where to write the first seed's Gabor network (default: {MODEL_NAME} in --out-dir)",
    )
    cli.add_limits(p)
    return p.parse_args(argv)


def train_run(conv1, seed, train, test, epochs, device, kernels):
    """Train one Net (conv1 'gabor' or 'learned') with the report's recipe on `device`.

    train, test: (normalised images, labels) on `device`.  Returns (model, test result).
    """
    # the same seed: the same start for conv2 and fc, the same batches
    generator = training.set_seed(seed)
    model = Net()
    if conv1 == "gabor":
        set_gabor(model, kernels)
    model = training.prepare(model, device)
    t0 = time.perf_counter()
    training.fit(model, train, test, RECIPE, epochs, generator, eval_epochs=[], eval_train=False)
    result = {
        "conv1": conv1,
        "seed": seed,
        **training.evaluate(model, *test),
        "seconds": time.perf_counter() - t0,
    }
    if conv1 == "gabor":
        result["frozen"] = check_frozen(model, kernels)
    print(
        f"{conv1:>7} conv1, seed {seed}: test {result['correct']}/{result['n']} "
        f"({100 * result['accuracy']:.2f}%), loss {result['loss']:.4f}  ({result['seconds']:.1f}s)",
        flush=True,
    )
    return model, result


def check_frozen(model, kernels):
    """Raise if conv1 changed in training or could have; returns what was checked."""
    weight = model.conv1.weight.detach().cpu()[:, 0]
    unchanged = (
        torch.equal(weight, torch.as_tensor(kernels)) and not model.conv1.bias.detach().any()
    )
    grads = [p.requires_grad for p in model.conv1.parameters()]
    if not unchanged or any(grads):
        raise RuntimeError("conv1 was meant to stay frozen, but it changed or requires grad")
    return {"weights_unchanged": unchanged, "requires_grad": any(grads)}


def summarize(results):
    """Per network: mean and sd of test accuracy over seeds; the difference, and the spread."""
    by = {c: [r["accuracy"] for r in results if r["conv1"] == c] for c in CONV1_KINDS}
    stats = {
        c: {
            "mean": statistics.fmean(a),
            "sd": statistics.stdev(a) if len(a) > 1 else None,
            "n": len(a),
            "accuracies": a,
        }
        for c, a in by.items()
    }
    diff = stats["gabor"]["mean"] - stats["learned"]["mean"]
    spread = max((s["sd"] for s in stats.values() if s["sd"] is not None), default=None)
    verdict = (
        "one seed each: no spread to compare with"
        if spread is None
        else "larger than the seed-to-seed spread"
        if abs(diff) > spread
        else "within the seed-to-seed spread"
    )
    # a seed's two runs share the other layers' start and the batches: their difference is paired
    paired = [g - l for g, l in zip(by["gabor"], by["learned"])]
    return {
        **stats,
        "difference": diff,
        "spread": spread,
        "verdict": verdict,
        "paired_differences": paired,
        "paired_sd": statistics.stdev(paired) if len(paired) > 1 else None,
    }


def closest_gabor(learned, kernels):
    """For each learned filter (10, 5, 5): the Gabor kernel of largest |cosine similarity|.

    Returns (the kernels' indices, the signed cosines).
    """
    a = learned.reshape(len(learned), -1)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    cos = a @ kernels.reshape(len(kernels), -1).T  # the kernels have unit norm
    best = np.abs(cos).argmax(1)
    return best, cos[np.arange(len(a)), best]


def draw_matches(learned, kernels, titles, out, show):
    """Each learned filter (at unit norm) beside its closest Gabor kernel, signed to match."""
    best, cos = closest_gabor(learned, kernels)
    unit = learned / np.linalg.norm(learned.reshape(len(learned), -1), axis=1)[:, None, None]
    pairs, names = [], []
    for k, (j, c) in enumerate(zip(best, cos)):
        pairs += [unit[k], np.sign(c) * kernels[j]]
        names += [f"learned {k}", f"{titles[j]}{', negated' if c < 0 else ''}\ncos {abs(c):.2f}"]
    plots.filter_grid(
        pairs,
        names,
        out / "learned_vs_gabor.png",
        cols=4,
        show=show,
        suptitle="Learned conv1 filters (unit norm), each beside its closest Gabor kernel",
    )
    return [
        {"learned": k, "gabor": int(j), "cosine": float(c)}
        for k, (j, c) in enumerate(zip(best, cos))
    ]


def print_summary(summary):
    for c in CONV1_KINDS:
        s = summary[c]
        sd = f" +- {100 * s['sd']:.2f}" if s["sd"] is not None else ""
        print(f"{c:>7} conv1: test accuracy {100 * s['mean']:.2f}{sd} % over {s['n']} seed(s)")
    print(
        f"difference (Gabor - learned) {100 * summary['difference']:+.2f} points: "
        f"{summary['verdict']}"
    )


def main(argv=None):
    t_start = time.perf_counter()
    args = parse_args(argv)
    device = cli.device(args.device)
    data_dir, out, show, epochs = args.data_dir, args.out_dir, args.show, args.epochs
    seeds = list(range(args.seed, args.seed + args.repeats))
    save = args.save or out / MODEL_NAME
    kernels, titles = gabor_bank()
    _, x_train, y_train = datasets.load_normalized(
        "MNIST", train=True, data_dir=data_dir, limit=args.train_limit, device=device
    )
    _, x_test, y_test = datasets.load_normalized(
        "MNIST", train=False, data_dir=data_dir, limit=args.test_limit, device=device
    )
    results, models = [], {}
    for seed in seeds:
        for conv1 in CONV1_KINDS:
            model, result = train_run(
                conv1, seed, (x_train, y_train), (x_test, y_test), epochs, device, kernels
            )
            results.append(result)
            models.setdefault(conv1, model)  # the first seed's of each
    save_checkpoint(
        models["gabor"],
        save,
        class_names=[str(d) for d in range(10)],
        conv1="gabor (frozen)",
        recipe=RECIPE.name,
        epochs=epochs,
    )
    summary = summarize(results)
    print_summary(summary)
    _, check = first_digit.responses_figure(
        models["gabor"].conv1,
        titles,
        out / "gabor_bank_responses.png",
        "The Gabor bank in conv1 (above) and the first training digit filtered by each (below)",
        data_dir=data_dir,
        show=show,
    )
    learned = models["learned"].conv1.weight.detach().cpu()[:, 0].numpy()
    matches = draw_matches(learned, kernels, titles, out, show)
    files.write_json(
        {
            "task": "ext_gabor",
            "seeds": seeds,
            "epochs": epochs,
            "recipe": RECIPE.name,
            "device": str(device),
            "train_n": len(y_train),
            "test_n": len(y_test),
            "bank": {
                "bar_angles": BAR_ANGLES,
                "phases": PHASES,
                "wavelength": WAVELENGTH,
                "sigma": SIGMA,
                "gamma": GAMMA,
                "size": KSIZE,
                "titles": titles,
            },
            "runs": results,
            "summary": summary,
            "filter2d_check": check,
            "closest_gabor": matches,
            "saved": str(save),
            "wall_time_s": time.perf_counter() - t_start,
        },
        out / "metrics.json",
    )
    print(
        f"saved {save}; figures and metrics.json in {out}  ({time.perf_counter() - t_start:.1f}s)"
    )


if __name__ == "__main__":
    cli.run(main)
