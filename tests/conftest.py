"""Shared test helpers."""
import numpy as np
from PIL import Image


def assert_figure(path, min_width=300, min_height=200):
    """`path` is a PNG of at least the given size whose pixels are not all (nearly) one colour."""
    with Image.open(path) as img:
        assert img.format == "PNG", path
        assert img.width >= min_width and img.height >= min_height, (path, img.size)
        pixels = np.asarray(img.convert("L"), dtype=np.float32)
    assert pixels.std() > 5 and (pixels < 128).mean() > 0.005, f"{path} looks blank"
