"""Task 3 (Greek letters): GreekTransform, freezing, class order, smoke runs, and 100 % on the committed data."""
import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as TF

import datasets
import letters
import paths
import task3_greek
from conftest import assert_figure
from errors import CheckpointError, DataError, UsageError
from handwriting import GREEK, render
from models import Net, load_checkpoint


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def letter_image(letter, seed, size=128):
    """A rendered handwritten letter as a PIL RGB image, dark ink on light paper."""
    return Image.fromarray(render(GREEK[letter], np.random.default_rng(seed), size, size,
                                  stroke_width=0.07 * size))


def make_folder(root, letters, count, seed=0, size=128):
    for i, letter in enumerate(letters):
        (root / letter).mkdir(parents=True)
        for j in range(count):
            letter_image(letter, seed + 100 * i + j, size).save(root / letter / f"{j}.png")
    return root




# ---- GreekTransform

def test_greek_transform_shape_range_and_polarity():
    x = letters.greek_transform()(letter_image("beta", 1))
    mean, std = datasets.STATS["MNIST"]
    assert x.shape == (1, 28, 28)
    assert x.min() >= (0 - mean) / std - 1e-5 and x.max() <= (1 - mean) / std + 1e-5
    pixels = x[0] * std + mean
    # Dark ink on light paper becomes bright ink on a dark background, like MNIST.
    assert pixels.max() > 0.7
    assert torch.median(pixels) < 0.3


def test_greek_transform_is_the_course_chain_for_128px():
    img = letter_image("alpha", 2).convert("L")
    course = TF.invert(TF.center_crop(TF.affine(TF.rgb_to_grayscale(letter_image("alpha", 2)), 0.0, [0, 0], 36 / 128,
                                                [0.0]), [28, 28]))
    ours = letters.GreekTransform()(img)
    assert np.abs(np.asarray(ours, int) - np.asarray(course, int)).max() <= 1  # PIL's L from RGB rounds alike


def test_greek_transform_other_sizes_and_transparency(tmp_path):
    # The same letter drawn at 256 px and as RGBA ink on a transparent background.
    rng = np.random.default_rng(3)
    rgb = render(GREEK["gamma"], rng, 256, 256, stroke_width=18)
    ink = (255 - np.asarray(Image.fromarray(rgb).convert("L"), float)) / 255
    alpha = np.clip((ink - 0.3) / 0.4, 0, 1)
    rgba = np.zeros((256, 256, 4), np.uint8)
    rgba[..., 3] = (alpha * 255).astype(np.uint8)  # black ink where opaque, transparent (and black) elsewhere
    Image.fromarray(rgba, "RGBA").save(tmp_path / "g.png")
    Image.fromarray(rgb).save(tmp_path / "big.png")
    t = letters.greek_transform()
    a, b = t(letters.load_letter_image(tmp_path / "g.png")), t(letters.load_letter_image(tmp_path / "big.png"))
    assert a.shape == b.shape == (1, 28, 28)
    mean, std = datasets.STATS["MNIST"]
    pa, pb = a[0] * std + mean, b[0] * std + mean
    assert torch.median(pa) < 0.05 and pa.max() > 0.7  # transparency became paper, not ink
    assert F.cosine_similarity(pa.flatten() - pa.mean(), pb.flatten() - pb.mean(), dim=0) > 0.7


# ---- the network

def test_only_the_new_layer_learns():
    net = task3_greek.greek_net(Net(), 5, frozen_eval=True)
    assert net.fc2.out_features == 5 and net.config()["num_classes"] == 5
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["fc2.weight", "fc2.bias"]
    net.train()
    F.nll_loss(net(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3])).backward()
    assert {n for n, p in net.named_parameters() if p.grad is not None} == {"fc2.weight", "fc2.bias"}
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(net(x), net(x))  # frozen dropout stays off in train mode


def test_class_order_is_sorted_folder_names(tmp_path):
    make_folder(tmp_path, ["gamma", "alpha", "epsilon"], 1)
    assert letters.letter_classes(tmp_path, ["gamma", "alpha"]) == ["alpha", "gamma"]
    assert letters.letter_classes(tmp_path) == ["alpha", "epsilon", "gamma"]
    with pytest.raises(DataError, match="beta"):
        letters.letter_classes(tmp_path, ["beta"])


# ---- smoke runs of the script on tiny data

def test_smoke_run_saves_class_names_and_leaves_model_alone(tmp_path, mnist_checkpoint):
    train = make_folder(tmp_path / "train", ["gamma", "alpha", "beta"], 3, seed=0)
    test = make_folder(tmp_path / "test", ["gamma", "alpha", "beta"], 2, seed=50, size=160)
    before = sha(mnist_checkpoint)
    out, save = tmp_path / "out", tmp_path / "greek.pth"
    task3_greek.main(["--model", str(mnist_checkpoint), "--train-dir", str(train), "--test-dir", str(test),
                      "--letters", "gamma", "alpha", "--epochs", "2", "--out-dir", str(out), "--save", str(save)])
    assert sha(mnist_checkpoint) == before
    model, ckpt = load_checkpoint(save)
    assert ckpt["class_names"] == ["alpha", "gamma"] and model.fc2.out_features == 2
    metrics = json.loads((out / "metrics.json").read_text())
    confusion = np.array(metrics["confusion"])
    assert metrics["test_n"] == confusion.sum() == 4 and metrics["test_correct"] == np.trace(confusion)
    assert metrics["test_accuracy"] == metrics["test_correct"] / 4
    assert len(metrics["misclassified"]) == 4 - metrics["test_correct"]
    assert set(metrics["per_class_accuracy"]) == {"alpha", "gamma"}
    assert metrics["embedding_map"]["points"] == 6 + 4 and metrics["embedding_map"]["test_points"] == 4
    assert metrics["embedding_map"]["misclassified"] == 4 - metrics["test_correct"]
    assert_figure(out / "extra_embedding_map.png", 600, 300)
    for name in ("fig11_greek_predictions.png", "fig12_training_error.png", "fig13_network.txt",
                 "confusion_matrix.png"):
        assert (out / name).is_file()
    assert "out_features=2" in (out / "fig13_network.txt").read_text()

    # --classify with the saved model: labels from the folder names; an unreadable file is skipped, not fatal.
    (test / "alpha" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.warns(UserWarning, match="broken.png"):
        task3_greek.main(["--classify", str(test), "--model", str(save), "--out-dir", str(out / "c")])
    result = json.loads((out / "c" / "metrics.json").read_text())
    assert result["classes"] == ["alpha", "gamma"] and len(result["results"]) == 6
    labelled = [r for r in result["results"] if r["label"] is not None]  # beta is not a class of this model
    assert {r["label"] for r in labelled} == {"alpha", "gamma"} and len(labelled) == 4
    assert result["accuracy"] == sum(r["label"] == r["prediction"] for r in labelled) / 4
    assert (out / "c" / "classified_letters.png").is_file()


def test_sweep_smoke(tmp_path, mnist_checkpoint):
    data = make_folder(tmp_path / "d", ["alpha", "beta"], 2)
    out = tmp_path / "sweep"
    task3_greek.main(["--model", str(mnist_checkpoint), "--train-dir", str(data), "--test-dir", str(data), "--sweep",
                      "--epochs", "1", "3", "--batch-size", "1", "4", "--letters", "alpha", "beta",
                      "--out-dir", str(out), "--save", str(tmp_path / "g.pth")])
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    assert [(r["batch_size"], r["epochs"]) for r in rows] == [(1, 1), (1, 3), (4, 1), (4, 3)]
    assert (out / "fig17_sweep_loss.png").is_file() and (out / "sweep_results.csv").is_file()


def test_refuses_to_overwrite_the_mnist_model(tmp_path, mnist_checkpoint):
    data = make_folder(tmp_path / "d", ["alpha", "beta"], 1)
    before = sha(mnist_checkpoint)
    with pytest.raises(UsageError, match="MNIST model"):
        task3_greek.main(["--model", str(mnist_checkpoint), "--save", str(mnist_checkpoint), "--train-dir", str(data),
                          "--test-dir", str(data), "--letters", "alpha", "beta", "--out-dir", str(tmp_path)])
    assert sha(mnist_checkpoint) == before


def test_missing_model_is_one_clear_error(tmp_path):
    data = make_folder(tmp_path / "d", ["alpha", "beta"], 1)
    with pytest.raises(CheckpointError, match="run `python task1_train_mnist.py` first"):
        task3_greek.main(["--model", str(tmp_path / "none.pth"), "--train-dir", str(data), "--test-dir", str(data),
                          "--letters", "alpha", "beta", "--out-dir", str(tmp_path)])


# ---- the committed data with a trained MNIST model

@pytest.mark.integration
def test_committed_three_letters_reach_100_percent(tmp_path):
    model = paths.MNIST_MODEL
    if not model.is_file():  # train Task 1's model with the report's recipe (~40 s)
        import task1_train_mnist
        model = tmp_path / "model.pth"
        task1_train_mnist.main(["--save", str(model), "--out-dir", str(tmp_path / "t1")])
    before = sha(model)
    out = tmp_path / "t3"
    task3_greek.main(["--model", str(model), "--out-dir", str(out), "--save", str(tmp_path / "greek3.pth")])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classes"] == ["alpha", "beta", "gamma"] and metrics["test_n"] == 18
    assert metrics["test_accuracy"] == 1.0, metrics["misclassified"]
    assert sha(model) == before


def test_one_value_per_flag_unless_sweep(tmp_path, mnist_checkpoint):
    data = make_folder(tmp_path / "d", ["alpha", "beta"], 1)
    with pytest.raises(UsageError, match="--epochs takes one value"):
        task3_greek.main(["--model", str(mnist_checkpoint), "--epochs", "2", "4", "--train-dir", str(data),
                          "--test-dir", str(data), "--letters", "alpha", "beta", "--out-dir", str(tmp_path / "o")])


def test_classify_without_a_greek_model_says_which_script_makes_it(tmp_path):
    make_folder(tmp_path / "mine", ["alpha"], 1)
    with pytest.raises(CheckpointError, match="run `python task3_greek.py` first"):
        task3_greek.main(["--classify", str(tmp_path / "mine"), "--model", str(tmp_path / "none.pth")])
