"""ext_gabor.py: the Gabor bank's shape and orientation, a conv1 frozen in training, the result."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import assert_figure

import ext_gabor
from models import load_checkpoint
from recognition import paths, plots, training


def bar(angle, size=28, width=2):
    """A bright bar `width` px wide through the centre, `angle` degrees anticlockwise on screen."""
    img = np.zeros((size, size), np.uint8)
    c = size / 2
    d = np.array([np.cos(np.deg2rad(angle)), -np.sin(np.deg2rad(angle))])  # rows point down
    p0, p1 = np.round(c - size * d).astype(int), np.round(c + size * d).astype(int)
    cv2.line(img, tuple(map(int, p0)), tuple(map(int, p1)), 255, width, cv2.LINE_AA)
    return img.astype(np.float32) / 255


def strength(kernel, image):
    return float(np.abs(cv2.filter2D(image, cv2.CV_32F, kernel)).max())


def test_bank_shape_zero_mean_unit_norm():
    kernels, titles = ext_gabor.gabor_bank()
    assert kernels.shape == (10, 5, 5) and kernels.dtype == np.float32 and len(titles) == 10
    assert np.allclose(kernels.sum((1, 2)), 0, atol=1e-5)
    assert np.allclose(np.linalg.norm(kernels.reshape(10, -1), axis=1), 1, atol=1e-5)
    assert len({k.tobytes() for k in kernels}) == 10  # ten different kernels


@pytest.mark.parametrize("phase", ext_gabor.PHASES)
@pytest.mark.parametrize("angle", ext_gabor.BAR_ANGLES)
def test_kernel_prefers_a_bar_at_its_own_angle(angle, phase):
    """The kernel for bars at angle a answers a bar at a more strongly than a bar at a + 90 deg."""
    k = ext_gabor.gabor_kernel(angle, phase)
    assert strength(k, bar(angle)) > 1.5 * strength(k, bar(angle + 90))


def test_bar_helper_draws_the_angle_it_names():
    """The test's own bar: 0 degrees is horizontal, 90 vertical (else the test above is empty)."""
    h, v = bar(0), bar(90)
    # row (column) 14, through the centre, against row (column) 3
    assert h[14].sum() > 10 * h[3].sum() + 1 and v[:, 14].sum() > 10 * v[:, 3].sum() + 1


def tiny_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_conv1_stays_frozen_while_the_rest_trains():
    kernels, _ = ext_gabor.gabor_bank()
    data = tiny_data()
    model, result = ext_gabor.train_run("gabor", 0, data, data, 2, torch.device("cpu"), kernels)
    assert not any(p.requires_grad for p in model.conv1.parameters())
    assert torch.equal(model.conv1.weight.detach()[:, 0], torch.as_tensor(kernels))
    assert not model.conv1.bias.detach().any()
    assert result["frozen"] == {"weights_unchanged": True, "requires_grad": False}
    training.set_seed(0)
    start = ext_gabor.Net()
    assert not torch.equal(start.conv2.weight, model.conv2.weight.detach())  # the rest did train


def test_check_frozen_fails_for_a_conv1_that_trained():
    """Negative control: the run with conv1 trainable changes conv1, and check_frozen says so."""
    kernels, _ = ext_gabor.gabor_bank()
    model = ext_gabor.set_gabor(ext_gabor.Net(), kernels)
    model.conv1.requires_grad_(True)
    data = tiny_data()
    training.fit(
        model,
        data,
        data,
        ext_gabor.RECIPE,
        1,
        torch.Generator().manual_seed(0),
        eval_epochs=[],
        eval_train=False,
    )
    with pytest.raises(RuntimeError, match="frozen"):
        ext_gabor.check_frozen(model, kernels)


def test_same_seed_same_start_for_the_other_layers():
    kernels, _ = ext_gabor.gabor_bank()
    data = tiny_data(16)
    g, _ = ext_gabor.train_run("gabor", 3, data, data, 0, torch.device("cpu"), kernels)
    learned, _ = ext_gabor.train_run("learned", 3, data, data, 0, torch.device("cpu"), kernels)
    for name in ("conv2.weight", "fc1.weight", "fc2.bias"):
        assert torch.equal(g.state_dict()[name], learned.state_dict()[name])
    assert not torch.equal(g.conv1.weight, learned.conv1.weight)


def test_summary_compares_the_difference_with_the_spread():
    runs = [
        {"conv1": c, "accuracy": a}
        for c, a in [("gabor", 0.98), ("gabor", 0.982), ("learned", 0.97), ("learned", 0.971)]
    ]
    s = ext_gabor.summarize(runs)
    assert s["gabor"]["mean"] == pytest.approx(0.981) and s["difference"] == pytest.approx(0.0105)
    assert s["verdict"] == "larger than the seed-to-seed spread"
    runs[1]["accuracy"] = 0.90
    assert ext_gabor.summarize(runs)["verdict"] == "within the seed-to-seed spread"


def test_closest_gabor_finds_a_kernel_and_its_sign():
    kernels, _ = ext_gabor.gabor_bank()
    learned = np.stack([-2 * kernels[7], 0.5 * kernels[2]])
    best, cos = ext_gabor.closest_gabor(learned, kernels)
    assert best.tolist() == [7, 2] and np.allclose(cos, [-1, 1], atol=1e-5)


@pytest.mark.integration
def test_ext_gabor_quick_run(tmp_path, monkeypatch):
    drawn, real = {}, plots.filter_response_grid  # figure file name -> the filters it shows

    def spy(filters, responses, path, *args, **kwargs):
        drawn[path.name] = filters
        return real(filters, responses, path, *args, **kwargs)

    monkeypatch.setattr(plots, "filter_response_grid", spy)
    out = tmp_path / "out"
    ext_gabor.main(
        [
            "--repeats",
            "2",
            "--epochs",
            "1",
            "--train-limit",
            "2000",
            "--test-limit",
            "300",
            "--out-dir",
            str(out),
            "--device",
            "cpu",
        ]
    )
    m = json.loads((out / "metrics.json").read_text())
    assert len(m["runs"]) == 4 and m["summary"]["gabor"]["n"] == 2 and m["test_n"] == 300
    # 32 SGD steps: the learned net is just leaving chance (0.1; ~0.2 measured), the Gabor net is
    # faster (~0.5)
    assert all(r["accuracy"] > (0.3 if r["conv1"] == "gabor" else 0.15) for r in m["runs"])
    assert m["filter2d_check"]["max_abs_diff"] < 1e-5 * m["filter2d_check"]["max_abs_output"]
    bank = ext_gabor.gabor_bank()[0]
    model, _ = load_checkpoint(out / "model.pth", num_classes=10)
    assert torch.equal(model.conv1.weight[:, 0], torch.as_tensor(bank))
    # the figure shows the frozen bank, not the learned network's filters
    assert np.array_equal(np.stack(drawn["gabor_bank_responses.png"]), bank)
    assert_figure(out / "gabor_bank_responses.png", 500, 400)
    assert_figure(out / "learned_vs_gabor.png", 400, 400)


@pytest.mark.slow
@pytest.mark.parametrize(
    "flag,value,message",
    [("--repeats", "0", "must be at least 1"), ("--epochs", "two", "expected a whole number")],
)
def test_bad_flags_are_one_line(tmp_path, flag, value, message):
    r = subprocess.run(
        [sys.executable, "ext_gabor.py", flag, value, "--out-dir", str(tmp_path)],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
