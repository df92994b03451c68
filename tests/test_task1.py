"""task1_train_mnist.py: smoke runs on tiny data, bad input, and the real reproduction."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_figure

import task1_train_mnist as task1
from recognition import paths, recipes, resumable

FIGS = [
    "fig01_first_digits.png",
    "fig02_network_diagram.png",
    "fig03_network.txt",
    "fig04_handwritten_photos.png",
    "fig05_loss_curves.png",
    "fig06_first_ten_outputs.txt",
    "fig07_predictions.png",
    "fig08_handwritten_digits.png",
    "metrics.json",
]


def _run(*args):
    return subprocess.run(
        [sys.executable, "task1_train_mnist.py", *map(str, args)],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.integration
def test_smoke_tiny_data(tmp_path, capsys):
    out, model = tmp_path / "out", tmp_path / "m.pth"
    tiny = ["--epochs", "1", "--recipe", "adamw-decay", "--train-limit", "2000"]
    tiny += ["--test-limit", "200"]
    task1.main([*tiny, "--out-dir", str(out), "--save", str(model)])
    for f in FIGS:
        if f.endswith(".png"):
            assert_figure(out / f, 250, 150)
    assert "Dropout2d" in (out / "fig03_network.txt").read_text()
    m = json.loads((out / "metrics.json").read_text())
    assert m["test_n"] == 200 and m["test_correct"] == round(m["test_accuracy"] * 200)
    # 63 AdamW steps on 2000 digits; a broken loop stays near chance (0.1)
    assert m["test_accuracy"] > 0.5
    assert [e["epoch"] for e in m["history"]["epochs"]] == [0, 1]
    emb = m["embedding_map"]  # the default map: the first 2000 test digits, here all 200
    assert emb["points"] == 200 and emb["misclassified"] == 200 - m["test_correct"]
    assert_figure(out / "extra_embedding_map.png", 600, 300)
    assert len(m["handwritten"]) == 10 and m["handwritten_accuracy"] is not None
    printed = capsys.readouterr().out
    assert "(conv1): Conv2d(1, 10, kernel_size=(5, 5)" in printed and "pred label" in printed

    # --no-train reuses the model; a photo folder with junk in it warns and carries on
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "readme.txt").write_text("not an image")
    (photos / "5.png").write_bytes((paths.DATA_DIR / "handwritten_digits" / "5.png").read_bytes())
    (photos / "7.png").write_bytes(b"\x89PNG broken")
    reload = ["--no-train", "--test-limit", 50, "--model", model, "--digits-dir", photos]
    r = _run(*reload, "--out-dir", tmp_path / "o2")
    assert r.returncode == 0, r.stderr
    assert "readme.txt" in r.stderr and "7.png" in r.stderr and "Traceback" not in r.stderr
    again = json.loads((tmp_path / "o2" / "metrics.json").read_text())
    assert [h["file"] for h in again["handwritten"]] == ["5.png"]


@pytest.mark.integration
@pytest.mark.slow
def test_a_stopped_run_carries_on_with_the_same_command(tmp_path):
    """SIGTERM (as Ctrl-C) in epoch 2 saves the run and exits 130; the same command finishes it,
    with the numbers of a run never stopped."""
    flags = ["--epochs", "3", "--train-limit", "2000", "--test-limit", "200", "--map-points", "0"]
    run = subprocess.Popen(
        [sys.executable, "task1_train_mnist.py", *flags, "--out-dir", tmp_path / "a"],
        cwd=paths.ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    while not run.stdout.readline().startswith("epoch 1:"):
        assert run.poll() is None, run.stderr.read()
    run.terminate()
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130 and stderr.count("interrupted") == 1, stderr
    last_line = stderr.rstrip().splitlines()[-1]
    assert last_line.endswith("run the same command again to carry on"), stderr
    assert (tmp_path / "a" / "train_state.pt").exists()
    assert not (tmp_path / "a" / "model.pth").exists()
    resumed = _run(*flags, "--out-dir", tmp_path / "a")
    assert resumed.returncode == 0 and "resuming the run saved in" in resumed.stdout, resumed.stderr
    assert not (tmp_path / "a" / "train_state.pt").exists()  # done with: the model is saved
    assert _run(*flags, "--out-dir", tmp_path / "b").returncode == 0
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in "ab")
    assert (a["sittings"], b["sittings"]) == (2, 1)
    assert a["history"]["train_log"] == b["history"]["train_log"]
    assert a["test_loss"] == b["test_loss"] and a["test_accuracy"] > 0.4  # 96 SGD steps; chance 0.1


@pytest.mark.integration
def test_a_second_run_into_a_folder_being_trained_into_stops_in_one_line(tmp_path):
    flags = ["--epochs", "100", "--train-limit", "2000", "--test-limit", "200", "--map-points", "0"]
    flags += ["--out-dir", str(tmp_path)]
    first = subprocess.Popen(
        [sys.executable, "task1_train_mnist.py", *flags],
        cwd=paths.ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        while not first.stdout.readline().startswith("epoch 1:"):  # 99 epochs (minutes) to go
            assert first.poll() is None, first.stderr.read()
        second = _run(*flags)
        assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr
        assert (
            second.stderr.strip()
            == f"error: another run is training into {tmp_path} right now: wait for it "
            "to end, stop it (Ctrl-C there), or train into another folder (--out-dir)"
        )
        assert first.poll() is None  # the first run trains on, untouched
    finally:
        first.terminate()
        first.communicate(timeout=120)
    assert first.returncode == 130 and (tmp_path / "train_state.pt").exists()


TINY_TRANSFORMER = ["--arch", "transformer", "--patch", "7", "--stride", "7", "--d-model", "16"]
TINY_TRANSFORMER += ["--heads", "2", "--layers", "1", "--ff", "32"]


def test_each_mode_has_its_defaults_and_files():
    cnn, fast, template = (
        task1.parse_args([]),
        task1.parse_args(["--arch", "transformer"]),
        task1.parse_args(["--template"]),
    )
    assert cnn.network == task1.Network("cnn", hidden=50, dropout=0.5)
    assert (cnn.recipe.name, cnn.epochs, cnn.train) == ("report", 5, True)
    assert cnn.out_dir == paths.OUT_DIR / "task1" and cnn.model == cnn.out_dir / "model.pth"
    assert fast.out_dir == paths.OUT_DIR / "task1_transformer"
    assert fast.model == fast.out_dir / "model.pth" and fast.recipe.name == "transformer-fast"
    assert fast.network.shape == task1.Shape(7, 7, 64, 4, 4, 128, "mean")
    assert (template.network.arch, template.recipe.name, template.epochs) == (
        "transformer",
        "transformer-template",
        15,
    )
    assert template.out_dir == paths.OUT_DIR / "task1_template"  # beside the fast one's, not over
    assert template.network.shape == task1.Shape(4, 2, 48, 8, 4, 128, "mean")
    assert template.network.dropout == 0.1 and template.recipe.batch_size == 64
    # --no-train reads the default run's model of its mode, wherever --out-dir points
    for flags, folder in [([], "task1"), (["--template"], "task1_template")]:
        reload = task1.parse_args([*flags, "--no-train", "--out-dir", "elsewhere"])
        assert not reload.train and reload.model == paths.model_file(folder)


def test_a_flag_given_wins_over_its_modes_default():
    s = task1.parse_args(
        ["--template", "--epochs", "2", "--patch", "5", "--dropout", "0", "--batch-size", "16"]
    )
    assert s.epochs == 2 and s.network.shape.patch == 5 and s.network.shape.stride == 2
    assert s.network.dropout == 0.0 and s.network.hidden == 128
    assert s.recipe == dataclasses.replace(recipes.RECIPES["transformer-template"], batch_size=16)
    assert task1.parse_args(["--save", "m.pth"]).model == Path("m.pth")
    assert task1.parse_args(["--arch", "cnn", "--patch", "5"]).network.shape is None  # Net's none
    built = task1.parse_args(["--arch", "transformer", "--d-model", "32"]).network.build()
    assert built.config()["d_model"] == 32 and built.side == 4  # 7x7 patches at stride 7


def test_the_recipes_on_offer_are_those_that_train_a_whole_network(capsys):
    assert set(recipes.WHOLE_NETWORK) == set(recipes.RECIPES) - {"transfer", "transfer-writers"}
    for name in recipes.WHOLE_NETWORK:
        assert task1.parse_args(["--recipe", name]).recipe == recipes.RECIPES[name]
    with pytest.raises(SystemExit) as e:
        task1.parse_args(["--recipe", "transfer"])  # Task 3's: one new layer of a trained net
    assert e.value.code == 2 and "invalid choice: 'transfer'" in capsys.readouterr().err


@pytest.mark.integration
def test_transformer_smoke_tiny_data(tmp_path):
    out = tmp_path / "out"
    tiny = ["--epochs", "1", "--train-limit", "2000", "--test-limit", "200", "--map-points", "100"]
    task1.main([*TINY_TRANSFORMER, *tiny, "--out-dir", str(out)])
    for f in FIGS + ["extra_attention.png", "extra_embedding_map.png"]:
        if f.endswith(".png"):
            assert_figure(out / f, 250, 150)
    assert "TransformerEncoder" in (out / "fig03_network.txt").read_text()
    m = json.loads((out / "metrics.json").read_text())
    assert m["arch"] == "transformer" and m["model_args"]["d_model"] == 16
    assert 0 < m["parameters"] < 20_000
    assert m["test_accuracy"] > 0.3  # 16 AdamW steps of a tiny transformer; chance is 0.1
    assert len(m["attention"]["digits"]) == 10 and m["train_seconds"] > 0
    reload = ["--no-train", "--arch", "transformer", "--test-limit", "50", "--map-points", "0"]
    r = _run(*reload, "--out-dir", tmp_path / "again", "--model", out / "model.pth")
    assert r.returncode == 0, r.stderr  # reloads either architecture
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["arch"] == "transformer" and again["test_accuracy"] > 0.3


@pytest.mark.parametrize(
    "args,message",
    [
        (["--no-train", "--model", "absent.pth"], "run `python task1_train_mnist.py` first"),
        (["--epochs", "0"], "--epochs: must be at least 1"),
        (["--batch-size", "-64"], "--batch-size: must be at least 1"),
        (["--recipe", "magic"], "invalid choice"),
        (["--arch", "transformer", "--d-model", "50", "--heads", "8"], "divisible by heads"),
        (["--arch", "transformer", "--patch", "40"], "patch must be 1 to 28"),
    ],
)
@pytest.mark.slow
def test_bad_input_one_line(tmp_path, args, message):
    r = _run(*args, "--out-dir", tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_wrong_checkpoints_one_line(tmp_path):
    import torch

    from models import Net, save_checkpoint

    save_checkpoint(Net(num_classes=3), tmp_path / "greek.pth")
    (tmp_path / "junk.pth").write_text("junk")
    for path, message in [
        (tmp_path / "greek.pth", "3 output classes"),
        (tmp_path / "junk.pth", "not a readable"),
    ]:
        r = _run("--no-train", "--model", path, "--out-dir", tmp_path)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "other.pth")
    r = _run("--no-train", "--model", tmp_path / "other.pth", "--out-dir", tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.integration
def test_empty_digits_folder(tmp_path):
    from models import Net, save_checkpoint

    save_checkpoint(Net(), tmp_path / "m.pth")
    (tmp_path / "empty").mkdir()
    reload = ["--no-train", "--model", tmp_path / "m.pth", "--test-limit", 20]
    r = _run(*reload, "--digits-dir", tmp_path / "empty", "--out-dir", tmp_path)
    assert r.returncode == 2 and "no usable images" in r.stderr


def assert_task1_numbers(out, target):
    """A full Task 1 run (5 epochs on 60000 images, tested on 10000) reached `target` and read
    the first ten test digits and the stand-in photos right."""
    m = json.loads((out / "metrics.json").read_text())
    assert m["test_n"] == 10000 and m["test_accuracy"] >= target
    assert m["first_ten_correct"] == 10
    assert m["handwritten_accuracy"] == 1.0


@pytest.mark.integration
def test_reproduces_report_accuracy(trained_task1):
    assert_task1_numbers(trained_task1, 0.979)


@pytest.mark.integration
def test_improved_recipe_accuracy(tmp_path):
    r = _run("--recipe", "adamw-onecycle", "--dropout", "0.1", "--out-dir", tmp_path)
    assert r.returncode == 0, r.stderr
    assert_task1_numbers(tmp_path, 0.992)


def test_batch_lines_come_on_their_timer_and_not_after_an_epochs_first_batch(capsys):
    import torch

    p = resumable.EpochProgress(
        order=torch.arange(640), step=1, loss_sum=64.0, count=64, seconds=2.0
    )
    report = task1.batch_line(10, every_s=0)
    report(3, p)  # straight after the evaluation before the epoch: no line yet
    assert capsys.readouterr().out == ""
    p.step, p.count, p.seconds = 5, 320, 600.0
    report(3, p)
    assert (
        capsys.readouterr().out
        == "  epoch 3: batch 5/10, mean loss 0.2000, about 10 min to the end of the epoch\n"
    )
    p.step = 10
    report(3, p)  # the epoch's end has its own line
    task1.batch_line(10, every_s=3600)(
        3, resumable.EpochProgress(order=p.order, step=5, count=320, seconds=9.0)
    )
    assert capsys.readouterr().out == ""


def test_no_train_keeps_what_metrics_json_says_of_the_models_training(tmp_path, monkeypatch):
    """Drawing a model's figures again must not forget the hours it took to train (nor
    REPORT.md's row)."""
    trained = {
        "model": str(tmp_path / "out" / "model.pth"),
        "history": {"epochs": []},
        "recipe": {"name": "r"},
        "epochs": 15,
        "train_seconds": 31000.0,
        "sittings": 9,
        "test_accuracy": 0.99,
    }
    metrics = tmp_path / "out" / "metrics.json"
    metrics.parent.mkdir()
    metrics.write_text(json.dumps(trained))
    monkeypatch.chdir(tmp_path)  # the same model named by a relative path
    kept = task1.earlier_training(metrics, "out/model.pth")
    assert kept == {
        k: trained[k] for k in ("history", "recipe", "epochs", "train_seconds", "sittings")
    }
    assert task1.earlier_training(metrics, tmp_path / "other.pth") == {}
    metrics.write_text("[1, 2")
    assert task1.earlier_training(metrics, "out/model.pth") == {}
    assert task1.earlier_training(tmp_path / "none.json", "out/model.pth") == {}
