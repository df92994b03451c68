"""model.pth in both directions: the report's own code reads every checkpoint this repository
writes, and this repository reads what the report's code writes (recognition/checkpoints.py)."""

import pytest
import torch
import torch.nn.functional as F
from conftest import GREEK, SMALL_TRANSFORMER, write_letters
from torch import nn

import ext_gabor
import task1_train_mnist
import task3_greek
from models import Net, NetTransformer, load_checkpoint, save_checkpoint
from recognition import checkpoints, recipes
from recognition.errors import CheckpointError


class ReportNet(nn.Module):
    """The report's Figure 2 network, as the report prints it (the PyTorch MNIST tutorial's)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def report_net(num_classes=10):
    """ReportNet, with a new last layer for Task 3's letters as the report replaces it."""
    network = ReportNet()
    if num_classes != 10:
        network.fc2 = nn.Linear(50, num_classes)
    return network


def digits(n=16, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def report_reads(path, num_classes=10):
    """What the report's code does: `network.load_state_dict(torch.load(path))`, strictly and
    weights-only; the network in eval mode, as the report tests it."""
    network = report_net(num_classes)
    result = network.load_state_dict(torch.load(path, weights_only=True), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return network.eval()


def assert_same_outputs(a, b, x):
    with torch.no_grad():
        out_a, out_b = a(x), b(x)
    assert out_a.shape == out_b.shape
    assert torch.equal(out_a, out_b)


def trained_a_little(model, seed):
    """`model` with weights that are not the initial ones of any seed (one SGD step on noise)."""
    torch.manual_seed(seed)
    x, y = digits(8, seed), torch.randint(0, model.fc2.out_features, (8,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    F.nll_loss(model.train()(x), y).backward()
    optimizer.step()
    return model.eval()


# ---- the report's code reads this repository's files


def test_task1_cnn_loads_in_the_reports_net(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "model.pth"
    save_checkpoint(  # what task1_train_mnist.py saves beside the weights
        trained_a_little(Net(), 0),
        path,
        class_names=task1_train_mnist.CLASS_NAMES,
        recipe="report",
        epochs=5,
        train_seconds=12.5,
    )
    ours, ckpt = load_checkpoint(path, num_classes=10)
    assert ckpt["format"] == checkpoints.FORMAT_VERSION and ckpt["arch"] == "cnn"
    assert ckpt["class_names"] == list("0123456789") and ckpt["train_seconds"] == 12.5
    assert_same_outputs(report_reads(path), ours, digits())


def test_greek_network_of_task3_loads_in_the_reports_net_with_three_outputs(
    tmp_path, mnist_checkpoint
):
    """The real task3_greek.py run writes the file; the report's Net with its own fc2 of 3
    outputs reads it."""
    train = write_letters(tmp_path / "train", GREEK, 3, seed=0)
    test = write_letters(tmp_path / "test", GREEK, 2, seed=50)
    save = tmp_path / "greek.pth"
    flags = ["--model", mnist_checkpoint, "--train-dir", train, "--test-dir", test]
    flags += ["--epochs", 2, "--out-dir", tmp_path / "out", "--save", save]
    task3_greek.main([str(f) for f in flags])
    ours, ckpt = load_checkpoint(save, num_classes=3)
    assert ckpt["class_names"] == GREEK and ckpt["pipeline"] == "photo"
    assert ckpt["task"] == "task3" and ckpt["recipe"]["batch_size"] == 5
    assert_same_outputs(report_reads(save, num_classes=3), ours, digits())
    with pytest.raises(RuntimeError, match="size mismatch for fc2.weight"):
        report_net(10).load_state_dict(torch.load(save, weights_only=True))


def test_gabor_network_loads_in_the_reports_net(tmp_path):
    torch.manual_seed(1)
    model = Net()
    ext_gabor.set_gabor(model, ext_gabor.gabor_bank()[0])
    path = tmp_path / "model.pth"
    save_checkpoint(  # what ext_gabor.py saves beside the weights
        trained_a_little(model, 1),
        path,
        class_names=task1_train_mnist.CLASS_NAMES,
        conv1="gabor (frozen)",
        recipe="report",
        epochs=5,
    )
    network = report_reads(path)
    assert torch.equal(network.conv1.weight[:, 0], torch.as_tensor(ext_gabor.gabor_bank()[0]))
    assert_same_outputs(network, load_checkpoint(path)[0], digits())


def test_transformer_loads_with_a_plain_load_state_dict(tmp_path):
    torch.manual_seed(2)
    path = tmp_path / "model.pth"
    net = trained_a_little(NetTransformer(**SMALL_TRANSFORMER), 2)
    save_checkpoint(net, path, class_names=task1_train_mnist.CLASS_NAMES, recipe="transformer")
    ours, ckpt = load_checkpoint(path)
    plain = NetTransformer(**ckpt["model_args"])
    plain.load_state_dict(torch.load(path, weights_only=True), strict=True)
    assert_same_outputs(plain.eval(), ours, digits())


@pytest.mark.integration
def test_the_scripts_own_files_load_in_the_reports_net(tmp_path):
    """Task 1's and the Gabor extension's model.pth, as the real scripts write them."""
    tiny = ["--epochs", "1", "--train-limit", "500", "--test-limit", "100"]
    task1_train_mnist.main([*tiny, "--map-points", "0", "--out-dir", str(tmp_path / "task1")])
    ext_gabor.main(["--repeats", "1", *tiny, "--out-dir", str(tmp_path / "gabor")])
    for path in (tmp_path / "task1" / "model.pth", tmp_path / "gabor" / "model.pth"):
        assert_same_outputs(report_reads(path), load_checkpoint(path)[0], digits())


# ---- this repository reads the report's files, and its own older ones


@pytest.mark.parametrize("num_classes", [10, 3])
def test_a_state_dict_saved_by_the_reports_code_loads(tmp_path, num_classes):
    torch.manual_seed(3)
    network = trained_a_little(report_net(num_classes), 3)
    torch.save(network.state_dict(), tmp_path / "model.pth")
    ours, ckpt = load_checkpoint(tmp_path / "model.pth", num_classes=num_classes)
    assert ckpt["format"] == 0 and ckpt["model_args"]["num_classes"] == num_classes
    assert_same_outputs(network, ours, digits())


def test_the_earlier_dict_format_still_loads(tmp_path):
    """Format 1: the weights under "state_dict" beside the record, as earlier versions wrote."""
    torch.manual_seed(4)
    net = trained_a_little(Net(num_classes=3, hidden=30), 4)
    old = {
        "format": 1,
        "arch": "cnn",
        "model_args": net.config(),
        "class_names": GREEK,
        "state_dict": {k: v.detach() for k, v in net.state_dict().items()},
        "task": "task3",
        "pipeline": "course",
    }
    torch.save(old, tmp_path / "model.pth")
    ours, ckpt = load_checkpoint(tmp_path / "model.pth", num_classes=3)
    assert ckpt["format"] == 1 and ckpt["pipeline"] == "course" and ckpt["class_names"] == GREEK
    assert ours.config() == {"num_classes": 3, "hidden": 30, "dropout": 0.5}
    assert_same_outputs(net, ours, digits())


# ---- the record in _metadata


def test_the_record_rides_in_metadata_and_only_there(tmp_path):
    recipe = recipes.RECIPES["report"]
    record = {"recipe": {"name": recipe.name, "lr": recipe.lr}, "frozen_dropout": True}
    save_checkpoint(Net(num_classes=3), tmp_path / "m.pth", class_names=GREEK, **record)
    raw = torch.load(tmp_path / "m.pth", weights_only=True)
    assert set(raw) == set(Net(num_classes=3).state_dict())  # nothing beside the weights
    assert all(isinstance(v, torch.Tensor) for v in raw.values())
    kept = raw._metadata[checkpoints.METADATA_KEY]
    assert kept["recipe"] == {"name": "report", "lr": 0.01} and kept["frozen_dropout"] is True
    # what read returns: the record, and the weights with only the modules' own entries
    ckpt = checkpoints.read(tmp_path / "m.pth", "task3_greek.py")
    assert ckpt["class_names"] == GREEK and ckpt["recipe"]["lr"] == 0.01
    assert checkpoints.METADATA_KEY not in ckpt["state_dict"]._metadata
    assert ckpt["state_dict"]._metadata[""] == {"version": 1}


def test_batch_norm_reads_its_own_version_beside_the_record(tmp_path):
    """load_state_dict hands each module its `_metadata` entry (BatchNorm reads the `version` in
    it to decide whether the file has `num_batches_tracked`): the record changes none of them."""
    torch.manual_seed(5)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    net.train()(torch.randn(8, 1, 6, 6))  # running statistics and 1 batch tracked
    checkpoints.write(tmp_path / "m.pth", "test", {}, net.state_dict())
    again = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    again.load_state_dict(torch.load(tmp_path / "m.pth", weights_only=True), strict=True)
    assert again[1].num_batches_tracked.item() == 1
    assert torch.equal(again[1].running_mean, net[1].running_mean)


def test_a_tuple_reads_back_as_the_list_json_makes_of_it(tmp_path):
    save_checkpoint(Net(), tmp_path / "m.pth", sizes=(2, 3))
    assert load_checkpoint(tmp_path / "m.pth")[1]["sizes"] == [2, 3]


def test_a_value_weights_only_would_refuse_fails_at_writing(tmp_path):
    with pytest.raises(TypeError, match="not JSON serializable"):
        save_checkpoint(Net(), tmp_path / "m.pth", data_dir=tmp_path)
    assert not (tmp_path / "m.pth").exists()


def test_a_module_named_as_the_record_is_refused(tmp_path):
    net = nn.Sequential()
    net.add_module(checkpoints.METADATA_KEY, nn.Linear(2, 2))
    with pytest.raises(ValueError, match="module named"):
        checkpoints.write(tmp_path / "m.pth", "test", {}, net.state_dict())


def test_a_record_without_the_architecture_is_one_line(tmp_path):
    sd = Net().state_dict()
    sd._metadata[checkpoints.METADATA_KEY] = {"format": 2, "model_args": Net().config()}
    torch.save(sd, tmp_path / "m.pth")
    with pytest.raises(CheckpointError, match="lacks 'arch'.*run `python task3_greek.py`"):
        load_checkpoint(tmp_path / "m.pth", made_by="task3_greek.py")
