"""analysis.py: confusion counts, per-class accuracy, most confused pairs, fc1 features and their
2-D maps."""

import numpy as np
import pytest
import torch
from conftest import assert_figure

from models import Net
from recognition import analysis, plots


def test_confusion_counts_each_prediction_once_in_its_cell():
    y = torch.tensor([0, 0, 1, 2, 2, 2])
    pred = torch.tensor([0, 1, 1, 2, 0, 0])
    counts = analysis.confusion(y, pred, 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [2, 0, 1]]
    assert counts.sum() == len(y) and counts.trace() == int((y == pred).sum())


def test_per_class_accuracy_and_most_confused():
    counts = np.array([[5, 1, 0], [0, 4, 0], [3, 2, 1]])
    assert analysis.per_class_accuracy(counts).tolist() == pytest.approx([5 / 6, 1.0, 1 / 6])
    assert analysis.most_confused(counts, 2) == [(2, 0, 3), (2, 1, 2)]
    assert analysis.most_confused(np.eye(3, dtype=int), 5) == []  # no errors, no pairs
    assert analysis.per_class_accuracy(np.zeros((2, 2))).tolist() == [0, 0]  # empty: no crash


def test_fc1_features_are_what_fc2_reads():
    torch.manual_seed(0)
    model = Net().eval()
    x = torch.randn(7, 1, 28, 28)
    features, log_p = analysis.fc1_features(model, x, batch_size=3)  # the hook sees 3 calls
    assert features.shape == (7, 50) and log_p.shape == (7, 10) and (features >= 0).all()
    expected = torch.log_softmax(model.fc2(torch.as_tensor(features)), 1)
    assert torch.allclose(expected, log_p, atol=1e-5)
    assert not model.fc1._forward_hooks  # the hook is removed


def test_map_has_one_point_per_input_and_is_reproducible():
    rng = np.random.default_rng(0)
    # few points: t-SNE is slow
    features = np.concatenate([rng.normal(0, 1, (20, 50)), rng.normal(6, 1, (20, 50))])
    maps, info = analysis.maps_2d(features)
    assert set(maps) == {"PCA", "t-SNE"} and all(m.shape == (40, 2) for m in maps.values())
    assert (
        info["perplexity"] == analysis.tsne_perplexity(40)
        and info["random_state"] == analysis.RANDOM_STATE
    )
    again, _ = analysis.maps_2d(features)
    assert np.allclose(maps["t-SNE"], again["t-SNE"])
    # the two clusters stay apart in both maps
    for xy in maps.values():
        a, b = xy[:20].mean(0), xy[20:].mean(0)
        assert np.linalg.norm(a - b) > 2 * max(xy[:20].std(0).max(), xy[20:].std(0).max())


def test_small_sets_get_a_smaller_perplexity_and_tiny_ones_an_error():
    assert analysis.tsne_perplexity(54) == pytest.approx(53 / 3)
    assert analysis.tsne_perplexity(10000) == analysis.PERPLEXITY
    with pytest.raises(ValueError, match="at least 4"):
        analysis.maps_2d(np.zeros((3, 5)))


def test_embedding_map_figure(tmp_path):
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(60, 2))
    labels = np.arange(60) % 3
    marked = np.zeros(60, bool)
    marked[:4] = True
    path = plots.embedding_map(
        {"PCA": xy, "t-SNE": xy[::-1]},
        labels,
        ["a", "b", "c"],
        tmp_path / "m.png",
        groups=[("train", np.arange(60) < 40, "o"), ("test", np.arange(60) >= 40, "^")],
        marked=marked,
        title="test map",
    )
    assert_figure(path, 600, 300)
