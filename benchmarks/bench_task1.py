"""Benchmark: Task 1 training against the canonical tutorial pipeline, side by side in one run.

Baseline ("canonical", benchmarks/canonical.py): torchvision.datasets.MNIST with per-item
ToTensor() + Normalize(), a shuffled DataLoader of batch 64, test DataLoader of batch 1000, the
same Net and SGD (lr 0.01, momentum 0.5) -- the PyTorch MNIST tutorial as the report ran it.

Prints, with the ratio of each against the baseline:
  1. one epoch (training + test-set evaluation): ours vs canonical      target >= 2.8x
  2. the whole `task1_train_mnist.py` run of the report's protocol (5 epochs with train and test
     evaluation after every epoch, save, reload, Figs 1-8, process start included), without and
     with the t-SNE map beyond the report (its default), vs the canonical 5 epochs alone
     (training + test evaluation)                                          target >= 2.2x
Whole runs take 10-20 % longer or shorter from one to the next on a shared virtual machine, so
each is timed --runs times, the two kinds taking turns, and their median is compared.

    python benchmarks/bench_task1.py                 # ~4 minutes on a 2-core CPU
    python benchmarks/bench_task1.py --canonical-epochs 1   # time 1 canonical epoch, x5 for the run
"""

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.canonical import canonical_epochs
from models import Net
from recognition import datasets, training
from recognition.download import provision
from recognition.paths import DATA_DIR, ROOT
from recognition.recipes import RECIPES


def our_epochs(data_dir, epochs, seed=1):
    """Seconds of each epoch of training.fit (training + test-set evaluation), and the final test
    accuracy."""
    g = training.set_seed(seed)
    _, x, y = datasets.load_normalized("MNIST", True, data_dir)
    _, x_test, y_test = datasets.load_normalized("MNIST", False, data_dir)
    model = training.prepare(Net(), torch.device("cpu"))
    history = training.fit(
        model,
        (x, y),
        (x_test, y_test),
        RECIPES["report"],
        epochs,
        g,
        eval_epochs=range(1, epochs + 1),
        eval_train=False,
    )
    ends = [0.0] + [e["elapsed_seconds"] for e in history["epochs"]]
    return [b - a for a, b in itertools.pairwise(ends)], history["epochs"][-1]["test_accuracy"]


def whole_run(data_dir, extra=()):
    """Seconds of one `task1_train_mnist.py` run, process start to exit."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "task1_train_mnist.py"),
                "--data-dir",
                str(data_dir),
                "--out-dir",
                tmp,
                *extra,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - t0


def warn_if_busy():
    """Two torch threads on cores another process keeps busy spin-wait and run many times slower:
    say so."""
    try:
        load = float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError):
        return
    if load > 0.5:
        print(
            f"warning: load average {load:.1f}: other processes share the cores, so these timings "
            "are not those of an idle machine"
        )


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data-dir", type=Path, default=DATA_DIR, help="dataset folder (default: data/)"
    )
    p.add_argument(
        "--canonical-epochs",
        type=int,
        default=5,
        help="canonical epochs to time; fewer are scaled up to 5 (default: 5)",
    )
    p.add_argument(
        "--our-epochs", type=int, default=2, help="epochs of ours to time per epoch (default: 2)"
    )
    p.add_argument(
        "--runs", type=int, default=3, help="whole runs of each kind to time (default: 3)"
    )
    args = p.parse_args()
    provision("MNIST", args.data_dir)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    warn_if_busy()

    ours, our_acc = our_epochs(args.data_dir, args.our_epochs)
    can, can_acc = canonical_epochs("MNIST", args.data_dir, args.canonical_epochs)
    runs = {"report": [], "map": []}
    for _ in range(args.runs):  # taking turns, so that a slow spell slows both kinds
        runs["report"].append(whole_run(args.data_dir, ["--map-points", "0"]))  # the protocol
        runs["map"].append(whole_run(args.data_dir))  # plus the embedding map beyond the report
    run, with_map = (statistics.median(times) for times in runs.values())

    ours_epoch, can_epoch = sum(ours) / len(ours), sum(can) / len(can)
    can_five = sum(can) * 5 / len(can)
    print(
        f"canonical pipeline: {can_epoch:6.2f} s/epoch  ({', '.join(f'{t:.2f}' for t in can)}; "
        f"test acc after {len(can)} epoch(s) {can_acc:.4f})"
    )
    print(
        f"ours              : {ours_epoch:6.2f} s/epoch  ({', '.join(f'{t:.2f}' for t in ours)}; "
        f"test acc after {len(ours)} epoch(s) {our_acc:.4f})"
    )
    r1, r2 = can_epoch / ours_epoch, can_five / run
    print(
        f"per epoch (train + test eval): {r1:.2f}x faster  "
        f"(target >= 2.8x: {'met' if r1 >= 2.8 else 'NOT met'})"
    )
    r3 = can_five / with_map
    print(
        f"whole task1 run {_spread(runs['report'])} vs canonical 5 epochs "
        f"{can_five:.1f} s{' (extrapolated)' if len(can) != 5 else ''}: {r2:.2f}x faster  "
        f"(target >= 2.2x: {'met' if r2 >= 2.2 else 'NOT met'})"
    )
    print(
        f"the same run with its default t-SNE embedding map {_spread(runs['map'])}: "
        f"{r3:.2f}x  (target >= 2.2x: {'met' if r3 >= 2.2 else 'NOT met'})"
    )


def _spread(times):
    """'25.8 s (median of 3: 25.4-29.2 s)'."""
    lo, hi, n = min(times), max(times), len(times)
    return f"{statistics.median(times):.1f} s (median of {n}: {lo:.1f}-{hi:.1f} s)"


if __name__ == "__main__":
    main()
