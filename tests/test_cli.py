"""cli: one-line errors for folders that are files, and --show, with and without a display."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_figure

from recognition import paths

GREEK = [
    "--train-dir",
    str(paths.DATA_DIR / "greek_train"),
    "--test-dir",
    str(paths.DATA_DIR / "greek_test"),
    "--epochs",
    "1",
]


def _run(script, *args, env=None):
    return subprocess.run(
        [sys.executable, script, *map(str, args)],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


@pytest.mark.parametrize(
    "script",
    [
        "task1_train_mnist",
        "task2_examine",
        "task3_greek",
        "task4_experiment",
        "ext_alexnet",
        "reproduce",
    ],
)
@pytest.mark.parametrize("flag", ["--out-dir", "--data-dir"])
def test_a_folder_flag_naming_a_file_is_one_line(tmp_path, capsys, script, flag):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("a file, not a folder")
    module = importlib.import_module(script)
    with pytest.raises(SystemExit) as e:
        getattr(module, "parse_args", module.main)([flag, str(a_file)])
    assert e.value.code == 2
    prog = Path(sys.argv[0]).name
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: argument {flag}: {a_file} is a file, not a folder (see {prog} --help)"
    ]


@pytest.mark.slow
def test_a_folder_inside_a_file_is_one_line(tmp_path, mnist_checkpoint):
    (tmp_path / "f").write_text("x")
    r = _run(
        "task3_greek.py",
        "--model",
        mnist_checkpoint,
        *GREEK,
        "--out-dir",
        tmp_path / "f" / "inside",
    )
    assert (
        r.returncode == 2
        and "Traceback" not in r.stderr
        and len(r.stderr.strip().splitlines()) == 1
    )
    assert r.stderr.startswith("error: ") and "Not a directory" in r.stderr


# needs no dataset
ALEXNET = ["--random-weights", "--image", str(paths.DATA_DIR / "handwritten_digits" / "3.png")]


@pytest.mark.slow
def test_show_without_a_display_says_so_and_goes_on(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    }
    r = _run("ext_alexnet.py", *ALEXNET, "--out-dir", tmp_path, "--show", env=env)
    assert r.returncode == 0, r.stderr
    assert "warning: --show: no display available" in r.stderr and "Traceback" not in r.stderr
    assert_figure(tmp_path / "fig18_alexnet_conv1.png")


@pytest.mark.slow
def test_show_opens_every_figure_at_the_end(tmp_path):
    env = {
        **os.environ,
        "MPLBACKEND": "module://window_backend",
        "PYTHONPATH": os.pathsep.join(
            [str(paths.ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    r = _run("ext_alexnet.py", *ALEXNET, "--out-dir", tmp_path, "--show", env=env)
    assert r.returncode == 0, r.stderr
    windows = [line for line in r.stdout.splitlines() if line.startswith("window: ")]
    assert (
        len(windows) == 3
        and windows[0].startswith("window: Fig 18")
        and windows[2].startswith("window: Fig 19")
    )
    assert "all 64 filters" in windows[1]
    assert r.stdout.rstrip().endswith("all windows closed")
    r = _run("ext_alexnet.py", *ALEXNET, "--out-dir", tmp_path, env=env)
    assert "window: " not in r.stdout  # without --show, nothing opens
