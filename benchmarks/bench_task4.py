"""Benchmark of Task 4: our sweep against the canonical tutorial pipeline run once per variation.

    python benchmarks/bench_task4.py                      # one canonical epoch + the default sweep
    python benchmarks/bench_task4.py --quick              # one canonical epoch + a reduced sweep
    python benchmarks/bench_task4.py --compare-parallel   # also: 2 workers x 1 thread vs 1 x 2
    python benchmarks/bench_task4.py --backends local ray # only: the sweep on each backend

The canonical pipeline is the PyTorch MNIST tutorial's, on FashionMNIST: torchvision's dataset
with per-image ToTensor + Normalize, a shuffled DataLoader of batch 64, the same Net, SGD lr 0.01
momentum 0.5, then the test set in batches of 1000.  Run naively, the report's 60 variations cost
sum(L) x 15 = 270 such epochs.  Prints the canonical epoch, its extrapolation to the naive epochs,
the sweep's wall time (task4_experiment.py with --fresh, data loading and figures included), the
ratio (target >= 8) and whether the sweep took <= 5 minutes; writes bench_task4.json.

With --backends, it times only the sweep on each backend named, one after the other in this
process, Ray's start-up (ray.init, before the sweep) apart from its sweep; the target is Ray's
start-up plus sweep at most 10 % above the local sweep, with the same rows; writes
bench_task4_backends.json.  Timings depend on what else the machine runs: say so when you report
them.
"""

import argparse
import shlex
import tempfile
import time
from pathlib import Path

import torch

import task4_experiment
from benchmarks.canonical import canonical_epochs
from recognition import cli, files, sweep_backends
from recognition.paths import DATA_DIR, OUT_DIR, ROOT

QUICK_GRID = ["--epochs", "1", "2", "--dropout", "0.5", "--hidden", "20", "100"]
PARALLEL_GRID = ["--epochs", "1", "--dropout", "0.5", "--hidden", "20", "100"]
PARALLEL_TRAIN_N = 20000
TARGET_RATIO, TARGET_SECONDS = 8.0, 300.0
TARGET_RAY_SLOWDOWN = 1.10  # Ray's start-up + sweep against the local sweep
FULL_TRAIN_N = 60000  # FashionMNIST's training images: one canonical epoch
OUT = OUT_DIR / "bench_task4"


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help=f"where FashionMNIST is kept (default: {DATA_DIR.relative_to(ROOT)}/)",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=OUT,
        help=f"where the JSON files go (default: {OUT.relative_to(ROOT)}/)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"time a reduced sweep ({' '.join(QUICK_GRID)}) instead of the default grid "
        "(default: off)",
    )
    p.add_argument(
        "--compare-parallel",
        action="store_true",
        help="also time 2 workers x 1 thread against 1 worker x 2 threads on "
        f"{' '.join(PARALLEL_GRID)} --train-limit {PARALLEL_TRAIN_N} (default: off)",
    )
    p.add_argument(
        "--canonical-threads",
        type=cli.positive_int,
        default=None,
        help="torch threads of the canonical pipeline (default: torch's own choice, one per core)",
    )
    p.add_argument(
        "--backends",
        nargs="+",
        choices=task4_experiment.BACKENDS,
        default=None,
        help="time only the sweep (the --quick grid with --quick) on each of these backends, "
        "side by side (default: off)",
    )
    p.add_argument(
        "--sweep-args",
        default=None,
        help="with --backends: task4_experiment.py flags of the grid to time instead, e.g. "
        '"--epochs 1 2 --hidden 20 100 --train-limit 20000" (default: the default grid)',
    )
    p.add_argument(
        "--skip-sweep", action="store_true", help="time only the canonical epoch (default: off)"
    )
    return p.parse_args(argv)


def sweep_flags(grid, data_dir, out_dir):
    """task4_experiment.py's flags for the sweep of `grid` (its flags) from scratch into out_dir."""
    return [*grid, "--data-dir", str(data_dir), "--fresh", "--out-dir", str(out_dir)]


def timed_sweep(argv):
    """(seconds, metrics) of task4_experiment.main(argv)."""
    t0 = time.perf_counter()
    metrics = task4_experiment.main(argv)
    return time.perf_counter() - t0, metrics


def naive_epochs(grid, train_n):
    """Canonical epochs the naive way trains for a sweep's grid (its metrics' "grid"): every
    (L, M, N, seed) from scratch, i.e. sum(L) x |M| x |N| x K epochs of train_n images."""
    variations = len(grid["dropout"]) * len(grid["hidden"]) * len(grid["seeds"])
    return sum(grid["epochs"]) * variations * train_n / FULL_TRAIN_N


# ---- the backends side by side


def backend_sweep(backend, grid, data_dir, out_dir):
    """(seconds of start-up, seconds of the sweep, its rows) of the sweep on one backend; Ray is
    started here first, so its start-up is timed apart, and the sweep then finds it running."""
    startup, ray = 0.0, None
    if backend == "ray":
        ray = sweep_backends.import_ray()
        t0 = time.perf_counter()
        sweep_backends.start_ray(ray, cpus=task4_experiment.cpu_count())
        startup = time.perf_counter() - t0
    try:
        seconds, _ = timed_sweep(sweep_flags(grid, data_dir, out_dir) + ["--backend", backend])
    finally:
        if ray is not None:
            ray.shutdown()
    rows = task4_experiment.read_rows(out_dir / task4_experiment.CSV_NAME)
    return (
        startup,
        seconds,
        sorted(tuple(v for k, v in r.items() if k != "elapsed_seconds") for r in rows),
    )


def compare_backends(backends, grid, data_dir, out_dir):
    """The sweep of `grid` (task4_experiment.py flags; [] = its default grid) on each backend, one
    after the other: start-up, sweep, total, and whether the rows are the same."""
    out, rows = {"grid": grid or "default", "cores": task4_experiment.cpu_count()}, {}
    for backend in backends:
        startup, seconds, rows[backend] = backend_sweep(
            backend, grid, data_dir, out_dir / f"sweep_{backend}"
        )
        out[backend] = {"startup_s": startup, "sweep_s": seconds, "total_s": startup + seconds}
        print(
            f"{backend}: start-up {startup:.1f}s, sweep {seconds:.1f}s (data loading and figures "
            f"included), total {startup + seconds:.1f}s",
            flush=True,
        )
    if {"local", "ray"} <= set(backends):
        out["ray_over_local"] = ratio = out["ray"]["total_s"] / out["local"]["total_s"]
        out["same_rows"] = rows["ray"] == rows["local"]
        print(
            f"Ray / local: {ratio:.3f} (target <= {TARGET_RAY_SLOWDOWN:g}: "
            f"{'met' if ratio <= TARGET_RAY_SLOWDOWN else 'NOT met'}); "
            f"sweep alone {out['ray']['sweep_s'] / out['local']['sweep_s']:.3f}; "
            f"same rows: {'yes' if out['same_rows'] else 'NO'}"
        )
    return out


# ---- the canonical epoch against the sweep


def time_canonical(data_dir, threads):
    """One canonical epoch on FashionMNIST with `threads` torch threads (None: torch's choice)."""
    if threads:
        torch.set_num_threads(threads)
    out = {"threads": torch.get_num_threads(), "cores": task4_experiment.cpu_count()}
    print(
        f"canonical tutorial pipeline, 1 epoch on FashionMNIST ({out['threads']} torch threads) "
        "...",
        flush=True,
    )
    (epoch_s,), acc = canonical_epochs("FashionMNIST", data_dir)
    print(f"canonical epoch: {epoch_s:.1f}s (test accuracy after it {100 * acc:.2f}%)")
    return {**out, "canonical_epoch_s": epoch_s, "canonical_epoch_accuracy": acc}


def compare_parallel(data_dir):
    """Training seconds of PARALLEL_GRID with 2 workers x 1 thread and with 1 worker x 2 threads."""
    out = {}
    for workers, threads in ((2, 1), (1, 2)):
        with tempfile.TemporaryDirectory() as tmp:
            flags = [*PARALLEL_GRID, "--train-limit", str(PARALLEL_TRAIN_N)]
            flags += ["--workers", str(workers), "--threads", str(threads)]
            _, m = timed_sweep(sweep_flags(flags, data_dir, tmp))
        out[f"parallel_{workers}x{threads}_s"] = m["sweep_seconds"]
    print(
        f"2 runs of 1 epoch on {PARALLEL_TRAIN_N} images: 2 workers x 1 thread "
        f"{out['parallel_2x1_s']:.1f}s, 1 worker x 2 threads {out['parallel_1x2_s']:.1f}s "
        "(training only, worker start-up included)"
    )
    return out


def time_sweep(quick, data_dir, out_dir, epoch_s):
    """The sweep (QUICK_GRID if `quick`, else the default grid) against the naive way's epochs of
    `epoch_s` seconds each."""
    name = "quick" if quick else "default"
    grid = QUICK_GRID if quick else []
    seconds, metrics = timed_sweep(
        sweep_flags(grid, data_dir, out_dir / ("sweep_quick" if quick else "sweep"))
    )
    naive = naive_epochs(metrics["grid"], metrics["train_n"])
    ratio = naive * epoch_s / seconds
    print(
        f"canonical pipeline x {naive:g} epochs (the naive way to run this grid): "
        f"{naive * epoch_s:.0f}s ({naive * epoch_s / 60:.1f} min)"
    )
    print(
        f"our sweep ({name} grid, {metrics['workers']} worker(s) x {metrics['threads']} "
        f"thread(s)): {seconds:.0f}s ({seconds / 60:.1f} min)"
    )
    print(
        f"ratio {ratio:.1f}x (target >= {TARGET_RATIO:g}): "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}"
    )
    if not quick:
        within = "yes" if seconds <= TARGET_SECONDS else "no"
        print(f"sweep <= {TARGET_SECONDS / 60:g} min: {within}")
    return {
        "sweep": name,
        "sweep_s": seconds,
        "naive_epochs": naive,
        "naive_extrapolated_s": naive * epoch_s,
        "ratio": ratio,
        "best": metrics["best"],
        "workers": metrics["workers"],
        "sweep_threads": metrics["threads"],
    }


def main(argv=None):
    args = parse_args(argv)
    if args.backends:
        grid = shlex.split(args.sweep_args) if args.sweep_args else QUICK_GRID if args.quick else []
        out = compare_backends(args.backends, grid, args.data_dir, args.out_dir)
        path = args.out_dir / "bench_task4_backends.json"
    else:
        out = time_canonical(args.data_dir, args.canonical_threads)
        if args.compare_parallel:
            out.update(compare_parallel(args.data_dir))
        if not args.skip_sweep:
            out.update(
                time_sweep(args.quick, args.data_dir, args.out_dir, out["canonical_epoch_s"])
            )
        path = args.out_dir / "bench_task4.json"
    files.write_json(out, path)
    print(f"written {path}")


if __name__ == "__main__":
    cli.run(main)
