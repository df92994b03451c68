"""Shared test helpers and fixtures."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from models import Net, NetTransformer, save_checkpoint
from recognition.paths import ROOT
from tools.handwriting import GREEK as GREEK_STROKES
from tools.handwriting import render

GREEK = ["alpha", "beta", "gamma"]  # the classes of the demo's Greek test model
DIGITS = [str(d) for d in range(10)]
# The demo's transformer test model: small, but every part of NetTransformer (8x8 grid of
# 16-channel tokens).
SMALL_TRANSFORMER = {"patch": 7, "stride": 3, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


def assert_figure(path, min_width=300, min_height=200):
    """`path` is a PNG of at least the given size whose pixels are not all (nearly) one colour."""
    with Image.open(path) as img:
        assert img.format == "PNG", path
        assert img.width >= min_width and img.height >= min_height, (path, img.size)
        pixels = np.asarray(img.convert("L"), dtype=np.float32)
    assert pixels.std() > 5 and (pixels < 128).mean() > 0.005, f"{path} looks blank"


def write_letters(root, names, count, seed):
    """`count` pen-drawn 128x128 images of each letter in `names` (alpha..epsilon) in ImageFolder
    layout under `root`, the same for the same seed; returns `root`."""
    for i, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for j in range(count):
            rng = np.random.default_rng(seed + 100 * i + j)
            image = render(GREEK_STROKES[name], rng, 128, 128, stroke_width=9)
            Image.fromarray(image).save(root / name / f"{j}.png")
    return root


@pytest.fixture(scope="session")
def trained_task1(tmp_path_factory):
    """The output folder (model.pth, metrics.json, figures) of one real `task1_train_mnist.py`
    run of the report's protocol, made once per session for the tests that need a trained
    network (about 35 s)."""
    out = tmp_path_factory.mktemp("task1")
    r = subprocess.run(
        [sys.executable, str(ROOT / "task1_train_mnist.py"), "--out-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def mnist_checkpoint(tmp_path_factory):
    """A Task 1 checkpoint of an untrained Net (seed 0): the scripts must work with any Net."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.pth"
    save_checkpoint(Net(), path, class_names=[str(d) for d in range(10)])
    return path


@pytest.fixture(scope="session")
def demo_models_dir(tmp_path_factory, mnist_checkpoint):
    """For the demo: an outputs/-like folder: task1 (an untrained digit Net), task1_transformer
    (an untrained digit NetTransformer), task3 (a 3-letter Greek Net), broken (not a model)."""
    root = tmp_path_factory.mktemp("outputs")
    (root / "task1").mkdir()
    shutil.copy(mnist_checkpoint, root / "task1" / "model.pth")
    torch.manual_seed(3)
    save_checkpoint(
        Net(num_classes=len(GREEK)), root / "task3" / "model.pth", class_names=GREEK, task="task3"
    )
    torch.manual_seed(4)
    save_checkpoint(
        NetTransformer(**SMALL_TRANSFORMER),
        root / "task1_transformer" / "model.pth",
        class_names=DIGITS,
    )
    (root / "broken").mkdir()
    (root / "broken" / "model.pth").write_bytes(b"not a checkpoint")
    return root


def start_server(models_dir):
    """demo.py on a free loopback port in a subprocess; returns (process, base URL)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "demo.py"), "--models-dir", str(models_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:
        if line.startswith("serving "):
            return proc, line.split()[1]
    proc.kill()
    raise AssertionError(f"demo.py did not start: {proc.stderr.read()}")


def call(url, path, data=None, headers=None):
    """(status, JSON answer) of a GET (data None) or a POST of `data`."""
    req = urllib.request.Request(
        url + path, data=data, headers=headers or {}, method="GET" if data is None else "POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def ctrl_c_after_first_run(args, csv_path, cwd=ROOT, wait=120):
    """Start `args` as a terminal would, press Ctrl-C once results.csv has a row, and return
    (process, its stderr); skip the test if the run finished before it could be interrupted."""
    # A shell's background job (a CI runner's, say) starts with SIGINT ignored, and a child keeps
    # an ignored signal ignored: give the run the default disposition a terminal would.  A handler
    # here (rather than SIG_IGN) becomes the default in the child when it execs; no preexec_fn,
    # which is unsafe in a process with threads (torch's).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and proc.poll() is None:
        if csv_path.is_file() and len(csv_path.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, err = proc.communicate(timeout=60)
    return proc, err


@pytest.fixture
def ctrl_c_as_in_a_terminal():
    """SIGINT as a terminal's foreground process has it (KeyboardInterrupt) for the test, restored
    after it: a background job (`make test &`, nohup, a CI runner) starts with SIGINT ignored, and
    an earlier test may have left it changed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
