"""Benchmark: the course's transformer on this CPU against the course template, side by side.

Part 1, the speed table: one training step (forward, backward, AdamW) on a batch of real MNIST
digits, for the template and for settings that each change one thing: the patch size and stride
(the token count), the width, the depth, the heads, the batch size, the encoder's dropout, and the
attention kernel.  Each row prints its time per step, its time per epoch (60000 images) and its
speed-up over the template's epoch, measured in the same run.  On a CPU, dropout inside attention
keeps torch.nn.functional.scaled_dot_product_attention off its fused kernel: it falls back to the
math path, which writes and masks every (tokens x tokens) attention matrix.

Part 2, the runs: task1_train_mnist.py end to end for the CNN (the report's recipe) and the fast
transformer (its defaults), and with --template-epochs N the template's first N of 15 epochs
(--template; its constant learning rate makes N epochs the start of 15).  Prints test accuracy,
epochs, training time, wall time and parameters, with the goals: the fast transformer >= 99.0 % in
<= 600 s of training; the template >= 98.5 % after its 15 epochs.

    python benchmarks/bench_transformer.py --table-only      # part 1: about 2.5 min on 2 cores
    python benchmarks/bench_transformer.py                   # both parts: about 15 minutes
    python benchmarks/bench_transformer.py --template-epochs 15   # and the template's: hours

Timings depend on what else the machine runs: say so when you report them.
"""

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import task1_train_mnist as task1
from benchmarks.bench_task1 import warn_if_busy
from models import NetTransformer, parameter_count
from recognition import datasets, recipes
from recognition.paths import DATA_DIR, ROOT

# NetTransformer's arguments in Task 1's two transformer modes
TEMPLATE = task1.MODES["template"].network.arguments()
FAST = task1.MODES["transformer"].network.arguments()
FAST_BATCH = recipes.RECIPES["transformer-fast"].batch_size
GOAL_ACCURACY, GOAL_SECONDS, TEMPLATE_GOAL = 0.99, 600.0, 0.985

# (label, the template or the fast setting with one change, batch size, attention kernel: None for
# SDPA's choice)
ROWS = [
    ("template (baseline)", TEMPLATE, 64, None),
    ("template, batch 128", TEMPLATE, 128, None),
    ("template, encoder dropout 0", {**TEMPLATE, "dropout": 0.0}, 64, None),
    ("template, dropout 0, math attention", {**TEMPLATE, "dropout": 0.0}, 64, SDPBackend.MATH),
    ("template, dropout 0, 4 heads", {**TEMPLATE, "dropout": 0.0, "heads": 4}, 64, None),
    ("fast setting (ours)", FAST, FAST_BATCH, None),
    ("fast, math attention", FAST, FAST_BATCH, SDPBackend.MATH),
    ("fast, encoder dropout 0.1", {**FAST, "dropout": 0.1}, FAST_BATCH, None),
    ("fast, batch 128", FAST, 128, None),
    ("fast, 8 heads", {**FAST, "heads": 8}, FAST_BATCH, None),
    ("fast, 7x7 patches at stride 3", {**FAST, "stride": 3}, FAST_BATCH, None),
    ("fast, 7x7 patches at stride 4", {**FAST, "stride": 4}, FAST_BATCH, None),
    ("fast, 4x4 patches at stride 4", {**FAST, "patch": 4, "stride": 4}, FAST_BATCH, None),
    ("fast, width 96", {**FAST, "d_model": 96, "ff": 192}, FAST_BATCH, None),
    ("fast, 6 layers", {**FAST, "layers": 6}, FAST_BATCH, None),
    ("fast, 2 layers", {**FAST, "layers": 2}, FAST_BATCH, None),
]


def step_seconds(shape, batch, kernel, x, y, steps):
    """Mean seconds of one training step of NetTransformer(**shape) on batches of real digits,
    after 2 warm-ups."""
    torch.manual_seed(0)
    model = NetTransformer(**shape).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    with sdpa_kernel(kernel) if kernel is not None else contextlib.nullcontext():
        for i in range(steps + 2):
            if i == 2:
                t0 = time.perf_counter()
            idx = slice((i * batch) % (len(x) - batch), (i * batch) % (len(x) - batch) + batch)
            optimizer.zero_grad(set_to_none=True)
            F.nll_loss(model(x[idx]), y[idx]).backward()
            optimizer.step()
    return (time.perf_counter() - t0) / steps, parameter_count(model), model.side**2


def speed_table(data_dir, steps):
    """Part 1: print and return a row per setting, with its speed-up over the template's epoch."""
    _, x, y = datasets.load_normalized("MNIST", True, data_dir, limit=4096)
    print(
        f"{'setting':38s} {'tokens':>6s} {'params':>8s} {'batch':>5s} {'ms/step':>8s} "
        f"{'s/epoch':>8s} {'speed-up':>8s}"
    )
    rows, base = [], None
    for label, shape, batch, kernel in ROWS:
        seconds, params, tokens = step_seconds(shape, batch, kernel, x, y, steps)
        epoch = seconds * 60000 / batch
        base = base or epoch
        rows.append(
            {
                "setting": label,
                "tokens": tokens,
                "parameters": params,
                "batch": batch,
                "ms_per_step": 1000 * seconds,
                "epoch_seconds": epoch,
                "speedup": base / epoch,
            }
        )
        print(
            f"{label:38s} {tokens:6d} {params:8,d} {batch:5d} {1000 * seconds:8.1f} {epoch:8.1f} "
            f"{base / epoch:7.1f}x",
            flush=True,
        )
    return rows


def task1_run(data_dir, flags):
    """Run task1_train_mnist.py with `flags` in a temporary folder; return its metrics.json."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            str(ROOT / "task1_train_mnist.py"),
            "--data-dir",
            str(data_dir),
            "--out-dir",
            tmp,
            "--map-points",
            "0",
            *flags,
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return json.loads((Path(tmp) / "metrics.json").read_text())


def runs(data_dir, template_epochs):
    """Part 2: the CNN, the fast transformer and, for `template_epochs` > 0, the template: whole
    task1 runs."""
    plans = [("CNN, report recipe", []), ("transformer, fast defaults", ["--arch", "transformer"])]
    if template_epochs:
        plans.append(
            (
                f"template ({template_epochs} of 15 epochs)",
                ["--template", "--epochs", str(template_epochs)],
            )
        )
    print(
        f"\n{'run':34s} {'test acc':>8s} {'epochs':>6s} {'train s':>8s} {'wall s':>7s} "
        f"{'params':>8s}"
    )
    results = []
    for label, flags in plans:
        m = task1_run(data_dir, flags)
        results.append(m)
        print(
            f"{label:34s} {100 * m['test_accuracy']:7.2f}% {m['epochs']:6d} "
            f"{m['train_seconds']:8.1f} {m['wall_time_s']:7.1f} {m['parameters']:8,d}",
            flush=True,
        )
    return results


def verdict(results, table):
    """Print the goals, whether they were met, and the fast transformer's speed-up over the
    template's 15 epochs."""
    fast = results[1]
    ok = fast["test_accuracy"] >= GOAL_ACCURACY and fast["train_seconds"] <= GOAL_SECONDS
    print(
        f"\nfast transformer: {100 * fast['test_accuracy']:.2f}% in "
        f"{fast['train_seconds']:.0f} s of training (goal >= {100 * GOAL_ACCURACY:.1f}% in "
        f"<= {GOAL_SECONDS:.0f} s: {'met' if ok else 'NOT met'})"
    )
    if len(results) > 2:
        template = results[2]
        per_epoch, source = (
            template["train_seconds"] / template["epochs"],
            f"{template['epochs']} trained",
        )
        print(
            f"template: {100 * template['test_accuracy']:.2f}% after {template['epochs']} of 15 "
            f"epochs (goal after 15: >= {100 * TEMPLATE_GOAL:.1f}%)"
        )
    else:
        per_epoch, source = table[0]["epoch_seconds"], "the speed table's steps"
    print(
        f"template's 15 epochs: {15 * per_epoch:.0f} s ({15 * per_epoch / 3600:.1f} h; from "
        f"{source}), {15 * per_epoch / fast['train_seconds']:.0f}x the fast transformer's training"
    )


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data-dir", type=Path, default=DATA_DIR, help="where MNIST is kept (default: data/)"
    )
    p.add_argument(
        "--steps", type=int, default=10, help="timed training steps per setting (default: 10)"
    )
    p.add_argument(
        "--table-only", action="store_true", help="only part 1, the speed table (default: off)"
    )
    p.add_argument(
        "--template-epochs",
        type=int,
        default=0,
        help="also train the template for its first N of 15 epochs; 15 for all (default: 0, "
        "its time from the speed table)",
    )
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    warn_if_busy()
    table = speed_table(args.data_dir, args.steps)
    if not args.table_only:
        verdict(runs(args.data_dir, args.template_epochs), table)


if __name__ == "__main__":
    main()
