"""training: determinism, evaluation, augmentation, recipes."""
import pytest
import torch

import dataio
import training
from models import Net


@pytest.fixture(scope="module")
def mnist_small():
    x, y = dataio.load_split("MNIST", train=True, limit=1024)
    return dataio.normalize(x, "MNIST"), y


def _losses(data, seed, recipe):
    g = training.set_seed(seed)
    model = training.prepare(Net(dropout=recipe.dropout), torch.device("cpu"))
    opt, sched = training.make_optimizer(model, recipe, steps_per_epoch=16, epochs=2)
    return [training.train_epoch(model, opt, *data, recipe, g, sched, log_every=1)[1] for _ in range(2)]


@pytest.mark.parametrize("name", sorted(training.RECIPES))
def test_same_seed_same_losses(mnist_small, name):
    recipe = training.RECIPES[name]
    a, b, c = _losses(mnist_small, 1, recipe), _losses(mnist_small, 1, recipe), _losses(mnist_small, 2, recipe)
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    assert a == b
    assert a != c


def test_training_lowers_loss_and_evaluate_counts(mnist_small):
    x, y = mnist_small
    g = training.set_seed(0)
    model = training.prepare(Net(), torch.device("cpu"))
    before = training.evaluate(model, x, y)
    history = training.fit(model, (x, y), (x[:200], y[:200]), training.RECIPES["report"], 3, g)
    after = training.evaluate(model, x, y)
    assert after["loss"] < before["loss"] and after["accuracy"] > 0.2  # 48 small SGD steps; chance is 0.1
    assert after["n"] == 1024 and after["correct"] == round(after["accuracy"] * 1024)
    assert [e["epoch"] for e in history["epochs"]] == [0, 1, 2, 3]
    assert history["epochs"][-1]["seen"] == 3 * 1024
    assert history["epochs"][-1]["train_eval_loss"] == pytest.approx(after["loss"], rel=1e-5)


def test_evaluate_is_deterministic_and_draws_no_random_numbers(mnist_small):
    x, y = mnist_small
    model = Net()
    state = torch.get_rng_state()
    a, b = training.evaluate(model, x, y), training.evaluate(model, x, y)
    assert a == b
    assert torch.equal(state, torch.get_rng_state())


def test_augment_keeps_shape_background_and_changes_pixels(mnist_small):
    x = mnist_small[0][:32]
    bg = x.min().item()
    out = training.augment_batch(x, torch.Generator().manual_seed(0), bg)
    assert out.shape == x.shape
    assert out[:, :, 0, 0].sub(bg).abs().max() < 1e-5  # corners, sampled from outside, stay blank (not 0)
    assert not torch.allclose(out, x)
    assert (out.flatten(1).sum(1) - x.flatten(1).sum(1)).abs().div(x.sub(bg).flatten(1).sum(1)).max() < 0.35


def test_pick_device():
    assert training.pick_device("cpu").type == "cpu"
    assert training.pick_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            training.pick_device("cuda")
