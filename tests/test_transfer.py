"""transfer: Task 1's network frozen with a new last layer that learns letters, seeded."""

import dataclasses

import torch
import torch.nn.functional as F
from conftest import write_letters

from models import Net, NetTransformer, load_checkpoint
from recognition import letters, transfer

THREE = ["alpha", "beta", "gamma"]


def letter_tensors(root, count, seed):
    """`count` rendered writings of each of THREE (seeds from `seed`): (x, y), photo pipeline."""
    write_letters(root, THREE, count, seed)
    return letters.load_letter_folder(root, THREE, "photo")[:2]


def test_only_the_new_layer_learns():
    net = transfer.greek_net(Net(), 5, frozen_eval=True)
    assert net.fc2.out_features == 5 and net.config()["num_classes"] == 5
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["fc2.weight", "fc2.bias"]
    net.train()
    F.nll_loss(net(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3])).backward()
    assert {n for n, p in net.named_parameters() if p.grad is not None} == {
        "fc2.weight",
        "fc2.bias",
    }
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(net(x), net(x))  # frozen dropout stays off in train mode


def test_the_many_writers_head_trains_fc1_too_and_nothing_else():
    net = transfer.greek_net(Net(), 4, frozen_eval=True, head="last-two")
    learning = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, p in net.named_parameters() if p.requires_grad] == learning
    net.train()
    F.nll_loss(net(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3])).backward()
    assert {n for n, p in net.named_parameters() if p.grad is not None} == set(learning)
    assert transfer.HEAD_RECIPES["last"] == "transfer"  # the report's protocol is unchanged


def test_the_default_head_trains_conv2_and_fc1_and_keeps_conv1():
    net = transfer.greek_net(Net(), 4, frozen_eval=True, head=transfer.HEAD)
    learning = [f"{layer}.{p}" for layer in ("conv2", "fc1", "fc2") for p in ("weight", "bias")]
    assert [n for n, p in net.named_parameters() if p.requires_grad] == learning
    net.train()
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(net(x), net(x))  # the frozen dropout after conv2 stays off
    F.nll_loss(net(x), torch.tensor([0, 1, 2, 3])).backward()
    assert {n for n, p in net.named_parameters() if p.grad is not None} == set(learning)


def test_a_head_counts_the_last_layers_with_weights_of_either_network():
    assert transfer.learning_layers(Net(), "last-three") == ["conv2", "fc1", "fc2"]
    assert transfer.learning_layers(NetTransformer(), "last-three") == ["norm", "fc1", "fc2"]
    assert transfer.learning_layers(NetTransformer(), "last") == ["fc2"]


def test_frozen_dropout_keeps_the_reports_train_mode():
    net = transfer.greek_net(Net(), 3, frozen_eval=False).train()
    x = torch.randn(2, 1, 28, 28)
    assert not torch.equal(net(x), net(x))  # the frozen layers' dropout is on, as network.train()


def test_the_head_learns_other_writings_of_the_letters(tmp_path, mnist_checkpoint):
    # Even Task 1's untrained network gives features a new last layer can tell letters apart by.
    train = letter_tensors(tmp_path / "train", 6, seed=0)
    test = letter_tensors(tmp_path / "test", 6, seed=50)
    recipe = dataclasses.replace(transfer.RECIPE, lr=0.1)
    model, history = transfer.train_head(
        mnist_checkpoint, 3, train, test, seed=1, device="cpu", recipe=recipe, epochs=20
    )
    first, last = history["epochs"][0], history["epochs"][-1]
    assert first["test_accuracy"] <= 0.5 and last["test_accuracy"] >= 0.8  # chance: 1/3
    assert last["test_loss"] < first["test_loss"] and last["epoch"] == 20
    original, _ = load_checkpoint(mnist_checkpoint)
    assert torch.equal(model.conv1.weight.cpu(), original.conv1.weight)  # the base is frozen


def test_a_seed_gives_one_head_and_another_seed_another(tmp_path, mnist_checkpoint):
    train = letter_tensors(tmp_path / "train", 2, seed=0)

    def head(seed):
        model, _ = transfer.train_head(mnist_checkpoint, 3, train, train, seed, "cpu", epochs=2)
        return model.fc2.weight

    assert torch.equal(head(1), head(1)) and not torch.equal(head(1), head(2))
