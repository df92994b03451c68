"""classify: a folder of one's own images predicted and scored; unusable files skipped, warned."""

import numpy as np
import pytest
import torch
from PIL import Image

from models import Net
from recognition import classify, training
from recognition.errors import DataError
from tools.handwriting import DIGITS, render

CLASSES = [str(d) for d in range(10)]


def to_input(path):
    """A stand-in preprocessing: the image's top-left 28x28 greyscale pixels."""
    from recognition.images import read_gray

    return torch.from_numpy(read_gray(path)[:28, :28].copy())[None]


def test_results_are_the_models_predictions_scored_by_the_labels_in_the_paths(tmp_path):
    (tmp_path / "4").mkdir()
    for i, name in enumerate(["7.png", "3_b.png", "4/x.png", "mine.png"]):
        Image.fromarray(render(DIGITS[i], np.random.default_rng(i), 60, 60)).save(tmp_path / name)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    torch.manual_seed(0)
    model = Net().eval()
    with pytest.warns(UserWarning, match="broken.png"):
        results, x, accuracy = classify.classify_folder(model, tmp_path, to_input, CLASSES)
    assert [r["file"] for r in results] == ["3_b.png", "4/x.png", "7.png", "mine.png"]
    assert [r["label"] for r in results] == ["3", "4", "7", None] and x.shape == (4, 1, 28, 28)
    log_p = training.predict(model, x)
    assert [r["prediction"] for r in results] == [CLASSES[k] for k in log_p.argmax(1).tolist()]
    assert [r["probability"] for r in results] == pytest.approx(
        log_p.exp().max(1).values.tolist(), abs=1e-4
    )
    assert accuracy == sum(r["label"] == r["prediction"] for r in results[:3]) / 3
    titles, colors = classify.titles_and_colors(results)
    assert colors[3] == "black" and all(
        (c == "green") == (r["label"] == r["prediction"]) for c, r in zip(colors[:3], results[:3])
    )
    assert all(("true" in t) == (c == "red") for t, c in zip(titles, colors))


def test_a_folder_with_nothing_usable_is_one_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"nothing")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="no usable images"):
        classify.classify_folder(Net().eval(), tmp_path, to_input, CLASSES)
