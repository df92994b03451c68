"""training: determinism, the one training loop and its history schema, evaluation, augmentation,
devices."""

import os

import pytest
import torch

from models import Net
from recognition import recipes, training

# A history record's keys, in order (training.fit's contract with every script)
RECORD_KEYS = ["epoch", "seen", "train_loss", "test_loss", "test_accuracy", "test_correct"]
RECORD_KEYS += ["train_eval_loss", "train_accuracy", "train_seconds", "elapsed_seconds"]


@pytest.fixture(scope="module")
def digits_like():
    """1024 learnable 28x28 images: ten fixed blob patterns (one per class) plus noise, on a blank
    background."""
    g = torch.Generator().manual_seed(0)
    templates = (torch.rand(10, 1, 28, 28, generator=g) > 0.8).float()
    templates[..., :4, :] = templates[..., -4:, :] = templates[..., :4] = templates[..., -4:] = (
        0  # blank border
    )
    y = torch.arange(1024) % 10
    ink = 0.7 + 0.3 * torch.rand(1024, 1, 28, 28, generator=g)  # ink varies, background stays 0
    x = templates[y] * ink
    return (x - 0.5) / 0.5, y


def _losses(data, seed, recipe):
    g = training.set_seed(seed)
    model = training.prepare(Net(), torch.device("cpu"))
    opt, sched = training.make_optimizer(model, recipe, steps_per_epoch=16, epochs=2)
    return [
        training.train_epoch(model, opt, *data, recipe, g, sched, log_every=1)[1] for _ in range(2)
    ]


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_same_seed_same_losses(digits_like, name):
    recipe = recipes.RECIPES[name]
    a, b, c = (
        _losses(digits_like, 1, recipe),
        _losses(digits_like, 1, recipe),
        _losses(digits_like, 2, recipe),
    )
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert a == b
    assert a != c


def test_an_epoch_walks_every_example_once_and_logs_every_tenth_batch(digits_like):
    x, y = digits_like
    g = training.set_seed(0)
    model = training.prepare(Net(), torch.device("cpu"))
    recipe = recipes.RECIPES["report"]
    opt, _ = training.make_optimizer(model, recipe, steps_per_epoch=16, epochs=1)
    before = training.evaluate(model, x, y)["loss"]
    loss, log = training.train_epoch(model, opt, x, y, recipe, g)
    # 16 batches of 64: batch 0 and batch 10 logged, with the examples seen once each is done
    assert [n for n, _ in log] == [64, 11 * 64] and model.training
    assert training.evaluate(model, x, y)["loss"] < before and 0 < loss < 2.5


def test_training_lowers_loss_and_history_has_one_schema(digits_like):
    x, y = digits_like
    g = training.set_seed(0)
    model = training.prepare(Net(), torch.device("cpu"))
    before = training.evaluate(model, x, y)
    history = training.fit(model, (x, y), (x[:200], y[:200]), recipes.RECIPES["report"], 3, g)
    after = training.evaluate(model, x, y)
    assert after["loss"] < before["loss"] and after["accuracy"] > 0.5  # chance is 0.1
    assert after["n"] == 1024 and after["correct"] == round(after["accuracy"] * 1024)
    epochs = history["epochs"]
    assert [e["epoch"] for e in epochs] == [0, 1, 2, 3] and epochs[-1]["seen"] == 3 * 1024
    assert epochs[-1]["train_eval_loss"] == pytest.approx(after["loss"], rel=1e-5)
    assert list(epochs[1]) == RECORD_KEYS
    assert epochs[0]["train_loss"] is None and epochs[1]["train_loss"] > epochs[3]["train_loss"]
    # train_seconds: that epoch's training alone; elapsed_seconds: since fit began, with the
    # evaluations
    train_s, elapsed = [e["train_seconds"] for e in epochs], [e["elapsed_seconds"] for e in epochs]
    assert 0 < train_s[2] < elapsed[2] - elapsed[1] and elapsed[1] < elapsed[2] < elapsed[3]
    assert train_s[3] < training.train_seconds(history) < elapsed[3]


def test_fit_evaluates_only_after_the_listed_epochs_with_the_same_numbers(digits_like):
    x, y = digits_like
    runs = []
    for eval_epochs in (None, [2, 3]):
        g = training.set_seed(5)
        model = training.prepare(Net(), torch.device("cpu"))
        runs.append(
            training.fit(
                model,
                (x, y),
                (x[:100], y[:100]),
                recipes.RECIPES["adamw-decay"],
                3,
                g,
                eval_epochs=eval_epochs,
                eval_train=eval_epochs is None,
            )
        )
    every, listed = runs
    assert [e["epoch"] for e in listed["epochs"]] == [2, 3]
    assert "train_accuracy" not in listed["epochs"][0]
    assert listed["train_log"] == every["train_log"]
    for e in listed["epochs"]:
        same = every["epochs"][e["epoch"]]
        for key in ("test_loss", "train_loss", "test_correct"):
            assert e[key] == same[key], key
    assert listed["epochs"][-1]["test_accuracy"] > 0.5  # it learnt (chance 0.1): not vacuous


def test_evaluate_is_deterministic_and_draws_no_random_numbers(digits_like):
    x, y = digits_like
    model = Net()
    state = torch.get_rng_state()
    a, b = training.evaluate(model, x, y), training.evaluate(model, x, y)
    assert a == b
    assert torch.equal(state, torch.get_rng_state())


def test_augment_keeps_shape_background_and_changes_pixels(digits_like):
    x = digits_like[0][:32]
    bg = x.min().item()
    out = training.augment_batch(x, torch.Generator().manual_seed(0), bg)
    assert out.shape == x.shape
    # corners, sampled from outside, stay blank (not 0)
    assert out[:, :, 0, 0].sub(bg).abs().max() < 1e-5
    assert not torch.allclose(out, x)
    assert (out.flatten(1).sum(1) - x.flatten(1).sum(1)).abs().div(
        x.sub(bg).flatten(1).sum(1)
    ).max() < 0.35


def test_pick_device(monkeypatch):
    assert training.pick_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert training.pick_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="no CUDA"):
        training.pick_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training.pick_device("auto").type == "cuda"


def test_recipes_say_how_to_train_not_what_the_network_is():
    for name, recipe in recipes.RECIPES.items():
        assert (
            recipe.name == name and not hasattr(recipe, "dropout") and not hasattr(recipe, "hidden")
        )
    assert recipes.RECIPES["adamw-onecycle"].depends_on_total_epochs()
    assert not recipes.RECIPES["adamw-decay"].depends_on_total_epochs()
    assert "SGD lr 0.01 momentum 0.5, batch 64" in recipes.describe("report")


def test_usable_cores_follow_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert training.usable_cores() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "")  # unset or not a number: the CPU affinity
    assert training.usable_cores() == len(os.sched_getaffinity(0))


def test_the_training_set_is_evaluated_on_its_first_images():
    model = training.prepare(Net(), torch.device("cpu"))
    n = training.TRAIN_EVAL_LIMIT + 50
    x, y = torch.randn(n, 1, 28, 28), torch.randint(0, 10, (n,))
    record = training.epoch_record(model, (x, y), (x[:20], y[:20]), 1, 0.5, 1.0, 0.0)
    first = training.evaluate(model, x[: training.TRAIN_EVAL_LIMIT], y[: training.TRAIN_EVAL_LIMIT])
    assert record["train_eval_loss"] == first["loss"] and record["seen"] == n
    assert record["train_eval_loss"] != training.evaluate(model, x, y)["loss"]  # not all of them
