"""reproduce.py and recognition/report.py: the whole report in quick mode, the flags each step
gets, its failure handling and how REPORT.md sets out what the steps wrote."""

import json
import re
import subprocess
import sys
import threading

import pytest

import reproduce
from recognition import files, paths, report


@pytest.mark.integration
def test_quick_report_has_every_figure_and_table(tmp_path):
    r = subprocess.run(
        [sys.executable, "reproduce.py", "--quick", "--out-dir", tmp_path],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    # progress: which step, time so far
    assert "[1/11 task1 " in r.stdout and "== [11/11]" in r.stdout
    text = (tmp_path / "REPORT.md").read_text()
    for n in range(1, 20):
        assert f"**Fig {n}.**" in text, f"Fig {n} missing"
    assert "missing:" not in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 16 and all((tmp_path / link).is_file() for link in links)
    for text_fig in (
        "(conv1): Conv2d(1, 10",
        "pred label",
        "(fc2): Linear(in_features=50, out_features=3",
    ):
        assert text_fig in text
    table = text[text.index("| quantity |") : text.index("| step |")]
    assert table.count("\n") >= 10 and "9799/10000" in table
    assert re.search(r"MNIST test accuracy .*\| \d+/1000 \(\d+\.\d\d %\)", table)
    assert "Python 3" in text and "torch 2" in text
    for section in (
        "### A. The plan",
        "### B. The predictions",
        "### C. The results",
        "| gabor | ",
        "Most confused pairs:",
        "ext_gabor/gabor_bank_responses.png",
        "task1/extra_embedding_map.png",
        "task3/extra_embedding_map.png",
        "task2/extra_confused_pairs.png",
        "| NetTransformer, fast setting | ",
        "task1_transformer/extra_attention.png",
    ):
        assert section in text, section
    assert "`--pipeline course`" in text  # it says which letter pipeline reproduces the report


@pytest.mark.slow
def test_failing_step_stops_or_is_marked(tmp_path, monkeypatch):
    """A step whose script fails: the run stops with one line, or with --keep-going the report
    marks it."""
    monkeypatch.setattr(
        reproduce,
        "steps",
        lambda out: [
            reproduce.Step(
                "task2", "Task 2", "task2_examine.py", ["--model", str(tmp_path / "absent.pth")]
            )
        ],
    )
    with pytest.raises(reproduce.UsageError, match="task2_examine.py failed"):
        reproduce.main(["--out-dir", str(tmp_path)])
    reproduce.main(["--out-dir", str(tmp_path), "--keep-going"])
    text = (tmp_path / "REPORT.md").read_text()
    assert "**failed** (exit 2): error: no model at" in text
    assert "**Fig 9** — missing" in text


def test_report_renders_task4_plan_predictions_and_verdicts(tmp_path):
    """Task 4's A-B-C and the Gabor table come from the steps' metrics.json, numbers as written
    there."""
    hyp = {
        "epochs": {
            "prediction": "more epochs help",
            "change_points": 1.234,
            "standard_error": 0.1,
            "pairs": 15,
            "verdict": "supported",
        },
        "dropout": {
            "prediction": "dropout hurts",
            "change_points": None,
            "standard_error": None,
            "pairs": 0,
            "verdict": "not tested (one value)",
        },
    }
    files.write_json(
        {
            "hypotheses": hyp,
            "recipe": "report",
            "train_n": 2000,
            "test_n": 1000,
            "grid": {"epochs": [1, 2], "dropout": [0.5], "hidden": [20, 60], "seeds": [1]},
        },
        tmp_path / "task4" / "metrics.json",
    )
    acc = {
        "gabor": {"mean": 0.981, "sd": 0.001, "n": 2, "accuracies": [0.98, 0.982]},
        "learned": {"mean": 0.975, "sd": 0.002, "n": 2, "accuracies": [0.973, 0.977]},
    }
    files.write_json(
        {
            "summary": {
                **acc,
                "difference": 0.006,
                "spread": 0.002,
                "verdict": "larger than the seed-to-seed spread",
            },
            "train_n": 3000,
            "test_n": 1000,
            "epochs": 1,
            "seeds": [1, 2],
        },
        tmp_path / "ext_gabor" / "metrics.json",
    )
    text = report.write(tmp_path, {}, quick=True).read_text()
    assert (
        "epochs L ∈ {1, 2} × dropout M ∈ {0.5} × hidden units N ∈ {20, 60} = 4 variations" in text
    )
    assert "1. **epochs**: more epochs help." in text
    assert "| report | epochs | +1.23 ± 0.10 | 15 | supported |" in text
    assert "| report | dropout | — | 0 | not tested (one value) |" in text
    assert "| gabor | 98.10 ± 0.10 % (2 seeds) | 98.00, 98.20 |" in text
    assert (
        "+0.60 points against a seed-to-seed sd of up to 0.20: larger than the seed-to-seed spread"
        in text
    )
    # the table of numbers too
    assert "98.10 ± 0.10 % (2 seeds) vs 97.50 ± 0.20 % (2 seeds)" in text
    assert "quick mode (`--quick`" in text and "**Fig 1** — missing: task1 did not write it" in text


def test_transformer_table_shows_a_template_run_with_its_sittings(tmp_path):
    """The template's row appears once its folder holds a run; one trained in sittings gives its
    time in all."""
    assert "adds them to this table" in "\n".join(report.transformer_section(tmp_path))
    run = {
        "test_accuracy": 0.9871,
        "epochs": 15,
        "train_seconds": 30500.2,
        "wall_time_s": 2400.0,
        "parameters": 104842,
        "sittings": 3,
        "history": {"epochs": [{"elapsed_seconds": 34800.4}]},
    }
    files.write_json(run, tmp_path / "task1_template" / "metrics.json")
    files.write_json(
        {**run, "sittings": 1, "wall_time_s": 500.4},
        tmp_path / "task1_transformer" / "metrics.json",
    )
    table = "\n".join(report.transformer_section(tmp_path))
    assert (
        "| NetTransformer, the course template's defaults | 98.71 % | 15 | 30500 s | 34800 s of "
        "training and evaluation, 3 sittings | 104,842 |" in table
    )
    assert "| NetTransformer, fast setting | 98.71 % | 15 | 30500 s | 500 s |" in table
    assert "adds them to this table" not in table


@pytest.fixture
def fake_steps(monkeypatch, tmp_path):
    """Two steps (task2 and alexnet) whose scripts are not run: each call to run_step is recorded
    as (step, flags) and answered from `answers`, a list of (returncode, last line)."""
    calls, answers = [], []

    def run_step(step, flags, progress, t0, threads=None):
        calls.append((step.name, flags))
        return answers.pop(0)

    monkeypatch.setattr(reproduce, "run_step", run_step)
    monkeypatch.setattr(
        reproduce,
        "steps",
        lambda out: [
            reproduce.Step("task2", "Task 2", "task2_examine.py", ["--model", "m.pth"], ["-q"]),
            reproduce.Step("alexnet", "AlexNet", "ext_alexnet.py"),
        ],
    )
    monkeypatch.setattr(reproduce, "sample_photo", lambda: tmp_path / "photo.jpg")
    return calls, answers


def test_each_step_gets_its_folder_the_shared_flags_then_its_own(tmp_path, fake_steps):
    calls, answers = fake_steps
    answers += [(0, "done"), (0, "done")]
    data = tmp_path / "data"
    flags = ["--data-dir", str(data), "--seed", "7", "--device", "cpu", "--quick"]
    reproduce.main(["--out-dir", str(tmp_path / "out"), "--lanes", "1", *flags])
    assert calls[0] == (
        "task2",
        ["--out-dir", str(tmp_path / "out" / "task2"), *flags[:6], "--model", "m.pth", "-q"],
    )
    assert calls[1] == ("alexnet", ["--out-dir", str(tmp_path / "out" / "alexnet"), *flags[:6]])
    recorded = json.loads((tmp_path / "out" / "steps.json").read_text())
    assert [r["returncode"] for r in recorded.values()] == [0, 0]
    text = (tmp_path / "out" / "REPORT.md").read_text()
    assert re.search(r"\| Task 2 \| ok \| \d+ s \|", text) and "quick mode" in text


def test_alexnet_without_downloads_runs_again_offline_and_says_so(tmp_path, fake_steps):
    calls, answers = fake_steps
    answers += [(2, "error: no AlexNet weights"), (0, "done")]
    reproduce.main(["--out-dir", str(tmp_path), "--only", "alexnet"])
    assert [name for name, _ in calls] == ["alexnet", "alexnet"]
    assert calls[1][1][-3:] == ["--random-weights", "--image", str(tmp_path / "photo.jpg")]
    text = (tmp_path / "REPORT.md").read_text()
    assert "| AlexNet | ok — offline mode: no AlexNet weights |" in text
    assert "*AlexNet ran in its offline mode: no AlexNet weights." in text


def test_only_keeps_the_other_steps_results_and_refuses_unknown_names(tmp_path, fake_steps):
    calls, answers = fake_steps
    answers += [(0, "done"), (1, "boom")]
    reproduce.main(["--out-dir", str(tmp_path), "--keep-going", "--lanes", "1"])
    answers += [(0, "fixed")]
    reproduce.main(["--out-dir", str(tmp_path), "--only", "alexnet"])
    recorded = json.loads((tmp_path / "steps.json").read_text())
    assert {name: r["returncode"] for name, r in recorded.items()} == {"task2": 0, "alexnet": 0}
    with pytest.raises(reproduce.UsageError, match="no step named task9; steps: task2 alexnet"):
        reproduce.main(["--out-dir", str(tmp_path), "--only", "alexnet", "task9"])
    assert len(calls) == 3  # nothing ran for the refused --only


def test_the_steps_others_need_run_first_then_the_longest():
    first, rest = reproduce.in_order(reproduce.steps(paths.OUT_DIR))
    assert [s.name for s in first] == ["task1"]  # Tasks 2 and 3 read its model
    assert [s.name for s in rest[:3]] == ["task4_improved", "task4", "task1_transformer"]
    assert {"task2", "task3", "task3_sweep"} <= {s.name for s in rest}


def test_lanes_run_side_by_side_on_a_share_of_the_cores(tmp_path, monkeypatch):
    """Two lanes: the step the others need runs alone on this process's threads, then two steps
    at once (a barrier only two concurrent steps can pass), each on half the cores."""
    both_running = threading.Barrier(2, timeout=30)
    calls, lock = [], threading.Lock()

    def run_step(step, flags, progress, t0, threads=None):
        with lock:
            calls.append((step.name, threads))
        if step.name != "a":
            both_running.wait()  # raises BrokenBarrierError unless the other lane runs too
        return 0, "done"

    monkeypatch.setattr(reproduce, "run_step", run_step)
    monkeypatch.setattr(reproduce.training, "usable_cores", lambda: 4)
    monkeypatch.setattr(
        reproduce,
        "steps",
        lambda out: [
            reproduce.Step("a", "A", "a.py"),
            reproduce.Step("b", "B", "b.py", needs=("a",)),
            reproduce.Step("c", "C", "c.py", minutes=9),
        ],
    )
    monkeypatch.setattr(reproduce.report_pdf, "write", lambda path: path)
    reproduce.main(["--out-dir", str(tmp_path), "--lanes", "2", "--device", "cpu"])
    assert calls[0] == ("a", None) and sorted(calls[1:]) == [("b", 2), ("c", 2)]
    recorded = json.loads((tmp_path / "steps.json").read_text())
    assert list(recorded) == ["a", "b", "c"]  # report order, whichever ended first
    assert "add up to" not in (tmp_path / "REPORT.md").read_text()  # instant steps


def test_a_failing_step_starts_no_new_one(tmp_path, monkeypatch):
    calls = []

    def run_step(step, flags, progress, t0, threads=None):
        calls.append(step.name)
        return (1, "boom") if step.name == "long" else (0, "done")

    monkeypatch.setattr(reproduce, "run_step", run_step)
    monkeypatch.setattr(
        reproduce,
        "steps",
        lambda out: [
            reproduce.Step("short", "S", "s.py"),
            reproduce.Step("long", "L", "l.py", minutes=9),
        ],
    )
    with pytest.raises(reproduce.UsageError, match="l.py failed"):
        reproduce.main(["--out-dir", str(tmp_path), "--lanes", "1"])
    assert calls == ["long"]  # the longest started first, and the other never did
    assert "**failed** (exit 1): boom" in (tmp_path / "REPORT.md").read_text()
