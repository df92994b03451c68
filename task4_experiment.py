"""Task 4: FashionMNIST sweep over epochs x dropout x hidden units (report Figs 14, 15 and results).

    python task4_experiment.py                        # the report's 60 variations, its SGD recipe
    python task4_experiment.py --recipe adamw-decay   # the same grid, AdamW with a per-epoch decay
    python task4_experiment.py --repeats 3            # every variation with 3 seeds: mean +- std
    python task4_experiment.py --epochs 1 2 --dropout 0.5 --hidden 20 --train-limit 2000   # a quick try
    python task4_experiment.py --backend ray --ray-address auto       # one Ray task per run, on a cluster

Each (dropout, hidden, seed) is trained once to the longest --epochs and evaluated after each listed
epoch, on one single-thread worker per core (or as Ray tasks: sweep_backends.py); each run's rows
go to results.csv as it ends, and a rerun resumes.  Expect the best variation at ~87 % (report:
86 %; adamw-decay ~90 %) in about 4.5 minutes on an idle 2-core CPU.
"""

import csv
import functools
import io
import json
import math
import os
import statistics
import time
import warnings
import zlib

import numpy as np
import torch

from models import Net, layer_table
from recognition import cli, datasets, files, plots, recipes, sweep_backends, training
from recognition.errors import UsageError

DATASET = "FashionMNIST"
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
CSV_NAME = "results.csv"
KEY_FIELDS = ["epochs", "dropout", "hidden", "seed", "recipe", "train_n", "test_n"]
FIELDS = KEY_FIELDS + ["test_accuracy", "test_loss", "train_loss", "elapsed_seconds"]
LEGACY_FIELDS = KEY_FIELDS + [
    "test_accuracy",
    "test_loss",
    "train_loss",
    "seconds",
]  # before elapsed_seconds
LEGACY_RECIPES = {"fashion": "adamw-decay"}  # rows written before the recipes had one table

RECIPE_CHOICES = [
    "report",
    "adamw-decay",
]  # prefix sharing needs a learning rate set by the epoch index alone

# The report's plan (its section B): one prediction per dimension, with the sign of the expected effect.
HYPOTHESES = {
    "epochs": (
        +1,
        "more epochs raise test accuracy, with shrinking gains: at 3 epochs the net still underfits",
    ),
    "dropout": (
        -1,
        "more dropout lowers test accuracy: within 3-6 epochs the net underfits rather than "
        "overfits, so regularisation costs more than it gives",
    ),
    "hidden": (
        +1,
        "more hidden units raise test accuracy, levelling off: 320 features feed the hidden layer, "
        "so a few dozen units already carry most of what the convolutions found",
    ),
}
DROPOUT_NOTE = (
    "note: the report names dropout 0.6 for its best variation although its grid was 0.3/0.5/0.7; "
    "this sweep uses the grid as given (--dropout)."
)


def parse_args(argv=None):
    p = cli.parser(__doc__, "task4")
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        nargs="+",
        default=[3, 4, 5, 6],
        help="training lengths L to evaluate (default: 3 4 5 6)",
    )
    p.add_argument(
        "--dropout",
        type=cli.dropout_rate,
        nargs="+",
        default=[0.3, 0.5, 0.7],
        help="dropout rates M of the Dropout2d layer (default: 0.3 0.5 0.7)",
    )
    p.add_argument(
        "--hidden",
        type=cli.positive_int,
        nargs="+",
        default=[20, 40, 60, 80, 100],
        help="hidden units N of the first fully connected layer (default: 20 40 60 80 100)",
    )
    p.add_argument(
        "--repeats",
        type=cli.positive_int,
        default=1,
        help="run each variation K times, with seeds --seed, --seed+1, ..., and report mean +- std "
        "(default: 1)",
    )
    p.add_argument(
        "--recipe",
        choices=RECIPE_CHOICES,
        default="report",
        help="; ".join(recipes.describe(r) for r in RECIPE_CHOICES) + " (default: report)",
    )
    p.add_argument(
        "--workers",
        type=cli.positive_int,
        default=None,
        help="worker processes, each training one variation at a time (default: one per CPU core)",
    )
    p.add_argument(
        "--threads",
        type=cli.positive_int,
        default=None,
        help="torch threads per worker or Ray task (which asks Ray for as many CPUs) "
        "(default: cores / workers, at least 1)",
    )
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="where the runs execute: local worker processes, or one Ray task per run (default: local)",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        help="with --backend ray: a running Ray cluster to join, 'auto' for the one on this machine "
        "(default: start a Ray instance of --workers x --threads CPUs here)",
    )
    p.add_argument(
        "--gpus-per-run",
        type=cli.positive_float,
        default=1.0,
        help="with --backend ray and --device cuda: the GPU share of each run, e.g. 0.25 (default: 1)",
    )
    cli.add_limits(p)
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start results.csv over instead of resuming from the rows already in it (default: off)",
    )
    return p.parse_args(argv)


def cpu_count():
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


# ---- one variation: train to max(L) epochs, evaluate after each epoch in L


def variation_seed(seed, dropout, hidden):
    """The torch seed of one (seed, M, N): fixed by those three alone, whichever worker runs it and when."""
    return zlib.crc32(f"{seed}/{dropout:g}/{hidden}".encode())


def load_raw(data_dir, train_limit=None, test_limit=None):
    """((uint8 images, labels) of the training split, (the same) of the test split) of FashionMNIST."""
    return tuple(
        datasets.load_split(DATASET, train=train, data_dir=data_dir, limit=limit)
        for train, limit in ((True, train_limit), (False, test_limit))
    )


def to_inputs(raw, device="cpu"):
    """Normalise both splits with FashionMNIST's own statistics: ((x_train, y_train), (x_test, y_test))."""
    return tuple((datasets.normalize(x, DATASET).to(device), y.to(device)) for x, y in raw)


def train_variation(train, test, recipe_name, dropout, hidden, seed, eval_epochs):
    """Train Net(hidden, dropout) to max(eval_epochs) epochs, evaluating on `test` after each epoch in eval_epochs.

    Returns training.fit's history (test set only; train_loss is the epoch's mean batch loss in train
    mode, label-smoothed where the recipe smooths).
    """
    recipe = recipes.RECIPES[recipe_name]
    if recipe.depends_on_total_epochs():
        raise ValueError(
            f"recipe {recipe.name!r} schedules over the total epoch count: prefixes would differ"
        )
    generator = training.set_seed(
        variation_seed(seed, dropout, hidden)
    )  # init, dropout masks, batch order
    model = training.prepare(
        Net(num_classes=len(CLASS_NAMES), hidden=hidden, dropout=dropout), train[0].device
    )
    return training.fit(
        model,
        train,
        test,
        recipe,
        max(eval_epochs),
        generator,
        eval_epochs=eval_epochs,
        eval_train=False,
    )


def train_job(inputs, job):
    """One sweep run on a backend: train_variation on `inputs` (to_inputs's pair) with the job's settings."""
    return train_variation(*inputs, **job)


# ---- results.csv: one row per variation, appended as each finishes


def row_key(row):
    return (
        int(row["epochs"]),
        round(float(row["dropout"]), 6),
        int(row["hidden"]),
        int(row["seed"]),
        str(row["recipe"]),
        int(row["train_n"]),
        int(row["test_n"]),
    )


def _csv_line(values):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def start_csv(path):
    """A results file with just the header (atomically replacing any earlier one)."""
    files.write_text(_csv_line(FIELDS), path)


def _repaired(path, text):
    """The text of results.csv with a last line cut short by an interruption dropped, and rows of the
    previous column and recipe names renamed; the file is rewritten (atomically) if anything changed."""
    fixed = text
    if fixed and not fixed.endswith("\n"):
        warnings.warn(f"{path}: dropping an incomplete last line left by an interrupted run")
        fixed = fixed[: fixed.rfind("\n") + 1]
    if fixed.startswith(_csv_line(LEGACY_FIELDS)):
        fixed = _csv_line(FIELDS) + fixed[len(_csv_line(LEGACY_FIELDS)) :]
        for old, new in LEGACY_RECIPES.items():
            fixed = fixed.replace(f",{old},", f",{new},")
    if fixed != text:
        files.write_text(fixed, path)
    return fixed


def read_rows(path):
    """The rows of results.csv, typed (the file repaired first if an interruption cut its last line)."""
    if not path.is_file():
        return []
    lines = list(csv.reader(io.StringIO(_repaired(path, path.read_text()))))
    if not lines:
        return []
    if lines[0] != FIELDS:
        raise UsageError(
            f"{path} has the columns {lines[0]}, not {FIELDS}; pass --fresh to start it over"
        )
    rows = []
    for n, values in enumerate(lines[1:], start=2):
        try:
            if len(values) != len(FIELDS):
                raise ValueError
            row = dict(zip(FIELDS, values))
            rows.append(
                {
                    **row,
                    **{f: float(row[f]) for f in FIELDS[len(KEY_FIELDS) :]},
                    **dict(zip(KEY_FIELDS, row_key(row))),
                }
            )
        except ValueError:
            raise UsageError(
                f"{path}, line {n}, is not a result row; pass --fresh to start it over"
            ) from None
    return rows


def append_rows(path, rows):
    """Append whole rows in one write, flushed to disk, so an interruption never leaves half a row."""
    text = "".join(_csv_line([r[f] for f in FIELDS]) for r in rows)
    with open(path, "a") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def history_path(out_dir, recipe, dropout, hidden, seed, train_n):
    return (
        out_dir
        / "histories"
        / f"{recipe}_dropout{dropout:g}_hidden{hidden}_seed{seed}_train{train_n}.json"
    )


# ---- summaries


def summarize(rows):
    """Per (L, M, N): mean and standard deviation (over seeds) of accuracy and losses; sorted by L, M, N."""
    groups = {}
    for r in rows:
        groups.setdefault((r["epochs"], r["dropout"], r["hidden"]), []).append(r)
    table = []
    for (epochs, dropout, hidden), rs in sorted(groups.items()):
        acc = [r["test_accuracy"] for r in rs]
        table.append(
            {
                "epochs": epochs,
                "dropout": dropout,
                "hidden": hidden,
                "seeds": len(rs),
                "accuracy_mean": statistics.fmean(acc),
                "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                "test_loss_mean": statistics.fmean(r["test_loss"] for r in rs),
                "train_loss_mean": statistics.fmean(r["train_loss"] for r in rs),
                "elapsed_seconds_mean": statistics.fmean(r["elapsed_seconds"] for r in rs),
            }
        )
    return table


def format_table(table):
    lines = [
        f"{'L':>3} {'M':>5} {'N':>5}  {'test accuracy (%)':>18}  {'test loss':>9}  {'train loss':>10}"
    ]
    for t in table:
        pm = f" +- {100 * t['accuracy_std']:.2f}" if t["seeds"] > 1 else ""
        lines.append(
            f"{t['epochs']:>3} {t['dropout']:>5g} {t['hidden']:>5}  {100 * t['accuracy_mean']:>9.2f}{pm:<9}"
            f"  {t['test_loss_mean']:>9.4f}  {t['train_loss_mean']:>10.4f}"
        )
    return "\n".join(lines)


def dimension_effects(rows):
    """For each dimension: its values, and per value the mean accuracy (other dimensions averaged) and the
    standard deviation of that mean over seeds (None with one seed)."""
    seeds = sorted({r["seed"] for r in rows})
    effects = {}
    for dim in ("epochs", "dropout", "hidden"):
        values = sorted({r[dim] for r in rows})
        per_seed = np.array(
            [
                [
                    statistics.fmean(
                        r["test_accuracy"] for r in rows if r[dim] == v and r["seed"] == s
                    )
                    for v in values
                ]
                for s in seeds
            ]
        )  # (seeds, values)
        effects[dim] = {
            "values": values,
            "mean": per_seed.mean(0).tolist(),
            "std": per_seed.std(0, ddof=1).tolist() if len(seeds) > 1 else None,
        }
    return effects


def judge_hypotheses(rows):
    """Compare each prediction with the outcome: the change in accuracy from the dimension's smallest to its
    largest value, paired over every setting of the other dimensions and seed.

    The verdict is 'supported' or 'contradicted' when the mean paired change is more than twice its
    standard error away from zero, else 'inconclusive'.
    """
    verdicts = {}
    for dim, (sign, text) in HYPOTHESES.items():
        values = sorted({r[dim] for r in rows})
        verdict = {
            "prediction": text,
            "change_points": None,
            "standard_error": None,
            "pairs": 0,
            "verdict": "not tested (one value)",
        }
        if len(values) > 1:
            others = [k for k in ("epochs", "dropout", "hidden", "seed") if k != dim]
            acc = {(tuple(r[k] for k in others), r[dim]): r["test_accuracy"] for r in rows}
            diffs = [
                100 * (acc[(o, values[-1])] - acc[(o, values[0])])
                for o in {o for o, _ in acc}
                if (o, values[0]) in acc and (o, values[-1]) in acc
            ]
            change = statistics.fmean(diffs)
            se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.inf
            verdict.update(
                change_points=change,
                standard_error=se,
                pairs=len(diffs),
                verdict="inconclusive: within twice the standard error"
                if abs(change) <= 2 * se
                else ("supported" if change * sign > 0 else "contradicted"),
            )
        verdicts[dim] = verdict
    return verdicts


def draw_figures(rows, best, out, args, recipe_name):
    effects = dimension_effects(rows)
    seeds = len({r["seed"] for r in rows})
    label = {"epochs": "epochs L", "dropout": "dropout M", "hidden": "hidden units N"}
    plots.accuracy_vs_dimension(
        [(label[d], e["values"], e["mean"], e["std"]) for d, e in effects.items()],
        out / "accuracy_vs_dimension.png",
        title=f"FashionMNIST, recipe '{recipe_name}': accuracy against each dimension, the others averaged"
        + (f" (mean +- std over {seeds} seeds)" if seeds > 1 else ""),
        show=args.show,
    )
    table = summarize(rows)
    epochs, dropouts, hiddens = (
        sorted({t[k] for t in table}) for k in ("epochs", "dropout", "hidden")
    )
    acc = {(t["epochs"], t["dropout"], t["hidden"]): t["accuracy_mean"] for t in table}
    plots.heatmaps(
        [[[acc.get((L, m, n), np.nan) for n in hiddens] for m in dropouts] for L in epochs],
        [f"{m:g}" for m in dropouts],
        hiddens,
        [f"L = {L} epochs" for L in epochs],
        out / "heatmaps_dropout_hidden.png",
        row_label="dropout M",
        col_label="hidden units N",
        suptitle=f"Test accuracy (%), FashionMNIST, recipe '{recipe_name}'",
        show=args.show,
    )
    if len(table) > 1:
        plots.parallel_coordinates(
            ["epochs L", "dropout M", "hidden units N", "test accuracy"],
            [[t["epochs"], t["dropout"], t["hidden"], t["accuracy_mean"]] for t in table],
            out / "parallel_coordinates.png",
            title=f"All {len(table)} variations, recipe '{recipe_name}'",
            show=args.show,
        )
    model = Net(num_classes=len(CLASS_NAMES), hidden=best["hidden"], dropout=best["dropout"])
    plots.network_diagram(
        layer_table(model),
        out / "fig15_best_network.png",
        title=f"Fig 15: the best network (L={best['epochs']}, M={best['dropout']:g}, "
        f"N={best['hidden']}), {100 * best['accuracy_mean']:.2f}% test accuracy",
        show=args.show,
    )
    return effects


def sweep_grid(args):
    """The grid the flags ask for: sorted unique epochs, dropouts, hiddens, and the seeds."""
    return {
        "epochs": sorted(set(args.epochs)),
        "dropout": sorted(set(round(m, 6) for m in args.dropout)),
        "hidden": sorted(set(args.hidden)),
        "seeds": [args.seed + k for k in range(args.repeats)],
    }


def print_plan(grid, recipe):
    """The report's sections A and B: the grid and one prediction per dimension."""
    n_var = len(grid["epochs"]) * len(grid["dropout"]) * len(grid["hidden"])
    print(
        f"Task 4: {n_var} variations of Net on {DATASET} (epochs {grid['epochs']} x dropout "
        f"{[f'{m:g}' for m in grid['dropout']]} x hidden {grid['hidden']}), {len(grid['seeds'])} seed(s), "
        f"recipe '{recipe}'"
    )
    print(DROPOUT_NOTE)
    print("hypotheses:")
    for dim, (sign, text) in HYPOTHESES.items():
        print(f"  {dim}: {text}")


def plan_jobs(grid, recipe, sizes, done):
    """(jobs for the (M, N, seed) runs with rows still missing, every row key the grid wants)."""
    jobs, wanted = [], set()
    for seed in grid["seeds"]:
        for hidden in reversed(grid["hidden"]):  # the largest first, so the pool ends on short jobs
            for dropout in grid["dropout"]:
                keys = [(L, dropout, hidden, seed, recipe, *sizes) for L in grid["epochs"]]
                wanted.update(keys)
                if not set(keys) <= done:
                    jobs.append(
                        {
                            "recipe_name": recipe,
                            "dropout": dropout,
                            "hidden": hidden,
                            "seed": seed,
                            "eval_epochs": tuple(grid["epochs"]),
                        }
                    )
    return jobs, wanted


def result_rows(job, history, sizes):
    """results.csv rows of one finished run, one per evaluated epoch."""
    return [
        {
            "epochs": e["epoch"],
            "dropout": job["dropout"],
            "hidden": job["hidden"],
            "seed": job["seed"],
            "recipe": job["recipe_name"],
            "train_n": sizes[0],
            "test_n": sizes[1],
            "test_accuracy": e["test_accuracy"],
            "test_loss": e["test_loss"],
            "train_loss": e["train_loss"],
            "elapsed_seconds": round(e["elapsed_seconds"], 3),
        }
        for e in history["epochs"]
    ]


def run_sweep(jobs, raw, csv_path, done, backend):
    """Train every job on `backend` (see make_backend), writing each run's history and appending its new
    rows to results.csv in this process as it ends."""
    sizes, t_sweep, finished = (len(raw[0][1]), len(raw[1][1])), time.perf_counter(), [0]

    def on_done(job, history):
        hist_file = history_path(
            csv_path.parent,
            job["recipe_name"],
            job["dropout"],
            job["hidden"],
            job["seed"],
            sizes[0],
        )
        files.write_json(
            {
                **{k: job[k] for k in ("recipe_name", "dropout", "hidden", "seed")},
                "train_n": sizes[0],
                "test_n": sizes[1],
                **history,
            },
            hist_file,
        )
        append_rows(
            csv_path, [r for r in result_rows(job, history, sizes) if row_key(r) not in done]
        )
        finished[0] += 1
        accs = " ".join(f"L{e['epoch']}={100 * e['test_accuracy']:.2f}%" for e in history["epochs"])
        print(
            f"[{finished[0]}/{len(jobs)}] M={job['dropout']:g} N={job['hidden']} seed={job['seed']}: {accs}  "
            f"({history['epochs'][-1]['elapsed_seconds']:.0f}s; {time.perf_counter() - t_sweep:.0f}s so far)",
            flush=True,
        )

    if jobs:
        backend(jobs, raw, on_done)
    return time.perf_counter() - t_sweep


def report_outcome(rows, out, args):
    """Section C: the table, the best variation, the figures and each hypothesis against the outcome."""
    table = summarize(rows)
    print(format_table(table))
    best = max(table, key=lambda t: (t["accuracy_mean"], -t["epochs"], -t["hidden"]))
    print(
        f"best variation: L={best['epochs']} epochs, dropout M={best['dropout']:g}, hidden N={best['hidden']}: "
        f"test accuracy {100 * best['accuracy_mean']:.2f}%"
        + (
            f" +- {100 * best['accuracy_std']:.2f} over {best['seeds']} seeds"
            if best["seeds"] > 1
            else ""
        )
    )
    effects = draw_figures(rows, best, out, args, args.recipe)
    verdicts = judge_hypotheses(rows)
    print(
        "hypotheses against the outcome (mean accuracy per value, the other dimensions averaged):"
    )
    for dim, v in verdicts.items():
        e = effects[dim]
        values = "  ".join(f"{x:g}: {100 * m:.2f}%" for x, m in zip(e["values"], e["mean"]))
        change = (
            ""
            if v["change_points"] is None
            else f" (first to last {v['change_points']:+.2f} +- {v['standard_error']:.2f} points, {v['pairs']} pairs)"
        )
        print(f"  {dim}: {values}{change} -> {v['verdict']}")
    print(DROPOUT_NOTE)
    return table, best, verdicts


def best_loss_curves(out, recipe_name, best, seed, train_n, show):
    """Fig 14: train and test loss of the best variation (its first seed), from its saved history."""
    hist_file = history_path(out, recipe_name, best["dropout"], best["hidden"], seed, train_n)
    if not hist_file.is_file():
        warnings.warn(f"no {hist_file.name}: fig14 skipped (rerun with --fresh to redo the runs)")
        return
    history = json.loads(hist_file.read_text())
    smoothing = recipes.RECIPES[recipe_name].label_smoothing
    note = (
        f"\ntrain loss with label smoothing {smoothing:g}, test loss plain NLL" if smoothing else ""
    )
    history = {
        "train_log": [p for p in history["train_log"] if p[0] <= best["epochs"] * train_n],
        "epochs": [e for e in history["epochs"] if e["epoch"] <= best["epochs"]],
    }
    plots.loss_curves(
        history,
        out / "fig14_loss_curves.png",
        show=show,
        title=f"Fig 14: best variation L={best['epochs']}, M={best['dropout']:g}, "
        f"N={best['hidden']} (seed {seed})" + note,
    )


def make_backend(args, workers, threads, device):
    """backend(jobs, raw, on_done): the flags' sweep_backends function with everything but those bound."""
    common = dict(prepare=to_inputs, train=train_job, threads=threads, device=device)
    if args.backend == "ray":
        return functools.partial(
            sweep_backends.run_ray,
            address=args.ray_address,
            cpus=workers * threads,
            gpus_per_run=args.gpus_per_run,
            **common,
        )
    return functools.partial(sweep_backends.run_local, workers=workers, **common)


def main(argv=None):
    t_start = time.perf_counter()
    args = parse_args(argv)
    if args.backend == "ray":
        sweep_backends.check_ray(
            args.ray_address
        )  # before any work: a missing Ray or cluster is one line at once
    # On a cluster the GPUs may be on the other nodes: there, Ray checks that --device cuda has some.
    on_cluster_gpus = args.backend == "ray" and args.device == "cuda"
    device = torch.device("cuda") if on_cluster_gpus else cli.device(args.device)
    grid, out = sweep_grid(args), args.out_dir
    workers = args.workers or cpu_count()
    if device.type != "cpu" and workers > 1 and args.backend == "local":
        warnings.warn(f"--device {device}: training one variation at a time in this process")
        workers = 1
    print_plan(grid, args.recipe)
    raw = load_raw(args.data_dir, args.train_limit, args.test_limit)
    sizes = (
        len(raw[0][1]),
        len(raw[1][1]),
    )  # part of each row's key: a quick run never passes for a full one
    csv_path = out / CSV_NAME
    if args.fresh or not csv_path.is_file():
        start_csv(csv_path)
    done = {row_key(r) for r in read_rows(csv_path)}
    jobs, wanted = plan_jobs(grid, args.recipe, sizes, done)
    workers = max(1, min(workers, len(jobs)))
    threads = args.threads or max(1, cpu_count() // workers)
    print(
        f"{len(wanted & done)} of {len(wanted)} rows already in {csv_path}; {len(jobs)} runs of "
        f"{max(grid['epochs'])} epochs to go on {workers} worker(s) x {threads} thread(s), backend {args.backend}",
        flush=True,
    )
    sweep_seconds = run_sweep(
        jobs, raw, csv_path, done, make_backend(args, workers, threads, device)
    )
    table, best, verdicts = report_outcome(
        [r for r in read_rows(csv_path) if row_key(r) in wanted], out, args
    )
    best_loss_curves(out, args.recipe, best, grid["seeds"][0], sizes[0], args.show)
    metrics = {
        "task": "task4",
        "recipe": args.recipe,
        "lr_decay_per_epoch": recipes.RECIPES[args.recipe].lr_decay,
        "grid": grid,
        "train_n": sizes[0],
        "test_n": sizes[1],
        "backend": args.backend,
        "workers": workers,
        "threads": threads,
        "runs_trained": len(jobs),
        "sweep_seconds": sweep_seconds,
        "table": table,
        "best": best,
        "hypotheses": verdicts,
        "note": DROPOUT_NOTE,
        "wall_time_s": time.perf_counter() - t_start,
    }
    files.write_json(metrics, out / "metrics.json")
    print(
        f"table in {csv_path}; figures and metrics.json in {out}  ({metrics['wall_time_s']:.1f}s, "
        f"training {sweep_seconds:.1f}s)"
    )
    return metrics


if __name__ == "__main__":
    cli.run(main)
