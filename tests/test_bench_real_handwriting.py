"""benchmarks/bench_real_handwriting.py on a tiny made-up "real" folder (the real one may be absent)."""

import numpy as np
import pytest
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
    train = letters_folder(tmp_path / "train", FIVE + ["pi"], 2, seed=0)
    real = tmp_path / "real"
    letters_folder(real / "greek", FIVE, 2, seed=500)
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
    for name, n in (("alpha/beta/gamma", 6), ("alpha..epsilon", 10), ("all 5 present", 10)):
        assert f"{name}: " in out and f"on {n} real letters (2 seeds: " in out, name
    assert out.count("per letter: alpha") == 3 and out.count("most common confusions") == 3
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
