"""Shared test helpers and fixtures."""
import numpy as np
import pytest
import torch
from PIL import Image

from models import Net, save_checkpoint


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
