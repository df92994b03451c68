"""Shared test helpers and fixtures."""
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from models import Net, save_checkpoint
from paths import ROOT

GREEK = ["alpha", "beta", "gamma"]  # the classes of the demo's Greek test model


def assert_figure(path, min_width=300, min_height=200):
    """`path` is a PNG of at least the given size whose pixels are not all (nearly) one colour."""
    with Image.open(path) as img:
        assert img.format == "PNG", path
        assert img.width >= min_width and img.height >= min_height, (path, img.size)
        pixels = np.asarray(img.convert("L"), dtype=np.float32)
    assert pixels.std() > 5 and (pixels < 128).mean() > 0.005, f"{path} looks blank"


@pytest.fixture(scope="session")
def mnist_checkpoint(tmp_path_factory):
    """A Task 1 checkpoint of an untrained Net (seed 0): the scripts must work with any Net."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.pth"
    save_checkpoint(Net(), path, class_names=[str(d) for d in range(10)])
    return path


@pytest.fixture(scope="session")
def demo_models_dir(tmp_path_factory, mnist_checkpoint):
    """For the demo: an outputs/-like folder: task1 (an untrained digit Net), task3 (a 3-letter Greek Net), broken (not a model)."""
    root = tmp_path_factory.mktemp("outputs")
    (root / "task1").mkdir()
    shutil.copy(mnist_checkpoint, root / "task1" / "model.pth")
    torch.manual_seed(3)
    save_checkpoint(Net(num_classes=len(GREEK)), root / "task3" / "model.pth", class_names=GREEK, task="task3")
    (root / "broken").mkdir()
    (root / "broken" / "model.pth").write_bytes(b"not a checkpoint")
    return root


def start_server(models_dir):
    """demo.py on a free loopback port in a subprocess; returns (process, base URL)."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "demo.py"), "--models-dir", str(models_dir), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("serving "):
            return proc, line.split()[1]
    proc.kill()
    raise AssertionError(f"demo.py did not start: {proc.stderr.read()}")


def call(url, path, data=None, headers=None):
    """(status, JSON answer) of a GET (data None) or a POST of `data`."""
    req = urllib.request.Request(url + path, data=data, headers=headers or {}, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
