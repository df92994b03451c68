"""models.Net and its checkpoints (models.py, recognition/checkpoints.py)."""

import os
import pickle

import pytest
import torch

from models import CheckpointError, Net, load_checkpoint, save_checkpoint
from recognition import checkpoints

FIGURE_3 = """Net(
  (conv1): Conv2d(1, 10, kernel_size=(5, 5), stride=(1, 1))
  (pool1): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  (conv2): Conv2d(10, 20, kernel_size=(5, 5), stride=(1, 1))
  (dropout): Dropout2d(p=0.5, inplace=False)
  (pool2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  (fc1): Linear(in_features=320, out_features=50, bias=True)
  (fc2): Linear(in_features=50, out_features=10, bias=True)
)"""


def test_printout_matches_figure_3():
    assert str(Net()) == FIGURE_3


@pytest.mark.parametrize("classes,hidden", [(10, 50), (3, 20), (5, 100)])
def test_output_shape_and_log_softmax(classes, hidden):
    out = Net(num_classes=classes, hidden=hidden).eval()(torch.randn(7, 1, 28, 28))
    assert out.shape == (7, classes)
    assert torch.allclose(out.exp().sum(1), torch.ones(7), atol=1e-5)


def test_intermediate_shapes():
    net, x = Net(), torch.randn(2, 1, 28, 28)
    x = net.pool1(net.conv1(x))
    assert x.shape == (2, 10, 12, 12)
    assert net.pool2(net.conv2(x)).shape == (2, 20, 4, 4)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_dropout_out_of_range_refused(bad):
    with pytest.raises(ValueError):
        Net(dropout=bad)


def test_round_trip_keeps_weights_and_config(tmp_path):
    net = Net(num_classes=3, hidden=40, dropout=0.3)
    save_checkpoint(net, tmp_path / "m.pth", class_names=["alpha", "beta", "gamma"], epochs=7)
    loaded, ckpt = load_checkpoint(tmp_path / "m.pth", num_classes=3)
    assert ckpt["class_names"] == ["alpha", "beta", "gamma"] and ckpt["epochs"] == 7
    assert loaded.config() == {"num_classes": 3, "hidden": 40, "dropout": 0.3}
    assert not loaded.training
    for (k, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k


def test_the_file_is_the_documented_weights_only_state_dict(tmp_path):
    """Another program reads the file with torch alone: the weights as the report's
    `torch.save(network.state_dict(), ...)` saves them, and in their `_metadata` what rebuilds
    the network."""
    save_checkpoint(Net(hidden=30), tmp_path / "m.pth", class_names=list("0123456789"), task="x")
    raw = torch.load(tmp_path / "m.pth", weights_only=True)
    assert list(raw) == list(Net().state_dict())
    assert raw["fc1.weight"].shape == (30, 320)
    record = raw._metadata[checkpoints.METADATA_KEY]
    assert record["format"] == checkpoints.FORMAT_VERSION and record["arch"] == "cnn"
    assert record["model_args"] == {"num_classes": 10, "hidden": 30, "dropout": 0.5}
    assert record["class_names"] == list("0123456789") and record["task"] == "x"
    assert raw._metadata["conv1"] == {"version": 1}  # the modules' own entries stay


def test_bare_state_dict_as_the_report_saved_it(tmp_path):
    """The sizes come from the weights alone: 3 classes and 20 hidden units, not the defaults."""
    net = Net(num_classes=3, hidden=20)
    torch.save(net.state_dict(), tmp_path / "model.pth")
    loaded, ckpt = load_checkpoint(tmp_path / "model.pth")
    assert ckpt["arch"] == "cnn" and ckpt["class_names"] is None
    assert ckpt["model_args"] == {"num_classes": 3, "hidden": 20, "dropout": 0.5}
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(loaded(x), net.eval()(x))


def test_a_dict_without_what_rebuilds_the_network_says_to_train_again(tmp_path):
    sd = Net().state_dict()
    torch.save({"format": 1, "model_args": Net().config(), "state_dict": sd}, tmp_path / "m.pth")
    with pytest.raises(CheckpointError, match="lacks 'arch'.*run `python task3_greek.py` again"):
        load_checkpoint(tmp_path / "m.pth", made_by="task3_greek.py")


def test_interrupted_save_leaves_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pth"
    save_checkpoint(Net(), path)
    before = path.read_bytes()

    def dies(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(Net(hidden=20), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.pth"]  # no temporary file left behind


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_refuses_pickle_that_would_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": _RunsCode()}, f)
    with pytest.raises(CheckpointError, match="not a readable weights-only checkpoint"):
        load_checkpoint(path)
    assert not (tmp_path / "pwned.txt").exists()


def test_missing_file_says_run_task1(tmp_path):
    with pytest.raises(CheckpointError, match="run `python task1_train_mnist.py` first"):
        load_checkpoint(tmp_path / "nope.pth")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.pth").write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "notes.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "list.pth")


def test_other_class_count_and_architecture(tmp_path):
    save_checkpoint(Net(num_classes=3), tmp_path / "greek.pth")
    with pytest.raises(CheckpointError, match="3 output classes, expected 10"):
        load_checkpoint(tmp_path / "greek.pth", num_classes=10)
    torch.save(torch.nn.Linear(3, 4).state_dict(), tmp_path / "linear.pth")
    with pytest.raises(CheckpointError, match="no weights of models.Net"):
        load_checkpoint(tmp_path / "linear.pth")
    sd = Net().state_dict()
    sd["conv1.weight"] = torch.zeros(12, 1, 5, 5)
    torch.save(sd, tmp_path / "wide.pth")
    with pytest.raises(CheckpointError, match="another architecture"):
        load_checkpoint(tmp_path / "wide.pth")
