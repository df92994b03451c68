"""task4_experiment.py: prefix sharing, the settings, results.csv (schema, repair, resume), the
summaries, smoke runs, Ctrl-C."""

import csv
import os
import shutil
import subprocess
import sys
import time

import pytest
import torch
from conftest import assert_figure, ctrl_c_after_first_run

import task4_experiment as t4
from recognition import paths, recipes
from recognition.errors import UsageError

TINY = [
    "--epochs",
    "1",
    "2",
    "--dropout",
    "0.3",
    "0.5",
    "--hidden",
    "8",
    "16",
    "--train-limit",
    "256",
    "--test-limit",
    "128",
]


def synthetic(n=192, n_test=64, seed=0):
    """Random normalised images and labels: enough to tell two training runs apart."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n + n_test, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n + n_test,), generator=g)
    return (x[:n], y[:n]), (x[n:], y[n:])


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


TIMES = ("elapsed_seconds", "train_seconds")


def without_seconds(rows):
    return sorted(tuple((k, v) for k, v in r.items() if k not in TIMES) for r in rows)


# ---- prefix sharing


@pytest.mark.parametrize("recipe", t4.RECIPE_CHOICES)
def test_one_run_evaluated_after_epoch_2_equals_a_separate_2_epoch_run(recipe):
    train, test = synthetic()
    long = t4.train_variation(
        train, test, recipe, dropout=0.5, hidden=16, seed=3, eval_epochs=(2, 3), device="cpu"
    )
    short = t4.train_variation(
        train, test, recipe, dropout=0.5, hidden=16, seed=3, eval_epochs=(2,), device="cpu"
    )
    a, b = long["epochs"][0], short["epochs"][0]
    assert a["epoch"] == b["epoch"] == 2
    for key in ("test_loss", "test_accuracy", "train_loss"):
        assert a[key] == b[key], key
    assert long["train_log"][: len(short["train_log"])] == short["train_log"]
    # ... and epoch 3 did change something, so the comparison above is not vacuous
    assert long["epochs"][1]["test_loss"] != a["test_loss"]


def test_a_variation_does_not_depend_on_what_ran_before_it():
    train, test = synthetic()
    first = t4.train_variation(
        train, test, "report", dropout=0.3, hidden=8, seed=1, eval_epochs=(1,), device="cpu"
    )
    t4.train_variation(
        train, test, "report", dropout=0.5, hidden=16, seed=2, eval_epochs=(1,), device="cpu"
    )
    torch.rand(5)  # disturb the global generator too
    again = t4.train_variation(
        train, test, "report", dropout=0.3, hidden=8, seed=1, eval_epochs=(1,), device="cpu"
    )
    assert without_seconds(first["epochs"]) == without_seconds(again["epochs"])


def test_seeds_and_settings_change_the_result():
    train, test = synthetic()
    runs = [
        t4.train_variation(
            train, test, "report", dropout=d, hidden=16, seed=s, eval_epochs=(1,), device="cpu"
        )
        for d, s in ((0.5, 1), (0.5, 2), (0.3, 1))
    ]
    losses = {r["epochs"][0]["test_loss"] for r in runs}
    assert len(losses) == 3


def test_a_schedule_over_the_total_epoch_count_is_refused():
    train, test = synthetic()
    with pytest.raises(ValueError, match="prefixes"):
        t4.train_variation(
            train,
            test,
            "adamw-onecycle",
            dropout=0.5,
            hidden=8,
            seed=1,
            eval_epochs=(1, 2),
            device="cpu",
        )


def test_the_recipe_choices_are_those_whose_learning_rate_follows_the_epoch_index():
    choices = set(t4.RECIPE_CHOICES)
    assert {"report", "adamw-decay"} <= choices  # the report's recipe and Task 4's improved one
    assert not any(recipes.RECIPES[r].depends_on_total_epochs() for r in choices)
    assert "transfer" not in choices and "adamw-onecycle" not in choices
    assert choices | {"transfer"} == {
        name for name, r in recipes.RECIPES.items() if not r.depends_on_total_epochs()
    }


def test_decay_recipe_learning_rate_depends_on_epoch_index_only():
    decay = recipes.RECIPES["adamw-decay"]
    assert (
        decay.schedule == "constant"
        and decay.lr_decay < 1
        and recipes.RECIPES["report"].lr_decay == 1.0
    )


# ---- the settings


def test_the_grid_is_sorted_unique_and_has_one_seed_per_repeat():
    grid = t4.Grid.of([4, 3, 4], [0.5, 0.3, 0.30000001], [100, 20], seed=7, repeats=3)
    assert grid == t4.Grid(epochs=(3, 4), dropout=(0.3, 0.5), hidden=(20, 100), seeds=(7, 8, 9))


def test_the_defaults_are_the_reports_grid_and_the_help_says_them(capsys):
    args = t4.parse_args([])
    grid = t4.Grid.of(args.epochs, args.dropout, args.hidden, args.seed, args.repeats)
    assert len(grid.epochs) * len(grid.dropout) * len(grid.hidden) == 60 and grid.seeds == (1,)
    assert (args.recipe, args.backend) == ("report", "local")
    with pytest.raises(SystemExit):
        t4.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help at any space
    for default in ("3 4 5 6", "0.3 0.5 0.7", "20 40 60 80 100", "(default: report)"):
        assert f"{default}" in text, default


@pytest.mark.parametrize(
    ("workers", "threads", "device", "backend", "expected"),
    [
        (None, None, "cpu", "local", (4, 1)),  # one single-thread worker per core
        (None, None, "cuda", "local", (1, 4)),  # one GPU here: one worker, unless asked
        (3, None, "cuda", "local", (3, 1)),  # asked: as many workers on the GPU
        (None, None, "cuda", "ray", (4, 1)),  # Ray's GPUs may be on other nodes
        (2, 3, "cpu", "local", (2, 3)),
        (8, None, "cpu", "local", (5, 1)),  # never more workers than runs
    ],
)
def test_worker_counts(monkeypatch, workers, threads, device, backend, expected):
    monkeypatch.setattr(t4.training, "usable_cores", lambda: 4)
    assert t4.worker_counts(workers, threads, 5, torch.device(device), backend) == expected


# ---- results.csv


def row(epochs=1, **kw):
    r = {
        "epochs": epochs,
        "dropout": 0.5,
        "hidden": 20,
        "seed": 1,
        "recipe": "report",
        "train_n": 100,
        "test_n": 50,
        "test_accuracy": 0.25,
        "test_loss": 2.1,
        "train_loss": 2.2,
        "elapsed_seconds": 1.5,
    }
    return {**r, **kw}


def test_csv_schema_and_round_trip(tmp_path):
    path = tmp_path / "results.csv"
    t4.start_csv(path)
    t4.append_rows(path, [row(1), row(2, test_accuracy=0.125)])
    with open(path) as f:
        assert (
            f.readline().strip().split(",")
            == t4.FIELDS
            == [
                "epochs",
                "dropout",
                "hidden",
                "seed",
                "recipe",
                "train_n",
                "test_n",
                "test_accuracy",
                "test_loss",
                "train_loss",
                "elapsed_seconds",
            ]
        )
    rows = t4.read_rows(path)
    assert [t4.row_key(r) for r in rows] == [
        (1, 0.5, 20, 1, "report", 100, 50),
        (2, 0.5, 20, 1, "report", 100, 50),
    ]
    assert rows[1]["test_accuracy"] == 0.125 and rows[0]["elapsed_seconds"] == 1.5


def test_a_truncated_last_line_is_dropped_and_the_file_repaired(tmp_path):
    path = tmp_path / "results.csv"
    t4.start_csv(path)
    t4.append_rows(path, [row(1)])
    with open(path, "a") as f:
        f.write("2,0.5,20,1,rep")  # what a kill in the middle of a write would leave
    with pytest.warns(UserWarning, match="incomplete last line"):
        rows = t4.read_rows(path)
    assert len(rows) == 1
    assert path.read_text().endswith("\n") and len(path.read_text().splitlines()) == 2
    t4.append_rows(path, [row(2)])
    assert len(t4.read_rows(path)) == 2


def test_a_csv_of_the_previous_schema_is_refused_and_left_as_it_is(tmp_path):
    path = tmp_path / "results.csv"
    text = (
        "epochs,dropout,hidden,seed,recipe,train_n,test_n,test_accuracy,test_loss,train_loss,"
        "seconds\n1,0.5,20,1,fashion,100,50,0.25,2.1,2.2,1.5\n"
    )
    path.write_text(text)
    with pytest.raises(UsageError, match="pass --fresh to start it over") as e:
        t4.read_rows(path)
    assert "\n" not in str(e.value) and path.read_text() == text


def test_a_csv_of_another_schema_is_refused(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="--fresh"):
        t4.read_rows(path)


# ---- the summaries


def test_summarize_gives_the_mean_and_sample_std_over_seeds():
    rows = [row(1, seed=s, test_accuracy=a) for s, a in ((1, 0.2), (2, 0.4), (3, 0.6))]
    rows.append(row(2, test_accuracy=0.5))
    one, two = t4.summarize(rows)
    assert (one["epochs"], one["seeds"], two["epochs"], two["seeds"]) == (1, 3, 2, 1)
    assert one["accuracy_mean"] == pytest.approx(0.4) and one["accuracy_std"] == pytest.approx(0.2)
    assert two["accuracy_mean"] == 0.5 and two["accuracy_std"] == 0.0


def test_the_hypotheses_are_judged_by_the_sign_of_the_paired_change():
    # accuracy rises with epochs (as predicted), rises with dropout (against the prediction) and
    # does not depend on the hidden units; the seed shifts it, which pairing must cancel
    rows = [
        row(L, dropout=m, hidden=n, seed=s, test_accuracy=0.5 + 0.02 * L + 0.1 * m + 0.01 * s)
        for L in (1, 2, 3)
        for m in (0.3, 0.5)
        for n in (8, 16)
        for s in (1, 2)
    ]
    verdicts = t4.judge_hypotheses(rows)
    assert verdicts["epochs"]["verdict"] == "supported"
    assert verdicts["epochs"]["change_points"] == pytest.approx(4.0)
    assert verdicts["dropout"]["verdict"] == "contradicted"
    assert verdicts["hidden"]["verdict"].startswith("inconclusive")
    one_value = t4.judge_hypotheses([r for r in rows if r["hidden"] == 8])
    assert one_value["hidden"]["verdict"] == "not tested (one value)"


# ---- the script, end to end on tiny data


@pytest.mark.integration
def test_smoke_tiny_grid_writes_table_figures_and_metrics(tmp_path):
    metrics = t4.main(TINY + ["--workers", "1", "--out-dir", str(tmp_path)])
    rows = read_csv(tmp_path / "results.csv")
    assert len(rows) == 8 and list(rows[0]) == t4.FIELDS
    assert {(r["epochs"], r["dropout"], r["hidden"]) for r in rows} == {
        (L, m, n) for L in ("1", "2") for m in ("0.3", "0.5") for n in ("8", "16")
    }
    assert all(r["train_n"] == "256" and r["test_n"] == "128" for r in rows)
    for name in (
        "fig14_loss_curves.png",
        "fig15_best_network.png",
        "accuracy_vs_dimension.png",
        "heatmaps_dropout_hidden.png",
        "parallel_coordinates.png",
    ):
        assert_figure(tmp_path / name)
    best = max(rows, key=lambda r: float(r["test_accuracy"]))
    assert metrics["best"]["accuracy_mean"] == float(best["test_accuracy"])
    assert metrics["runs_trained"] == 4 and len(metrics["table"]) == 8
    assert set(metrics["hypotheses"]) == {"epochs", "dropout", "hidden"}


@pytest.mark.integration
def test_resume_after_an_interruption_gives_the_same_table(tmp_path, capsys):
    full = t4.main(TINY + ["--workers", "1", "--out-dir", str(tmp_path / "a")])
    lines = (tmp_path / "a" / "results.csv").read_text().splitlines(keepends=True)
    # An interrupted run: the header, the rows of the first three runs and half of a row.
    cut = tmp_path / "b"
    cut.mkdir()
    (cut / "results.csv").write_text("".join(lines[:7]) + lines[7][:10])
    shutil.copytree(tmp_path / "a" / "histories", cut / "histories")
    with pytest.warns(UserWarning, match="incomplete last line"):
        resumed = t4.main(TINY + ["--workers", "1", "--out-dir", str(cut)])
    assert resumed["runs_trained"] == 1
    assert_figure(cut / "fig14_loss_curves.png")
    assert without_seconds(read_csv(cut / "results.csv")) == without_seconds(
        read_csv(tmp_path / "a" / "results.csv")
    )
    drop = ("elapsed_seconds_mean",)
    assert [{k: v for k, v in t.items() if k not in drop} for t in resumed["table"]] == [
        {k: v for k, v in t.items() if k not in drop} for t in full["table"]
    ]
    # A finished run is not redone; --fresh redoes it.
    assert t4.main(TINY + ["--workers", "1", "--out-dir", str(cut)])["runs_trained"] == 0
    assert t4.main(TINY + ["--workers", "1", "--out-dir", str(cut), "--fresh"])["runs_trained"] == 4
    assert len(read_csv(cut / "results.csv")) == 8


@pytest.mark.integration
def test_repeats_give_mean_and_std(tmp_path):
    metrics = t4.main(
        [
            "--epochs",
            "1",
            "--dropout",
            "0.5",
            "--hidden",
            "8",
            "--repeats",
            "3",
            "--train-limit",
            "128",
            "--test-limit",
            "64",
            "--workers",
            "1",
            "--out-dir",
            str(tmp_path),
        ]
    )
    (t,) = metrics["table"]
    accs = [float(r["test_accuracy"]) for r in read_csv(tmp_path / "results.csv")]
    assert t["seeds"] == 3 and len(accs) == 3
    assert len(set(accs)) > 1  # the seeds differ, so the spread says something
    assert t["accuracy_mean"] == pytest.approx(sum(accs) / 3)
    assert t["accuracy_std"] == pytest.approx(torch.tensor(accs, dtype=torch.float64).std().item())


@pytest.mark.integration
def test_worker_processes_give_the_rows_of_a_single_process(tmp_path):
    t4.main(TINY + ["--workers", "1", "--threads", "1", "--out-dir", str(tmp_path / "one")])
    t4.main(TINY + ["--workers", "2", "--threads", "1", "--out-dir", str(tmp_path / "two")])
    two = read_csv(tmp_path / "two" / "results.csv")
    assert without_seconds(two) == without_seconds(read_csv(tmp_path / "one" / "results.csv"))
    assert len({r["test_loss"] for r in two}) == 8  # every run its own, so equal rows say something


@pytest.mark.integration
def test_a_short_sweep_learns_fashion_mnist(tmp_path):
    metrics = t4.main(
        [
            *(
                "--recipe",
                "adamw-decay",
                "--epochs",
                "1",
                "2",
                "--dropout",
                "0.3",
                "--hidden",
                "32",
            ),
            *("--train-limit", "1000", "--test-limit", "500", "--workers", "1"),
            *("--out-dir", str(tmp_path)),
        ]
    )
    one, two = metrics["table"]
    assert two["accuracy_mean"] > 0.6  # 10 classes: chance is 0.1; measured 0.69
    assert two["accuracy_mean"] > one["accuracy_mean"]  # the second epoch helps


@pytest.mark.parametrize(
    "bad",
    [
        ["--dropout", "1.2"],
        ["--hidden", "0"],
        ["--recipe", "nope"],
        ["--epochs", "three"],
        ["--recipe", "adamw-onecycle"],
    ],
)
def test_bad_flags_are_refused(bad, capsys):
    with pytest.raises(SystemExit) as e:
        t4.parse_args(bad)
    assert e.value.code == 2 and "error:" in capsys.readouterr().err


@pytest.mark.integration
def test_a_foreign_results_file_gives_a_one_line_error(tmp_path):
    (tmp_path / "results.csv").write_text("x,y\n")
    done = subprocess.run(
        [sys.executable, "task4_experiment.py", *TINY, "--out-dir", str(tmp_path)],
        check=False,
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.startswith("error:") and "--fresh" in done.stderr
    assert "Traceback" not in done.stderr


def survivors(group, wait=10.0):
    """Pids still in process group `group` after up to `wait` seconds (multiprocessing's helpers
    exit when they see the parent gone)."""
    deadline = time.monotonic() + wait
    while True:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == group]
        if not pids or time.monotonic() > deadline:
            return {p: _cmdline(p) for p in pids}
        time.sleep(0.1)


def _pgid(pid):
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline").read().replace("\0", " ")[:200]
    except OSError:
        return "?"


@pytest.mark.integration
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
def test_ctrl_c_stops_the_workers_and_leaves_whole_rows(tmp_path):
    args = [
        sys.executable,
        "task4_experiment.py",
        "--epochs",
        "1",
        "2",
        "--dropout",
        "0.3",
        "0.5",
        "0.7",
        "--hidden",
        "8",
        "16",
        "32",
        "--train-limit",
        "2000",
        "--test-limit",
        "200",
        "--workers",
        "2",
        "--out-dir",
        str(tmp_path),
    ]
    csv_path = tmp_path / "results.csv"
    proc, err = ctrl_c_after_first_run(args, csv_path)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not survivors(proc.pid), "processes of the run still alive after it stopped"
    rows = t4.read_rows(csv_path)
    assert 2 <= len(rows) < 18 and len(rows) % 2 == 0  # whole runs only, each two whole rows
    again = t4.main(args[2:-2] + ["--out-dir", str(tmp_path)])
    assert again["runs_trained"] == 9 - len(rows) // 2 and len(t4.read_rows(csv_path)) == 18
