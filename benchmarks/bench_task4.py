"""Benchmark of Task 4: our sweep against the canonical tutorial pipeline run once per variation.

    python benchmarks/bench_task4.py                      # one canonical epoch + the full default sweep
    python benchmarks/bench_task4.py --quick              # one canonical epoch + a reduced sweep
    python benchmarks/bench_task4.py --compare-parallel   # also: 2 single-thread workers vs 1 process x 2 threads
    python benchmarks/bench_task4.py --backends local ray # only: the default sweep on each backend, side by side

The canonical pipeline is the PyTorch MNIST tutorial's, on FashionMNIST: torchvision's
dataset with per-image ToTensor + Normalize, a shuffled DataLoader of batch 64, the same
Net, SGD lr 0.01 momentum 0.5, then the test set in batches of 1000.  Run naively, the
report's 60 variations cost sum(L) x 15 = 270 such epochs.  Prints the canonical epoch,
its extrapolation to 270 epochs, the sweep's wall time (task4_experiment.py with --fresh,
data loading and figures included), the ratio (target >= 8) and whether the sweep took
<= 5 minutes.  With --backends, it times only the sweep on each backend named, one after
the other in this process, Ray's start-up (ray.init, before the sweep) apart from its sweep;
the target is Ray's start-up plus sweep at most 10 % above the local sweep, with the same rows.
Writes bench_task4.json to --out-dir.  Timings depend on what else the
machine runs: say so when you report them.
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
from recognition.paths import DATA_DIR, OUT_DIR

QUICK_GRID = ["--epochs", "1", "2", "--dropout", "0.5", "--hidden", "20", "100"]
PARALLEL_GRID = [
    "--epochs",
    "1",
    "--dropout",
    "0.5",
    "--hidden",
    "20",
    "100",
    "--train-limit",
    "20000",
]
TARGET_RATIO, TARGET_SECONDS = 8.0, 300.0
TARGET_RAY_SLOWDOWN = 1.10  # Ray's start-up + sweep against the local sweep


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="where FashionMNIST is kept (default: data/)",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=OUT_DIR / "bench_task4",
        help="where bench_task4.json goes (default: outputs/bench_task4/)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"time a reduced sweep ({' '.join(QUICK_GRID)}) instead of the default grid (default: off)",
    )
    p.add_argument(
        "--compare-parallel",
        action="store_true",
        help="also time 2 workers x 1 thread against 1 worker x 2 threads on "
        f"{' '.join(PARALLEL_GRID)} (default: off)",
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
        choices=["local", "ray"],
        default=None,
        help="time only the sweep (the --quick grid with --quick) on each of these backends, side by "
        "side (default: off)",
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


def naive_epochs(argv):
    """Epochs the naive way trains for a grid: every (L, M, N, seed) from scratch, i.e. sum(L) x |M| x |N| x K."""
    a = task4_experiment.parse_args(argv)
    return (
        sum(set(a.epochs))
        * len(set(a.dropout))
        * len(set(a.hidden))
        * a.repeats
        * (a.train_limit or 60000)
        / 60000
    )


def timed_sweep(argv):
    t0 = time.perf_counter()
    metrics = task4_experiment.main(argv)
    return time.perf_counter() - t0, metrics


def backend_sweep(backend, sweep_argv):
    """(seconds of start-up, seconds of the sweep, its rows) of the sweep on one backend; Ray is started
    here first, so its start-up is timed apart, and the sweep then finds it running."""
    startup, ray = 0.0, None
    if backend == "ray":
        ray = sweep_backends.import_ray()
        t0 = time.perf_counter()
        sweep_backends.start_ray(ray, cpus=task4_experiment.cpu_count())
        startup = time.perf_counter() - t0
    try:
        seconds, metrics = timed_sweep(sweep_argv + ["--backend", backend])
    finally:
        if ray is not None:
            ray.shutdown()
    rows = task4_experiment.read_rows(
        Path(sweep_argv[sweep_argv.index("--out-dir") + 1]) / task4_experiment.CSV_NAME
    )
    return (
        startup,
        seconds,
        sorted(tuple(v for k, v in r.items() if k != "elapsed_seconds") for r in rows),
    )


def compare_backends(args):
    """The sweep on each of args.backends, one after the other: start-up, sweep, total, and the same rows?"""
    grid = shlex.split(args.sweep_args) if args.sweep_args else QUICK_GRID if args.quick else []
    out, rows = {"grid": grid or "default", "cores": task4_experiment.cpu_count()}, {}
    for backend in args.backends:
        argv = grid + [
            "--data-dir",
            str(args.data_dir),
            "--fresh",
            "--out-dir",
            str(args.out_dir / f"sweep_{backend}"),
        ]
        startup, seconds, rows[backend] = backend_sweep(backend, argv)
        out[backend] = {"startup_s": startup, "sweep_s": seconds, "total_s": startup + seconds}
        print(
            f"{backend}: start-up {startup:.1f}s, sweep {seconds:.1f}s (data loading and figures included), "
            f"total {startup + seconds:.1f}s",
            flush=True,
        )
    if {"local", "ray"} <= set(args.backends):
        out["ray_over_local"] = out["ray"]["total_s"] / out["local"]["total_s"]
        out["same_rows"] = rows["ray"] == rows["local"]
        print(
            f"Ray / local: {out['ray_over_local']:.3f} (target <= {TARGET_RAY_SLOWDOWN:g}: "
            f"{'met' if out['ray_over_local'] <= TARGET_RAY_SLOWDOWN else 'NOT met'}); "
            f"sweep alone {out['ray']['sweep_s'] / out['local']['sweep_s']:.3f}; "
            f"same rows: {'yes' if out['same_rows'] else 'NO'}"
        )
    return out


def main(argv=None):
    args = parse_args(argv)
    if args.backends:
        files.write_json(compare_backends(args), args.out_dir / "bench_task4_backends.json")
        print(f"written {args.out_dir / 'bench_task4_backends.json'}")
        return
    if args.canonical_threads:
        torch.set_num_threads(args.canonical_threads)
    out = {"threads": torch.get_num_threads(), "cores": task4_experiment.cpu_count()}
    print(
        f"canonical tutorial pipeline, 1 epoch on FashionMNIST ({out['threads']} torch threads) ...",
        flush=True,
    )
    (epoch_s,), acc = canonical_epochs("FashionMNIST", args.data_dir)
    out.update(canonical_epoch_s=epoch_s, canonical_epoch_accuracy=acc)
    print(f"canonical epoch: {epoch_s:.1f}s (test accuracy after it {100 * acc:.2f}%)")

    if args.compare_parallel:
        for workers, threads in ((2, 1), (1, 2)):
            with tempfile.TemporaryDirectory() as tmp:
                _, m = timed_sweep(
                    PARALLEL_GRID
                    + [
                        "--workers",
                        str(workers),
                        "--threads",
                        str(threads),
                        "--data-dir",
                        str(args.data_dir),
                        "--out-dir",
                        tmp,
                    ]
                )
            out[f"parallel_{workers}x{threads}_s"] = m["sweep_seconds"]
        print(
            f"2 runs of 1 epoch on 20000 images: 2 workers x 1 thread {out['parallel_2x1_s']:.1f}s, "
            f"1 worker x 2 threads {out['parallel_1x2_s']:.1f}s (training only, worker start-up included)"
        )

    if not args.skip_sweep:
        grid = QUICK_GRID if args.quick else []
        sweep_argv = grid + [
            "--data-dir",
            str(args.data_dir),
            "--fresh",
            "--out-dir",
            str(args.out_dir / ("sweep_quick" if args.quick else "sweep")),
        ]
        naive = naive_epochs(sweep_argv)
        seconds, metrics = timed_sweep(sweep_argv)
        ratio = naive * epoch_s / seconds
        out.update(
            sweep="quick" if args.quick else "default",
            sweep_s=seconds,
            naive_epochs=naive,
            naive_extrapolated_s=naive * epoch_s,
            ratio=ratio,
            best=metrics["best"],
            workers=metrics["workers"],
            sweep_threads=metrics["threads"],
        )
        print(
            f"canonical pipeline x {naive:g} epochs (the naive way to run this grid): {naive * epoch_s:.0f}s "
            f"({naive * epoch_s / 60:.1f} min)"
        )
        print(
            f"our sweep ({out['sweep']} grid, {metrics['workers']} worker(s) x {metrics['threads']} thread(s)): "
            f"{seconds:.0f}s ({seconds / 60:.1f} min)"
        )
        print(
            f"ratio {ratio:.1f}x (target >= {TARGET_RATIO:g}): {'met' if ratio >= TARGET_RATIO else 'NOT met'}"
        )
        if not args.quick:
            print(
                f"sweep <= {TARGET_SECONDS / 60:g} min: {'yes' if seconds <= TARGET_SECONDS else 'no'}"
            )
    files.write_json(out, args.out_dir / "bench_task4.json")
    print(f"written {args.out_dir / 'bench_task4.json'}")


if __name__ == "__main__":
    cli.run(main)
