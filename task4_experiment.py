"""Task 4: FashionMNIST, every epochs L x dropout M x hidden units N (report Figs 14, 15, table).

    python task4_experiment.py                        # the report's 60 variations, its SGD recipe
    python task4_experiment.py --recipe adamw-decay   # the same grid, AdamW with a per-epoch decay
    python task4_experiment.py --repeats 3            # every variation with 3 seeds: mean +- std
    python task4_experiment.py --epochs 1 2 --dropout 0.5 --hidden 20 --train-limit 2000  # a try
    python task4_experiment.py --backend ray --ray-address auto   # one Ray task per run, a cluster

Writes to --out-dir: results.csv (a row per variation and seed), fig14_loss_curves.png (the best
variation's losses), fig15_best_network.png (its network), accuracy_vs_dimension.png,
heatmaps_dropout_hidden.png, parallel_coordinates.png, metrics.json and histories/.
Each (M, N, seed) is trained once to the longest L and evaluated after each L, on one
single-thread worker per core (or as Ray tasks: recognition/sweep_backends.py); each run's rows
go to results.csv as it ends, so a rerun resumes.  Expect the best variation at about 87 % (the
report: 86 %; adamw-decay about 90 %) in about 4.5 minutes on an idle 2-core laptop CPU.
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
from dataclasses import asdict, dataclass

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
FIELDS = [*KEY_FIELDS, "test_accuracy", "test_loss", "train_loss", "elapsed_seconds"]

# The defaults: the report's grid and recipe.
EPOCHS = (3, 4, 5, 6)
DROPOUTS = (0.3, 0.5, 0.7)
HIDDEN_UNITS = (20, 40, 60, 80, 100)
REPEATS = 1
RECIPE = "report"
BACKENDS = ("local", "ray")
GPUS_PER_RUN = 1.0
# Prefix sharing needs a learning rate set by the epoch index alone; `transfer` is Task 3's
# (batch 5, for a few dozen letters), not a recipe for 60 000 images.
RECIPE_CHOICES = [
    name
    for name, recipe in recipes.RECIPES.items()
    if not recipe.depends_on_total_epochs() and name != "transfer"
]

# The report's plan (its section B): one prediction per dimension, with the sign of its effect.
HYPOTHESES = {
    "epochs": (
        +1,
        (
            "more epochs raise test accuracy, with shrinking gains: at 3 epochs the net still "
            "underfits"
        ),
    ),
    "dropout": (
        -1,
        (
            "more dropout lowers test accuracy: within 3-6 epochs the net underfits rather than "
            "overfits, so regularisation costs more than it gives"
        ),
    ),
    "hidden": (
        +1,
        (
            "more hidden units raise test accuracy, levelling off: 320 features feed the hidden "
            "layer, so a few dozen units already carry most of what the convolutions found"
        ),
    ),
}
DROPOUT_NOTE = (
    "note: the report names dropout 0.6 for its best variation although its grid was 0.3/0.5/0.7; "
    "this sweep uses the grid as given (--dropout)."
)


def _spaced(values):
    return " ".join(f"{v:g}" for v in values)


def parse_args(argv=None):
    p = cli.parser(__doc__, "task4")
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        nargs="+",
        default=EPOCHS,
        help=f"training lengths L to evaluate (default: {_spaced(EPOCHS)})",
    )
    p.add_argument(
        "--dropout",
        type=cli.dropout_rate,
        nargs="+",
        default=DROPOUTS,
        help=f"dropout rates M of the Dropout2d layer (default: {_spaced(DROPOUTS)})",
    )
    p.add_argument(
        "--hidden",
        type=cli.positive_int,
        nargs="+",
        default=HIDDEN_UNITS,
        help="hidden units N of the first fully connected layer "
        f"(default: {_spaced(HIDDEN_UNITS)})",
    )
    p.add_argument(
        "--repeats",
        type=cli.positive_int,
        default=REPEATS,
        help="run each variation K times, with seeds --seed, --seed+1, ..., and report "
        f"mean +- std (default: {REPEATS})",
    )
    p.add_argument(
        "--recipe",
        choices=RECIPE_CHOICES,
        default=RECIPE,
        help="; ".join(recipes.describe(r) for r in RECIPE_CHOICES) + f" (default: {RECIPE})",
    )
    p.add_argument(
        "--workers",
        type=cli.positive_int,
        default=None,
        help="worker processes, each training one variation at a time "
        "(default: one per CPU core, or OMP_NUM_THREADS; with --device cuda or mps and the "
        "local backend, 1)",
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
        choices=BACKENDS,
        default=BACKENDS[0],
        help="where the runs execute: local worker processes, or one Ray task per run "
        f"(default: {BACKENDS[0]})",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        help="with --backend ray: a running Ray cluster to join, 'auto' for the one on this "
        "machine (default: start a Ray instance of --workers x --threads CPUs here)",
    )
    p.add_argument(
        "--gpus-per-run",
        type=cli.positive_float,
        default=GPUS_PER_RUN,
        help="with --backend ray and --device cuda: the GPU share of each run, e.g. 0.25 "
        f"(default: {GPUS_PER_RUN:g})",
    )
    cli.add_limits(p)
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start results.csv over instead of resuming from the rows already in it "
        "(default: off)",
    )
    return p.parse_args(argv)


@dataclass(frozen=True)
class Grid:
    """The variations a sweep asks for: each dimension's values, sorted, unique; and the seeds."""

    epochs: tuple
    dropout: tuple
    hidden: tuple
    seeds: tuple

    @classmethod
    def of(cls, epochs, dropouts, hiddens, seed, repeats):
        return cls(
            epochs=tuple(sorted(set(epochs))),
            dropout=tuple(sorted({round(m, 6) for m in dropouts})),
            hidden=tuple(sorted(set(hiddens))),
            seeds=tuple(seed + k for k in range(repeats)),
        )


# ---- one variation: train to max(L) epochs, evaluate after each epoch in L


def variation_seed(seed, dropout, hidden):
    """The torch seed of one (seed, M, N): fixed by those three alone, whichever worker runs it."""
    return zlib.crc32(f"{seed}/{dropout:g}/{hidden}".encode())


def load_raw(data_dir, train_limit=None, test_limit=None):
    """((uint8 images, labels) of the training split, (the same) of the test split).

    The workers get the splits as uint8, a quarter of the float size, and normalise them themselves
    (to_inputs): so these are loaded here, not with datasets.load_normalized.
    """
    return tuple(
        datasets.load_split(DATASET, train=train, data_dir=data_dir, limit=limit)
        for train, limit in ((True, train_limit), (False, test_limit))
    )


def to_inputs(raw, device):
    """Both splits normalised with FashionMNIST's own statistics, on `device`:
    ((x_train, y_train), (x_test, y_test))."""
    return tuple((datasets.normalize(x, DATASET).to(device), y.to(device)) for x, y in raw)


def train_variation(train, test, recipe_name, dropout, hidden, seed, eval_epochs, device):
    """Train Net(hidden, dropout) on `device` (where `train` and `test` are) to max(eval_epochs)
    epochs, evaluating on `test` after each epoch in eval_epochs.

    Returns training.fit's history (test set only; train_loss is the epoch's mean batch loss in
    train mode, label-smoothed where the recipe smooths).
    """
    recipe = recipes.RECIPES[recipe_name]
    if recipe.depends_on_total_epochs():
        raise ValueError(
            f"recipe {recipe.name!r} schedules over the total epoch count: prefixes would differ"
        )
    # one generator for the initial weights, the dropout masks and the batch order
    generator = training.set_seed(variation_seed(seed, dropout, hidden))
    model = training.prepare(
        Net(num_classes=len(CLASS_NAMES), hidden=hidden, dropout=dropout), device
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


def train_job(inputs, job, device):
    """One sweep run on a backend: train_variation on `inputs` (to_inputs's pair) with the job's
    settings."""
    return train_variation(*inputs, **job, device=device)


# ---- results.csv: one row per variation, appended as each run finishes


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


def _whole_lines(path, text):
    """The text of results.csv without a last line an interruption cut short; the file is
    rewritten (atomically) without it."""
    if not text or text.endswith("\n"):
        return text
    warnings.warn(f"{path}: dropping an incomplete last line left by an interrupted run")
    text = text[: text.rfind("\n") + 1]
    files.write_text(text, path)
    return text


def read_rows(path):
    """The rows of results.csv, typed (an incomplete last line dropped from the file first)."""
    if not path.is_file():
        return []
    lines = list(csv.reader(io.StringIO(_whole_lines(path, path.read_text()))))
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
            row = dict(zip(FIELDS, values, strict=True))
            rows.append(
                {
                    **row,
                    **{f: float(row[f]) for f in FIELDS[len(KEY_FIELDS) :]},
                    **dict(zip(KEY_FIELDS, row_key(row), strict=True)),
                }
            )
        except ValueError:
            raise UsageError(
                f"{path}, line {n}, is not a result row; pass --fresh to start it over"
            ) from None
    return rows


def append_rows(path, rows):
    """Append whole rows in one write, flushed to disk, so an interruption never leaves half a
    row."""
    text = "".join(_csv_line([r[f] for f in FIELDS]) for r in rows)
    with open(path, "a") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def history_path(out_dir, recipe, dropout, hidden, seed, train_n):
    name = f"{recipe}_dropout{dropout:g}_hidden{hidden}_seed{seed}_train{train_n}.json"
    return out_dir / "histories" / name


# ---- summaries


def summarize(rows):
    """Per (L, M, N): mean and standard deviation (over seeds) of accuracy and losses; sorted by
    L, M, N."""
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
    header = f"{'L':>3} {'M':>5} {'N':>5}  {'test accuracy (%)':>18}  {'test loss':>9}  "
    lines = [header + f"{'train loss':>10}"]
    for t in table:
        pm = f" +- {100 * t['accuracy_std']:.2f}" if t["seeds"] > 1 else ""
        lines.append(
            f"{t['epochs']:>3} {t['dropout']:>5g} {t['hidden']:>5}  "
            f"{100 * t['accuracy_mean']:>9.2f}{pm:<9}"
            f"  {t['test_loss_mean']:>9.4f}  {t['train_loss_mean']:>10.4f}"
        )
    return "\n".join(lines)


def dimension_effects(rows):
    """For each dimension: its values, and per value the mean accuracy (other dimensions averaged)
    and the standard deviation of that mean over seeds (None with one seed)."""
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
    """Compare each prediction with the outcome: the change in accuracy from the dimension's
    smallest to its largest value, paired over every setting of the other dimensions and seed.

    The verdict is 'supported' or 'contradicted' when the mean paired change is more than twice
    its standard error away from zero, else 'inconclusive'.
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


def draw_figures(rows, best, out, recipe_name, show):
    """accuracy_vs_dimension, heatmaps_dropout_hidden, parallel_coordinates and Fig 15 in `out`;
    returns dimension_effects(rows)."""
    effects = dimension_effects(rows)
    seeds = len({r["seed"] for r in rows})
    label = {"epochs": "epochs L", "dropout": "dropout M", "hidden": "hidden units N"}
    plots.accuracy_vs_dimension(
        [(label[d], e["values"], e["mean"], e["std"]) for d, e in effects.items()],
        out / "accuracy_vs_dimension.png",
        title=f"FashionMNIST, recipe '{recipe_name}': accuracy against each dimension, "
        "the others averaged" + (f" (mean +- std over {seeds} seeds)" if seeds > 1 else ""),
        show=show,
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
        show=show,
    )
    if len(table) > 1:
        plots.parallel_coordinates(
            ["epochs L", "dropout M", "hidden units N", "test accuracy"],
            [[t["epochs"], t["dropout"], t["hidden"], t["accuracy_mean"]] for t in table],
            out / "parallel_coordinates.png",
            title=f"All {len(table)} variations, recipe '{recipe_name}'",
            show=show,
        )
    model = Net(num_classes=len(CLASS_NAMES), hidden=best["hidden"], dropout=best["dropout"])
    plots.network_diagram(
        layer_table(model),
        out / "fig15_best_network.png",
        title=f"Fig 15: the best network (L={best['epochs']}, M={best['dropout']:g}, "
        f"N={best['hidden']}), {100 * best['accuracy_mean']:.2f}% test accuracy",
        show=show,
    )
    return effects


def print_plan(grid, recipe):
    """The report's sections A and B: the grid and one prediction per dimension."""
    n_var = len(grid.epochs) * len(grid.dropout) * len(grid.hidden)
    print(
        f"Task 4: {n_var} variations of Net on {DATASET} (epochs {list(grid.epochs)} x dropout "
        f"{[f'{m:g}' for m in grid.dropout]} x hidden {list(grid.hidden)}), "
        f"{len(grid.seeds)} seed(s), recipe '{recipe}'"
    )
    print(DROPOUT_NOTE)
    print("hypotheses:")
    for dim, (_, text) in HYPOTHESES.items():
        print(f"  {dim}: {text}")


# ---- the sweep: jobs, where they run, their rows


def plan_jobs(grid, recipe, sizes, done):
    """(jobs for the (M, N, seed) runs with rows still missing, every row key the grid wants)."""
    jobs, wanted = [], set()
    for seed in grid.seeds:
        for hidden in reversed(grid.hidden):  # the largest first, so the pool ends on short jobs
            for dropout in grid.dropout:
                keys = [(L, dropout, hidden, seed, recipe, *sizes) for L in grid.epochs]
                wanted.update(keys)
                if not set(keys) <= done:
                    jobs.append(
                        {
                            "recipe_name": recipe,
                            "dropout": dropout,
                            "hidden": hidden,
                            "seed": seed,
                            "eval_epochs": grid.epochs,
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


def sweep_device(name, backend):
    """The device the runs train on.  On a Ray cluster the GPUs may be on other nodes, so 'cuda'
    is taken as given there (run_ray checks that the cluster has some); else it must be here."""
    if backend == "ray" and name == "cuda":
        return torch.device("cuda")
    return cli.device(name)


def worker_counts(workers, threads, n_jobs, device, backend):
    """(worker processes, torch threads each) for `n_jobs` runs; None asks for the default: one
    single-thread worker per core, or one worker where the local backend trains on a GPU."""
    if workers is None:
        workers = 1 if backend == "local" and device.type != "cpu" else training.usable_cores()
    workers = max(1, min(workers, n_jobs))
    return workers, threads or max(1, training.usable_cores() // workers)


def make_backend(name, workers, threads, device, ray_address, gpus_per_run):
    """backend(jobs, raw, on_done): the sweep_backends function `name` names, all else bound."""
    common = {"prepare": to_inputs, "train": train_job, "threads": threads, "device": device}
    if name == "ray":
        return functools.partial(
            sweep_backends.run_ray,
            address=ray_address,
            cpus=workers * threads,
            gpus_per_run=gpus_per_run,
            **common,
        )
    return functools.partial(sweep_backends.run_local, workers=workers, **common)


def run_sweep(jobs, raw, csv_path, done, backend):
    """Train every job on `backend` (see make_backend), writing each run's history and appending
    its new rows to results.csv in this process as it ends; returns the seconds it took."""
    sizes, t_sweep, finished = (len(raw[0][1]), len(raw[1][1])), time.perf_counter(), [0]

    def on_done(job, history):
        ids = {k: job[k] for k in ("recipe_name", "dropout", "hidden", "seed")}
        files.write_json(
            {**ids, "train_n": sizes[0], "test_n": sizes[1], **history},
            history_path(csv_path.parent, *ids.values(), sizes[0]),
        )
        append_rows(
            csv_path, [r for r in result_rows(job, history, sizes) if row_key(r) not in done]
        )
        finished[0] += 1
        accs = " ".join(f"L{e['epoch']}={100 * e['test_accuracy']:.2f}%" for e in history["epochs"])
        print(
            f"[{finished[0]}/{len(jobs)}] M={job['dropout']:g} N={job['hidden']} "
            f"seed={job['seed']}: {accs}  ({history['epochs'][-1]['elapsed_seconds']:.0f}s; "
            f"{time.perf_counter() - t_sweep:.0f}s so far)",
            flush=True,
        )

    if jobs:
        backend(jobs, raw, on_done)
    return time.perf_counter() - t_sweep


# ---- the outcome


def report_outcome(rows, out, recipe_name, show):
    """Section C: the table, the best variation, the figures and each hypothesis against the
    outcome; returns (table, best, verdicts)."""
    table = summarize(rows)
    print(format_table(table))
    best = max(table, key=lambda t: (t["accuracy_mean"], -t["epochs"], -t["hidden"]))
    spread = (
        f" +- {100 * best['accuracy_std']:.2f} over {best['seeds']} seeds"
        if best["seeds"] > 1
        else ""
    )
    print(
        f"best variation: L={best['epochs']} epochs, dropout M={best['dropout']:g}, "
        f"hidden N={best['hidden']}: test accuracy {100 * best['accuracy_mean']:.2f}%{spread}"
    )
    effects = draw_figures(rows, best, out, recipe_name, show)
    verdicts = judge_hypotheses(rows)
    print(
        "hypotheses against the outcome (mean accuracy per value, the other dimensions averaged):"
    )
    for dim, v in verdicts.items():
        e = effects[dim]
        values = "  ".join(
            f"{x:g}: {100 * m:.2f}%" for x, m in zip(e["values"], e["mean"], strict=True)
        )
        change = (
            ""
            if v["change_points"] is None
            else f" (first to last {v['change_points']:+.2f} +- {v['standard_error']:.2f} "
            f"points, {v['pairs']} pairs)"
        )
        print(f"  {dim}: {values}{change} -> {v['verdict']}")
    print(DROPOUT_NOTE)
    return table, best, verdicts


def best_loss_curves(out, recipe_name, best, seed, train_n, show):
    """Fig 14: train and test loss of the best variation (its first seed), from its history."""
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


def main(argv=None):
    t_start = time.perf_counter()
    args = parse_args(argv)
    if args.backend == "ray":  # before any work: a missing Ray or cluster is one line at once
        sweep_backends.check_ray(args.ray_address)
    device = sweep_device(args.device, args.backend)
    grid = Grid.of(args.epochs, args.dropout, args.hidden, args.seed, args.repeats)
    recipe, out = args.recipe, args.out_dir
    print_plan(grid, recipe)
    raw = load_raw(args.data_dir, args.train_limit, args.test_limit)
    # the split sizes are in each row's key: a quick run never passes for a full one
    sizes = (len(raw[0][1]), len(raw[1][1]))
    csv_path = out / CSV_NAME
    if args.fresh or not csv_path.is_file():
        start_csv(csv_path)
    done = {row_key(r) for r in read_rows(csv_path)}
    jobs, wanted = plan_jobs(grid, recipe, sizes, done)
    workers, threads = worker_counts(args.workers, args.threads, len(jobs), device, args.backend)
    print(
        f"{len(wanted & done)} of {len(wanted)} rows already in {csv_path}; {len(jobs)} runs of "
        f"{max(grid.epochs)} epochs to go on {workers} worker(s) x {threads} thread(s), "
        f"backend {args.backend}, device {device}",
        flush=True,
    )
    backend = make_backend(
        args.backend, workers, threads, device, args.ray_address, args.gpus_per_run
    )
    sweep_seconds = run_sweep(jobs, raw, csv_path, done, backend)
    rows = [r for r in read_rows(csv_path) if row_key(r) in wanted]
    table, best, verdicts = report_outcome(rows, out, recipe, args.show)
    best_loss_curves(out, recipe, best, grid.seeds[0], sizes[0], args.show)
    metrics = {
        "task": "task4",
        "recipe": recipe,
        "lr_decay_per_epoch": recipes.RECIPES[recipe].lr_decay,
        "grid": asdict(grid),
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
        f"table in {csv_path}; figures and metrics.json in {out}  "
        f"({metrics['wall_time_s']:.1f}s, training {sweep_seconds:.1f}s)"
    )
    return metrics


if __name__ == "__main__":
    cli.run(main)
