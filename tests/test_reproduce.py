"""reproduce.py: the whole report in quick mode, and its failure handling."""
import re
import subprocess
import sys

import pytest

import paths
import reproduce


@pytest.mark.integration
def test_quick_report_has_every_figure_and_table(tmp_path):
    r = subprocess.run([sys.executable, "reproduce.py", "--quick", "--out-dir", tmp_path], cwd=paths.ROOT,
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "[1/9 task1 " in r.stdout and "== [9/9]" in r.stdout  # progress: which step, time so far
    report = (tmp_path / "REPORT.md").read_text()
    for n in range(1, 20):
        assert f"**Fig {n}.**" in report, f"Fig {n} missing"
    assert "missing:" not in report
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(links) >= 16 and all((tmp_path / link).is_file() for link in links)
    for text_fig in ("(conv1): Conv2d(1, 10", "pred label", "(fc2): Linear(in_features=50, out_features=3"):
        assert text_fig in report
    table = report[report.index("| quantity |"):report.index("| step |")]
    assert table.count("\n") >= 10 and "9799/10000" in table
    assert re.search(r"MNIST test accuracy .*\| \d+/1000 \(\d+\.\d\d %\)", table)
    assert "Python 3" in report and "torch 2" in report
    assert "`--pipeline course`" in report  # it says which letter pipeline reproduces the report


def test_failing_step_stops_or_is_marked(tmp_path, monkeypatch):
    """A step whose script fails: the run stops with one line, or with --keep-going the report marks it."""
    monkeypatch.setattr(reproduce, "steps", lambda out: [
        reproduce.Step("task2", "Task 2", "task2_examine.py", ["--model", str(tmp_path / "absent.pth")])])
    with pytest.raises(reproduce.UsageError, match="task2_examine.py failed"):
        reproduce.main(["--out-dir", str(tmp_path)])
    reproduce.main(["--out-dir", str(tmp_path), "--keep-going"])
    report = (tmp_path / "REPORT.md").read_text()
    assert "**failed** (exit 2): error: no model at" in report
    assert "**Fig 9** — missing" in report
