"""benchmarks/bench_real_handwriting.py on a tiny made-up "real" folder (the real may be absent)."""

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks import bench_real_handwriting as bench
from recognition.errors import DataError
from tools.handwriting import DIGITS, GREEK_SHAPES, render

FIVE = ["alpha", "beta", "gamma", "delta", "epsilon"]


def letters_folder(root, letters, count, seed):
    for i, letter in enumerate(letters):
        (root / letter).mkdir(parents=True)
        for j in range(count):
            Image.fromarray(
                render(GREEK_SHAPES[letter][0], np.random.default_rng(seed + 10 * i + j), 96, 96)
            ).save(root / letter / f"{j}.png")
    return root


def test_bench_prints_every_set_per_letter_confusions_and_digits(
    tmp_path, mnist_checkpoint, capsys
):
    train = letters_folder(tmp_path / "train", FIVE + ["lambda", "pi", "theta"], 2, seed=0)
    real = tmp_path / "real"
    letters_folder(real / "greek", FIVE, 2, seed=500)
    letters_folder(real / "greek_forms", FIVE + ["lambda", "pi"], 2, seed=900)
    (real / "digits").mkdir()
    for d in (1, 4, 7):
        Image.fromarray(render(DIGITS[d], np.random.default_rng(d), 60, 60)).save(
            real / "digits" / f"{d}_a.png"
        )
    bench.main(
        [
            "--model",
            str(mnist_checkpoint),
            "--train-dir",
            str(train),
            "--real-dir",
            str(real),
            "--seeds",
            "2",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    greek, forms = out.split("== greek_forms: ")
    for name, n in (("alpha/beta/gamma", 6), ("alpha..epsilon", 10), ("all 5 present", 10)):
        assert f"\n{name}: " in greek and f"on {n} real letters (2 seeds: " in greek, name
    assert "alpha..epsilon, lambda, pi" not in greek  # the three-writer folder has no lambda
    for name in ("alpha/beta/gamma", "alpha..epsilon", "alpha..epsilon, lambda, pi"):
        assert f"\n{name}: " in forms, name
    assert "all 7 present: " in forms and "on 14 real letters (2 seeds: " in forms
    assert out.count("per letter: alpha") == 7 and out.count("most common confusions") == 7
    assert out.count("worst 1 of 2 writers: ") == 7 and "\ntook " in out
    assert "digits (Task 1 model, photo pipeline): " in out and "/3" in out


def test_bench_without_the_real_folder_is_one_error(tmp_path, mnist_checkpoint):
    with pytest.raises(DataError, match="no folder"):
        bench.main(
            [
                "--model",
                str(mnist_checkpoint),
                "--real-dir",
                str(tmp_path / "absent"),
                "--seeds",
                "1",
            ]
        )


def test_a_letter_set_is_its_letters_only_renumbered_in_its_own_order():
    every = ["alpha", "beta", "delta", "epsilon", "gamma"]
    y = torch.tensor([0, 1, 2, 3, 4, 4, 0])
    x = torch.arange(7.0)[:, None]  # each image's index, to see which are kept
    xs, ys = bench.subset((x, y), every, ["alpha", "beta", "gamma"], "cpu")
    assert xs[:, 0].tolist() == [0, 1, 4, 5, 6] and ys.tolist() == [0, 1, 2, 2, 0]


def test_the_letter_sets_add_every_letter_both_folders_hold(tmp_path):
    train = letters_folder(tmp_path / "train", FIVE + ["pi", "theta"], 1, seed=0)
    real = letters_folder(tmp_path / "real", ["alpha", "beta", "gamma", "theta"], 1, seed=9)
    sets = bench.letter_sets(train, real)
    assert sets["all 4 present"] == ["alpha", "beta", "gamma", "theta"]
    # A fixed set the real folder lacks letters of (delta, epsilon) is left out, not an error.
    assert list(sets) == ["alpha/beta/gamma", "all 4 present"]


class ReadsEverythingAs(torch.nn.Module):
    """A stand-in network that reads every image as class `k`."""

    def __init__(self, k, classes):
        super().__init__()
        self.k, self.classes = k, classes

    def forward(self, x):
        log_p = torch.full((len(x), self.classes), -20.0)
        log_p[:, self.k] = 0.0
        return log_p


def test_a_set_is_scored_per_seed_per_letter_and_by_confusion(monkeypatch):
    classes = ["alpha", "beta", "gamma"]
    real = (torch.zeros(6, 1, 28, 28), torch.tensor([0, 0, 0, 1, 2, 2]))
    # Seed 1's head reads everything as alpha, seed 2's as gamma.
    monkeypatch.setattr(
        bench.transfer,
        "train_head",
        lambda model_path, k, train, test, seed, device, **_: (
            ReadsEverythingAs({1: 0, 2: 2}[seed], k),
            None,
        ),
    )
    writers = ["w1", "w1", "w2", "w2", "w3", "w3"]
    accuracies, worst, per_letter, confusions, n, counts = bench.measure_set(
        "unused.pth", classes, None, real, writers, [1, 2], "cpu"
    )
    assert accuracies == [3 / 6, 2 / 6] and n == 6
    # Seed 1 reads both of w3's gammas wrong, seed 2 both of w1's alphas: the worst writer has 0.
    assert worst == [0.0, 0.0] and counts == (1, 3)
    assert per_letter == {"alpha": [1.0, 0.0], "beta": [0.0, 0.0], "gamma": [0.0, 1.0]}
    assert confusions == {
        ("beta", "alpha"): 1,
        ("gamma", "alpha"): 2,
        ("alpha", "gamma"): 3,
        ("beta", "gamma"): 1,
    }


def test_a_letter_set_two_real_sets_hold_is_trained_once_per_seed(monkeypatch):
    calls = []

    def train_head(model_path, k, train, test, seed, device, **_):
        calls.append(seed)
        return ReadsEverythingAs(0, k), None

    monkeypatch.setattr(bench.transfer, "train_head", train_head)
    real = (torch.zeros(2, 1, 28, 28), torch.tensor([0, 1]))
    trained = {}
    for _ in range(2):  # two real sets of the same letters
        accuracies, *_ = bench.measure_set(
            "unused.pth",
            ["alpha", "beta"],
            None,
            real,
            ["w1", "w2"],
            [1, 2],
            "cpu",
            "last",
            trained,
        )
        assert accuracies == [0.5, 0.5]
    assert calls == [1, 2] and set(trained) == {(("alpha", "beta"), 1), (("alpha", "beta"), 2)}
    bench.measure_set("unused.pth", ["alpha", "gamma"], None, real, ["w1", "w2"], [1], "cpu")
    assert calls == [1, 2, 1]  # another letter set, and no cache given: trained afresh


def test_the_worst_tenth_pools_the_letters_of_the_weakest_writers():
    # Twenty writers of two letters: w0 and w1 get none right, w2 one, the rest both.
    writers = [f"w{i}" for i in range(20) for _ in range(2)]
    correct = [False, False, False, False, True, False] + [True] * 34
    assert bench.worst_share(correct, writers) == (0.0, 2, 20)
    assert bench.worst_share(correct, writers, share=0.15) == (1 / 6, 3, 20)


def test_a_writer_is_the_first_part_of_a_file_name():
    assert bench.writer_of("greek_forms/alpha/w07.bmp") == "w07"
    assert bench.writer_of("greek/alpha/w1_alpha_2.png") == "w1"
