"""Task 2 (Figs 9-10, Grad-CAM, errors) and the AlexNet extension (Figs 18-19): filter2D, runs."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import assert_figure
from PIL import Image
from torchvision.models import alexnet

import ext_alexnet
import task2_examine
from models import CheckpointError, Net, load_checkpoint, save_checkpoint
from recognition import datasets, filters, first_digit, gradcam, paths, plots, recipes, training
from recognition.errors import DataError, UsageError

ROOT = paths.ROOT
FIRST_TRAINING_LABEL = 5  # MNIST's first training digit is a 5


# ---------------------------------------------------------------- stand-ins made by the tests


@pytest.fixture(scope="module")
def alexnet_random():
    torch.manual_seed(0)
    return alexnet(weights=None).eval()


@pytest.fixture(scope="module")
def alexnet_file(tmp_path_factory, alexnet_random):
    """A saved state_dict of a random AlexNet, standing in for the ImageNet weights file."""
    path = tmp_path_factory.mktemp("weights") / "alexnet_random.pth"
    torch.save(alexnet_random.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def trained_mnist_checkpoint(tmp_path_factory):
    """A Net trained for one epoch on the first 2000 MNIST training digits (AdamW, lr 3e-3): about
    80-86 % on the first 300 test digits, measured over seeds 0-2; an untrained Net gets ~10 %."""
    _, x, y = datasets.load_normalized("MNIST", train=True, limit=2000)
    generator = training.set_seed(0)
    model = training.prepare(Net(), "cpu")
    recipe = recipes.Recipe("test", optimizer="adamw", lr=3e-3)
    training.fit(model, (x, y), (x, y), recipe, 1, generator, eval_epochs=[], eval_train=False)
    path = tmp_path_factory.mktemp("trained") / "model.pth"
    save_checkpoint(model, path, class_names=[str(d) for d in range(10)])
    return path


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A made-up 'photo': a red disc and a blue bar on a gradient, 160x120 RGB."""
    yy, xx = np.mgrid[0:120, 0:160]
    img = np.stack([xx * 1.5, yy * 2.0, np.full_like(xx, 90)], -1).astype(np.uint8)
    cv2.circle(img, (50, 60), 30, (230, 30, 30), -1)
    cv2.rectangle(img, (100, 20), (115, 100), (20, 40, 220), -1)
    path = tmp_path_factory.mktemp("photo") / "scene.png"
    Image.fromarray(img).save(path)
    return path


# ---------------------------------------------------------------- filter2D equals the conv layer


def test_filter2d_equals_net_conv1_inside_the_border():
    torch.manual_seed(1)
    conv = Net().conv1
    image = torch.randn(1, 28, 28)
    responses, check = filters.layer_check(conv, image, range(10), border=cv2.BORDER_REFLECT_101)
    assert responses.shape == (10, 28, 28)
    assert check["compared"] == 10 * 24 * 24  # conv1 has no padding: 24x24 outputs, all inside
    assert check["max_abs_diff"] < 1e-5 * check["max_abs_output"]


def test_filter2d_equals_alexnet_layers_at_their_stride_and_padding(alexnet_random):
    x = torch.randn(3, 224, 224)
    first = alexnet_random.features[0]
    responses, check = filters.layer_check(first, x, range(4))  # zero border, as the layer pads
    assert responses.shape == (4, 224, 224)
    assert check["compared"] == 4 * 55 * 55  # stride 4, padding 2: 55x55 outputs, borders included
    assert check["max_abs_diff"] < 1e-4 * check["max_abs_output"]
    acts = alexnet_random.features[:3](x[None])[0]  # (64, 27, 27): conv1, ReLU, max-pool
    _, check2 = filters.layer_check(alexnet_random.features[3], acts, range(3))
    assert check2["compared"] == 3 * 27 * 27
    assert check2["max_abs_diff"] < 1e-4 * check2["max_abs_output"]


def test_check_detects_a_flipped_kernel_and_a_wrong_offset(alexnet_random):
    """The check can fail: a true convolution (flipped kernel) or a one-pixel shift is no match."""
    x = torch.randn(3, 224, 224)
    conv = alexnet_random.features[0]
    _, good = filters.layer_check(conv, x, [0])
    flipped = torch.nn.Conv2d(3, 64, 11, stride=4, padding=2)
    with torch.no_grad():
        flipped.weight.copy_(conv.weight.flip(-1, -2))
        flipped.bias.copy_(conv.bias)
    responses, _ = filters.layer_check(flipped, x, [0])  # responses of the flipped kernel ...
    layer = conv(x[None])[0, 0].detach().numpy()  # ... against the real layer
    rows, cols, _ = filters.conv_positions(conv, 224, 224)
    assert np.abs(responses[0][rows][:, cols] - layer).max() > 100 * good["max_abs_diff"]
    real, _ = filters.layer_check(conv, x, [0])
    assert np.abs(real[0][rows + 1][:, cols] - layer).max() > 100 * good["max_abs_diff"]


def test_strongest_input_channel():
    k = np.zeros((4, 3, 3))
    k[2, 1, 1] = -5.0
    k[1] += 1.0
    c, kernel = filters.strongest_input_channel(k)
    assert c == 2 and kernel[1, 1] == -5.0


def test_gradcam_map_sits_over_the_window_centre():
    cam = np.zeros((8, 8), np.float32)
    cam[1, 6] = 1.0  # conv2 unit (1, 6) sees input rows 2..15, columns 12..25: centre (8.5, 18.5)
    placed = gradcam.place_on_input(cam)
    assert placed.shape == (28, 28)
    ys, xs = np.nonzero(placed == placed.max())
    assert abs(ys.mean() - 8.5) <= 0.5 and abs(xs.mean() - 18.5) <= 0.5


def test_gradcam_maps_are_in_unit_range():
    torch.manual_seed(2)
    model = Net().eval()
    maps = gradcam.grad_cam(model, torch.randn(3, 1, 28, 28), [0, 4, 9])
    assert maps.shape == (3, 28, 28) and np.isfinite(maps).all()
    assert maps.min() >= 0 and maps.max() <= 1 + 1e-6


@pytest.mark.integration
def test_first_digit_figure_shows_the_digit_through_each_filter(tmp_path, monkeypatch):
    """Fig 10's responses for two known filters: a one-pixel diagonal shift (a flipped kernel would
    shift the other way), and a scaled copy plus a bias."""
    conv = torch.nn.Conv2d(1, 2, 5)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 3] = 1.0  # filter2D does not flip: response[y, x] = digit[y-1, x+1]
        conv.weight[1, 0, 2, 2] = -2.0
        conv.bias.copy_(torch.tensor([0.0, 0.5]))
    drawn, real = {}, plots.filter_response_grid

    def spy(filters, responses, path, *args, **kwargs):
        drawn.update(filters=filters, responses=responses, source=kwargs["source"])
        return real(filters, responses, path, *args, **kwargs)

    monkeypatch.setattr(plots, "filter_response_grid", spy)
    path = tmp_path / "fig.png"
    label, check = first_digit.responses_figure(conv, ["shift", "scale"], path, "two filters")
    x_u8, _ = datasets.load_split("MNIST", train=True, limit=1)
    digit = (x_u8[0].numpy() / 255.0 - 0.1307) / 0.3081  # as the network sees it
    shift, scale = drawn["responses"]
    assert label == FIRST_TRAINING_LABEL and np.array_equal(drawn["source"], x_u8[0].numpy())
    assert np.allclose(shift[1:, :-1], digit[:-1, 1:], atol=1e-5)
    assert not np.allclose(shift[:-1, 1:], digit[1:, :-1], atol=1e-2)  # the flipped kernel's
    assert np.allclose(scale, -2 * digit + 0.5, atol=1e-5)
    assert np.array_equal(drawn["filters"][0], conv.weight[0, 0].detach().numpy())
    assert check["compared"] == 2 * 24 * 24
    assert check["max_abs_diff"] < 1e-5 * check["max_abs_output"]
    assert_figure(path, 300, 200)


# ---------------------------------------------------------------- task2_examine.py


@pytest.mark.integration
def test_task2_says_a_transformer_has_no_filters(tmp_path):
    from models import NetTransformer, save_checkpoint

    save_checkpoint(
        NetTransformer(patch=7, stride=7, d_model=16, heads=2, layers=1), tmp_path / "t.pth"
    )
    with pytest.raises(UsageError, match="no convolution filters"):
        task2_examine.main(["--model", str(tmp_path / "t.pth"), "--out-dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()  # it stops before writing anything


def test_task2_writes_figs_9_10_and_the_check(trained_mnist_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    task2_examine.main(
        [
            "--model",
            str(trained_mnist_checkpoint),
            "--out-dir",
            str(out),
            "--test-limit",
            "300",
            "--device",
            "cpu",
        ]
    )
    printed = capsys.readouterr().out
    assert "conv1 weight shape: (10, 1, 5, 5)" in printed
    for name in ("fig09_conv1_filters.png", "fig10_conv1_responses.png", "extra_gradcam.png"):
        assert_figure(out / name, 500, 400)
    m = json.loads((out / "metrics.json").read_text())
    assert m["conv1_weight_shape"] == [10, 1, 5, 5]
    weights = torch.load(trained_mnist_checkpoint, weights_only=True)["conv1.weight"]
    assert np.allclose(m["conv1_weights"], weights[:, 0].numpy(), atol=1e-7)
    check = m["filter2d_check"]
    # conv1 has no padding: its 24x24 outputs of each filter lie inside the border
    assert check["compared"] == 10 * 24 * 24
    assert check["max_abs_diff"] < 1e-5 * check["max_abs_output"]
    assert m["first_training_label"] == FIRST_TRAINING_LABEL
    # a trained network makes few errors (the fixture's ~15 %; an untrained Net's ~90 %), so
    # Grad-CAM finds five digits it gets right and five it gets wrong
    assert m["test_n"] == 300 and m["test_errors"] < 0.3 * 300
    g = m["gradcam"]
    assert len(g["correct"]) == len(g["misclassified"]) == task2_examine.N_CAM
    # the digits shown as right are right and those shown as wrong are wrong, by the model itself
    model, _ = load_checkpoint(trained_mnist_checkpoint)
    x, y = datasets.load_split("MNIST", False, limit=300)
    pred = training.predict(model, datasets.normalize(x, "MNIST")).argmax(1)
    assert all(pred[i] == y[i] for i in g["correct"]) and all(
        pred[i] != y[i] for i in g["misclassified"]
    )
    assert g["predictions"] == [int(pred[i]) for i in g["correct"] + g["misclassified"]]
    assert m["test_errors"] == int((pred != y).sum())
    # the errors: the confusion matrix counts every test digit once, its diagonal the right ones
    counts = np.array(m["confusion"])
    assert counts.shape == (10, 10) and counts.sum() == m["test_n"] == 300
    assert np.trace(counts) == int((pred == y).sum())
    assert np.allclose(
        m["per_class_accuracy"],
        [((pred == y) & (y == d)).sum() / max(1, (y == d).sum()) for d in range(10)],
    )
    pairs = m["confused_pairs"]
    assert 0 < len(pairs) <= 5 and [p["count"] for p in pairs] == sorted(
        (p["count"] for p in pairs), reverse=True
    )
    assert all(
        p["count"] == int(((y == p["true"]) & (pred == p["predicted"])).sum()) for p in pairs
    )
    assert_figure(out / "extra_confusion_matrix.png", 400, 400)
    assert_figure(out / "extra_confused_pairs.png", 300, 300)


@pytest.mark.slow
def test_task2_missing_model_is_one_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "task2_examine.py"),
            "--model",
            str(tmp_path / "none.pth"),
            "--out-dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "task1_train_mnist.py" in lines[0]
    assert not (tmp_path / "out").exists()


def test_task2_rejects_a_checkpoint_of_another_architecture(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"conv1.weight": torch.zeros(3)}, bad)
    with pytest.raises(CheckpointError):
        task2_examine.main(["--model", str(bad), "--out-dir", str(tmp_path / "out")])


# ---------------------------------------------------------------- ext_alexnet.py


@pytest.mark.slow
def test_alexnet_random_weights_writes_figs_18_19(photo, tmp_path, monkeypatch):
    titles = []
    real = plots.filter_response_grid
    monkeypatch.setattr(
        plots, "filter_response_grid", lambda *a, **k: titles.append(k["suptitle"]) or real(*a, **k)
    )
    out = tmp_path / "out"
    ext_alexnet.main(
        [
            "--random-weights",
            "--image",
            str(photo),
            "--out-dir",
            str(out),
            "--data-dir",
            str(tmp_path / "no_data"),
        ]
    )
    for name in (
        "fig18_alexnet_conv1.png",
        "fig19_alexnet_conv2.png",
        "alexnet_conv1_all_filters.png",
    ):
        assert_figure(out / name, 600, 400)
    assert len(titles) == 2 and all("random weights (untrained)" in t for t in titles)
    assert "64x5x5" in titles[1] and "strongest input channel" in titles[1]
    m = json.loads((out / "metrics.json").read_text())
    assert m["layers"]["0"]["weight_shape"] == [64, 3, 11, 11]
    assert m["layers"]["3"]["weight_shape"] == [192, 64, 5, 5]
    assert m["layers"]["3"]["input_shape"] == [64, 27, 27]
    for layer in m["layers"].values():
        assert (
            layer["filter2d_check"]["max_abs_diff"]
            < 1e-4 * layer["filter2d_check"]["max_abs_output"]
        )
    assert not (tmp_path / "no_data").exists()  # --image given: nothing fetched


@pytest.mark.slow
def test_alexnet_loads_a_weights_file(alexnet_file, alexnet_random, photo, tmp_path):
    out = tmp_path / "out"
    ext_alexnet.main(
        [
            "--model",
            str(alexnet_file),
            "--image",
            str(photo),
            "--out-dir",
            str(out),
            "--layers",
            "6",
            "--num-filters",
            "3",
        ]
    )
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["layers"]) == ["6"] and m["layers"]["6"]["weight_shape"] == [384, 192, 3, 3]
    assert_figure(out / "alexnet_features6.png", 500, 400)
    assert not (out / "fig18_alexnet_conv1.png").exists()
    assert len(m["top3"]) == 3
    model, _ = ext_alexnet.load_alexnet(alexnet_file)
    assert torch.equal(model.features[0].weight, alexnet_random.features[0].weight)


@pytest.mark.slow
def test_alexnet_default_weights_come_through_torchvisions_cache(
    alexnet_file, photo, tmp_path, monkeypatch, capsys
):
    """No --model: torchvision's weights API finds the file in $TORCH_HOME's cache; no download."""
    from torchvision.models import AlexNet_Weights

    cache = tmp_path / "torch_home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / AlexNet_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]).symlink_to(alexnet_file)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    out = tmp_path / "out"
    ext_alexnet.main(
        ["--image", str(photo), "--out-dir", str(out), "--layers", "0", "--num-filters", "2"]
    )
    m = json.loads((out / "metrics.json").read_text())
    assert m["weights"] == "ImageNet weights" and len(m["top3"]) == 3
    assert "AlexNet's top 3 ImageNet classes" in capsys.readouterr().out


def test_alexnet_bad_inputs_are_one_line_errors(tmp_path, photo):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a state dict")
    with pytest.raises(UsageError, match="not a readable weights-only"):
        ext_alexnet.main(["--model", str(junk), "--image", str(photo), "--out-dir", str(tmp_path)])
    other = tmp_path / "net.pth"
    torch.save(Net().state_dict(), other)
    with pytest.raises(UsageError, match="AlexNet"):
        ext_alexnet.main(["--model", str(other), "--image", str(photo), "--out-dir", str(tmp_path)])
    with pytest.raises(UsageError, match="choose from 0, 3, 6, 8, 10"):
        ext_alexnet.main(
            ["--random-weights", "--image", str(photo), "--layers", "1", "--out-dir", str(tmp_path)]
        )
    notimage = tmp_path / "notes.jpg"
    notimage.write_text("hello")
    with pytest.raises(DataError, match="not a readable image"):
        ext_alexnet.main(["--random-weights", "--image", str(notimage), "--out-dir", str(tmp_path)])


def _offline_env(tmp_path):
    """Downloads fail at once, with or without internet: an empty torch cache, a dead proxy."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
    dead = "http://127.0.0.1:9"  # the discard port: connection refused
    env.update(
        TORCH_HOME=str(tmp_path / "torch_home"),
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        http_proxy=dead,
        https_proxy=dead,
    )
    return env


@pytest.mark.parametrize("extra", [[], ["--random-weights"]], ids=["no-weights", "no-image"])
@pytest.mark.slow
def test_alexnet_without_downloads_exits_with_one_line(tmp_path, extra):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "ext_alexnet.py"),
            *extra,
            "--data-dir",
            str(tmp_path / "data"),
            "--out-dir",
            str(tmp_path / "out"),
        ],
        env=_offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    for option in ("--model FILE", "--image FILE", "--random-weights"):
        assert option in lines[0]
    assert not (tmp_path / "out").exists()
