"""Task 3 (Greek letters): GreekTransform, settings, runs on tiny data, and the committed data."""

import csv
import dataclasses
import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_figure
from PIL import Image
from torchvision.transforms import functional as TF

import task3_greek
from models import Net, load_checkpoint, save_checkpoint
from recognition import datasets, letters, paths, recipes, training
from recognition.errors import CheckpointError, DataError, UsageError
from tools.handwriting import GREEK, GREEK_SHAPES, render


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def letter_image(letter, seed, size=128):
    """A rendered handwritten letter as a PIL RGB image, dark ink on light paper."""
    return Image.fromarray(
        render(GREEK[letter], np.random.default_rng(seed), size, size, stroke_width=0.07 * size)
    )


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
    course = TF.invert(
        TF.center_crop(
            TF.affine(TF.rgb_to_grayscale(letter_image("alpha", 2)), 0.0, [0, 0], 36 / 128, [0.0]),
            [28, 28],
        )
    )
    ours = letters.GreekTransform()(img)
    # PIL's L from RGB rounds alike.
    assert np.abs(np.asarray(ours, int) - np.asarray(course, int)).max() <= 1


def test_greek_transform_other_sizes_and_transparency(tmp_path):
    # The same letter drawn at 256 px and as RGBA ink on a transparent background.
    rng = np.random.default_rng(3)
    rgb = render(GREEK["gamma"], rng, 256, 256, stroke_width=18)
    ink = (255 - np.asarray(Image.fromarray(rgb).convert("L"), float)) / 255
    alpha = np.clip((ink - 0.3) / 0.4, 0, 1)
    rgba = np.zeros((256, 256, 4), np.uint8)
    # Black ink where opaque, transparent (and black) elsewhere.
    rgba[..., 3] = (alpha * 255).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "g.png")
    Image.fromarray(rgb).save(tmp_path / "big.png")
    t = letters.greek_transform()
    a, b = (
        t(letters.load_letter_image(tmp_path / "g.png")),
        t(letters.load_letter_image(tmp_path / "big.png")),
    )
    assert a.shape == b.shape == (1, 28, 28)
    mean, std = datasets.STATS["MNIST"]
    pa, pb = a[0] * std + mean, b[0] * std + mean
    assert torch.median(pa) < 0.05 and pa.max() > 0.7  # transparency became paper, not ink
    assert F.cosine_similarity(pa.flatten() - pa.mean(), pb.flatten() - pb.mean(), dim=0) > 0.7


# ---- settings and class order


def test_class_order_is_sorted_folder_names(tmp_path):
    make_folder(tmp_path, ["gamma", "alpha", "epsilon"], 1)
    assert letters.letter_classes(tmp_path, ["gamma", "alpha"]) == ["alpha", "gamma"]
    assert letters.letter_classes(tmp_path) == ["alpha", "epsilon", "gamma"]
    with pytest.raises(DataError, match="beta"):
        letters.letter_classes(tmp_path, ["beta"])


FIVE = ["alpha", "beta", "gamma", "delta", "epsilon"]


def test_settings_fill_in_the_defaults_of_each_mode(tmp_path):
    s = task3_greek.parse_args([])
    task3 = paths.out_dir("task3")
    assert (s.mode, s.model, s.out_dir, s.save) == (
        "train",
        paths.MNIST_MODEL,
        task3,
        task3 / "model.pth",
    )
    assert (s.epochs, s.batch_sizes, s.pipeline) == ((20,), (5,), "photo")
    assert (s.train_dir, s.test_dir) == (letters.TRAIN_DIR, letters.TEST_DIR)
    assert s.recipe(5) == recipes.RECIPES["transfer-writers"] and s.head == "last-three"
    assert s.augment and not s.frozen_dropout
    assert s.recipe(12) == dataclasses.replace(recipes.RECIPES["transfer-writers"], batch_size=12)
    report = task3_greek.parse_args(["--head", "last"])
    assert report.recipe(5) == recipes.RECIPES["transfer"]
    five = task3_greek.parse_args(["--letters", *FIVE, "--pipeline", "course"])
    assert five.out_dir == paths.out_dir("task3_greek5") and five.pipeline == "course"
    sweep = task3_greek.parse_args(["--sweep"])
    assert sweep.out_dir == paths.out_dir("task3_sweep")
    assert (sweep.epochs, sweep.batch_sizes) == ((5, 10, 20, 40, 80, 160), (1, 5, 12, 36))
    mine = task3_greek.parse_args(["--classify", str(tmp_path)])
    assert (mine.mode, mine.model, mine.pipeline, mine.classify_dir) == (
        "classify",
        paths.GREEK_MODEL,
        None,  # the Greek model's own
        tmp_path,
    )
    assert mine.out_dir == paths.out_dir("task3_classify")
    flags = ["--lr", "0.2", "--no-augment", "--frozen-dropout", "--batch-size", "7"]
    custom = task3_greek.parse_args(flags)
    assert custom.recipe(7) == dataclasses.replace(
        recipes.RECIPES["transfer-writers"], lr=0.2, augment=False, batch_size=7
    )
    assert custom.frozen_dropout and custom.batch_sizes == (7,)


def test_help_states_the_defaults(capsys):
    with pytest.raises(SystemExit):
        task3_greek.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in (
        "(default: 20; --sweep: 5 10 20 40 80 160)",
        "(default: 5; --sweep: 1 5 12 36)",
        "(default: 0.01)",
        "(default: outputs/task1/model.pth)",
        "(default: outputs/task3/model.pth)",
        "(default: data/greek_hands_train/,",
        "(default: photo;",
    ):
        assert default in text


def test_sweep_and_classify_do_not_go_together(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        task3_greek.parse_args(["--sweep", "--classify", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "not allowed with argument" in err[0]


# ---- smoke runs of the script on tiny data


def saved_model_predictions(save, folder, pipeline):
    """The saved Greek model's predictions on `folder`'s letters, found here: (y, pred, paths)."""
    model, ckpt = load_checkpoint(save)
    x, y, paths = letters.load_letter_folder(folder, ckpt["class_names"], pipeline)
    return y, training.predict(model, x).argmax(1), paths


def test_a_run_learns_the_letters_reports_its_models_numbers_and_leaves_task1s_alone(
    tmp_path, mnist_checkpoint
):
    train = make_folder(tmp_path / "train", ["gamma", "alpha", "beta"], 4, seed=0)
    test = make_folder(tmp_path / "test", ["gamma", "alpha", "beta"], 3, seed=50, size=160)
    before = sha(mnist_checkpoint)
    out, save = tmp_path / "out", tmp_path / "greek.pth"
    task3_greek.main(
        [
            "--model",
            str(mnist_checkpoint),
            "--train-dir",
            str(train),
            "--test-dir",
            str(test),
            "--letters",
            "gamma",
            "alpha",
            "--lr",
            "0.1",
            "--out-dir",
            str(out),
            "--save",
            str(save),
        ]
    )
    assert sha(mnist_checkpoint) == before
    _, ckpt = load_checkpoint(save)
    assert ckpt["class_names"] == ["alpha", "gamma"] and ckpt["pipeline"] == "photo"
    assert ckpt["epochs"] == 20 and ckpt["recipe"]["batch_size"] == 5
    metrics = json.loads((out / "metrics.json").read_text())
    # Even Task 1's untrained network gives features that the new layer learns the letters by
    # (test_transfer.py sets a firmer floor on more letters).
    first, last = metrics["history"]["epochs"][0], metrics["history"]["epochs"][-1]
    assert last["test_loss"] < first["test_loss"] - 0.05 and metrics["test_accuracy"] > 0.5
    # The numbers reported are those of the model saved, on the test letters.
    y, pred, paths = saved_model_predictions(save, test, "photo")
    classes = ["alpha", "gamma"]
    assert metrics["test_correct"] == int((pred == y).sum()) and metrics["test_n"] == 6
    assert metrics["confusion"] == [
        [int(((y == t) & (pred == p)).sum()) for p in range(2)] for t in range(2)
    ]
    assert metrics["misclassified"] == [
        f"{path.name}: {classes[p]}" for path, p, t in zip(paths, pred, y) if p != t
    ]
    assert metrics["embedding_map"]["points"] == 8 + 6
    assert metrics["embedding_map"]["test_points"] == 6
    assert metrics["embedding_map"]["misclassified"] == int((pred != y).sum())
    assert_figure(out / "extra_embedding_map.png", 600, 300)
    for name in ("fig11_greek_predictions.png", "fig12_training_error.png", "confusion_matrix.png"):
        assert_figure(out / name)
    assert "out_features=2" in (out / "fig13_network.txt").read_text()

    # --classify with the saved model: labels from the folder names; an unreadable file is
    # skipped, not fatal; beta is not a class of this model, so its files are unlabelled.
    (test / "alpha" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.warns(UserWarning, match="broken.png"):
        task3_greek.main(
            ["--classify", str(test), "--model", str(save), "--out-dir", str(out / "c")]
        )
    result = json.loads((out / "c" / "metrics.json").read_text())
    labelled = {r["file"]: r["prediction"] for r in result["results"] if r["label"] is not None}
    assert labelled == {
        f"{path.parent.name}/{path.name}": classes[p] for path, p in zip(paths, pred)
    }
    assert len(result["results"]) == 9 and result["accuracy"] == metrics["test_accuracy"]
    assert_figure(out / "c" / "classified_letters.png")


def test_transfer_from_a_transformer_checkpoint(tmp_path):
    from models import NetTransformer, save_checkpoint

    torch.manual_seed(0)
    base = tmp_path / "transformer.pth"
    save_checkpoint(
        NetTransformer(patch=7, stride=3, d_model=16, heads=2, layers=1, ff=32),
        base,
        class_names=[str(d) for d in range(10)],
    )
    train = make_folder(tmp_path / "train", ["alpha", "beta"], 3, seed=0)
    test = make_folder(tmp_path / "test", ["alpha", "beta"], 2, seed=50)
    out, save = tmp_path / "out", tmp_path / "greek.pth"
    task3_greek.main(
        [
            "--model",
            str(base),
            "--train-dir",
            str(train),
            "--test-dir",
            str(test),
            "--epochs",
            "2",
            "--letters",
            "alpha",
            "beta",
            "--out-dir",
            str(out),
            "--save",
            str(save),
        ]
    )
    model, ckpt = load_checkpoint(save)
    assert (
        ckpt["arch"] == "transformer"
        and ckpt["class_names"] == ["alpha", "beta"]
        and model.fc2.out_features == 2
    )
    original, _ = load_checkpoint(base)
    learned = ("norm.", "fc1.", "fc2.")  # the default head: the new fc2, fc1 and the norm before
    before = original.state_dict()
    frozen = {k: v for k, v in before.items() if not k.startswith(learned)}
    assert all(torch.equal(model.state_dict()[k], v) for k, v in frozen.items())
    assert not torch.equal(model.state_dict()["fc1.weight"], before["fc1.weight"])
    assert "TransformerEncoder" in (out / "fig13_network.txt").read_text()


def test_sweep_rows_are_what_separate_runs_of_each_length_give(tmp_path, mnist_checkpoint):
    data = make_folder(tmp_path / "d", ["alpha", "beta"], 2)
    common = [
        *("--model", str(mnist_checkpoint), "--train-dir", str(data), "--test-dir", str(data)),
        *("--letters", "alpha", "beta", "--lr", "0.1", "--save", str(tmp_path / "g.pth")),
    ]
    out = tmp_path / "sweep"
    sweep = ["--sweep", "--epochs", "1", "3", "--batch-size", "1", "4", "--out-dir", str(out)]
    task3_greek.main([*common, *sweep])
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    assert [(r["batch_size"], r["epochs"]) for r in rows] == [(1, 1), (1, 3), (4, 1), (4, 3)]
    assert [r["examples_seen"] for r in rows] == [4, 12, 4, 12]
    with open(out / "sweep_results.csv", newline="") as f:
        assert [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)] == rows
    assert_figure(out / "fig17_sweep_loss.png")
    # One run per batch size stands for a run of each length: 1 epoch alone ends where the
    # sweep's row for 1 epoch says.  Not vacuous: every row differs from every other.
    for batch_size in ("1", "4"):
        single = ["--epochs", "1", "--batch-size", batch_size, "--out-dir", str(tmp_path / "one")]
        task3_greek.main([*common, *single])
        end = json.loads((tmp_path / "one" / "metrics.json").read_text())["history"]["epochs"][-1]
        row = next(r for r in rows if r["batch_size"] == int(batch_size) and r["epochs"] == 1)
        assert (row["test_loss"], row["train_loss"]) == (
            round(end["test_loss"], 4),
            round(end["train_eval_loss"], 4),
        )
    assert len({r["test_loss"] for r in rows}) == len(rows)


def test_refuses_to_overwrite_the_mnist_model(tmp_path, mnist_checkpoint):
    data = make_folder(tmp_path / "d", ["alpha", "beta"], 1)
    before = sha(mnist_checkpoint)
    with pytest.raises(UsageError, match="MNIST model"):
        task3_greek.main(
            [
                "--model",
                str(mnist_checkpoint),
                "--save",
                str(mnist_checkpoint),
                "--train-dir",
                str(data),
                "--test-dir",
                str(data),
                "--letters",
                "alpha",
                "beta",
                "--out-dir",
                str(tmp_path),
            ]
        )
    assert sha(mnist_checkpoint) == before


def test_missing_model_is_one_clear_error(tmp_path):
    data = make_folder(tmp_path / "d", ["alpha", "beta"], 1)
    with pytest.raises(CheckpointError, match="run `python task1_train_mnist.py` first"):
        task3_greek.main(
            [
                "--model",
                str(tmp_path / "none.pth"),
                "--train-dir",
                str(data),
                "--test-dir",
                str(data),
                "--letters",
                "alpha",
                "beta",
                "--out-dir",
                str(tmp_path),
            ]
        )


# ---- the committed data with a trained MNIST model


COURSE = [
    "--head",
    "last",
    "--pipeline",
    "course",
    "--train-dir",
    str(paths.DATA_DIR / "greek_train"),
    "--test-dir",
    str(paths.DATA_DIR / "greek_test"),
]


@pytest.mark.integration
@pytest.mark.parametrize(
    "flags, n, floor", [([], 90, 0.97), (COURSE, 18, 1.0)], ids=["writers-photo", "course"]
)
def test_committed_three_letters(tmp_path, trained_task1, flags, n, floor):
    # Default: the test writers through the photo pipeline; the report's protocol: the course's
    # set and transform.
    model = trained_task1 / "model.pth"
    before = sha(model)
    out = tmp_path / "t3"
    task3_greek.main(
        [
            "--model",
            str(model),
            "--out-dir",
            str(out),
            "--save",
            str(tmp_path / "greek3.pth"),
            *flags,
        ]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classes"] == ["alpha", "beta", "gamma"] and metrics["test_n"] == n
    assert metrics["test_accuracy"] >= floor, metrics["misclassified"]
    assert sha(model) == before


@pytest.mark.integration
@pytest.mark.skipif(
    not (paths.REAL_DIR / "digits").is_dir(),
    reason="no real handwriting (../shared/real_handwriting)",
)
def test_real_digits_read_by_task1s_photo_pipeline(trained_task1):
    from benchmarks import bench_real_handwriting as bench

    model = trained_task1 / "model.pth"
    correct, n, wrong = bench.measure_digits(model, paths.REAL_DIR / "digits", torch.device("cpu"))
    assert n == 30 and correct >= 29, wrong


def test_one_value_per_flag_unless_sweep(tmp_path, mnist_checkpoint):
    data = make_folder(tmp_path / "d", ["alpha", "beta"], 1)
    with pytest.raises(UsageError, match="--epochs takes one value"):
        task3_greek.main(
            [
                "--model",
                str(mnist_checkpoint),
                "--epochs",
                "2",
                "4",
                "--train-dir",
                str(data),
                "--test-dir",
                str(data),
                "--letters",
                "alpha",
                "beta",
                "--out-dir",
                str(tmp_path / "o"),
            ]
        )


def test_classify_without_a_greek_model_says_which_script_makes_it(tmp_path):
    make_folder(tmp_path / "mine", ["alpha"], 1)
    with pytest.raises(CheckpointError, match="run `python task3_greek.py` first"):
        task3_greek.main(
            ["--classify", str(tmp_path / "mine"), "--model", str(tmp_path / "none.pth")]
        )


# ---- the letter pipelines and bad input


def bad_and_odd_files(folder):
    """One good letter and every kind of awkward file; returns (usable names, names to skip)."""
    folder.mkdir(parents=True)
    good = np.asarray(letter_image("alpha", 7))
    Image.fromarray(good).save(folder / "good.png")
    huge = Image.new("RGB", (8000, 6000), tuple(int(v) for v in good[0, 0]))  # a 48-megapixel photo
    huge.paste(Image.fromarray(good).resize((6000, 6000)), (1000, 0))
    huge.save(folder / "huge.jpg", quality=70)
    frames = [Image.fromarray(good).convert("P"), Image.fromarray(255 - good).convert("P")]
    frames[0].save(
        folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0
    )
    Image.fromarray(good).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(np.asarray(Image.fromarray(good).convert("L"), np.uint16) * 257).save(
        folder / "deep.png"
    )
    Image.new("L", (128, 128), 240).save(folder / "no_ink.png")
    Image.new("L", (1, 1), 0).save(folder / "one_pixel.png")
    (folder / "not_an_image.png").write_bytes(b"this is text, not a PNG")
    return {"good.png", "huge.jpg", "animated.gif", "cmyk.jpg", "deep.png"}, {
        "no_ink.png",
        "one_pixel.png",
        "not_an_image.png",
    }


@pytest.mark.parametrize("pipeline", letters.PIPELINES)
def test_bad_files_are_skipped_with_one_warning_line_each(tmp_path, pipeline):
    usable, skipped = bad_and_odd_files(tmp_path / "alpha")
    with pytest.warns(UserWarning) as caught:
        x, y, found = letters.load_letter_folder(tmp_path, ["alpha"], pipeline)
    messages = [str(w.message) for w in caught]
    assert (
        {p.name for p in found} == usable and x.shape == (len(usable), 1, 28, 28) and (y == 0).all()
    )
    assert sorted(m.split(":")[0].split()[-1] for m in messages) == sorted(skipped)
    assert all("\n" not in m for m in messages)
    # Every usable odd file reads as the same letter as the plain one.
    plain = x[[p.name for p in found].index("good.png")].flatten()
    for i, p in enumerate(found):
        a = x[i].flatten()
        assert F.cosine_similarity(a - a.mean(), plain - plain.mean(), dim=0) > 0.7, p.name


def test_a_letter_folder_with_nothing_usable_is_one_error(tmp_path):
    (tmp_path / "beta").mkdir()
    Image.new("L", (64, 64), 255).save(tmp_path / "beta" / "blank.png")
    with (
        pytest.warns(UserWarning, match="blank.png"),
        pytest.raises(DataError, match="no usable images"),
    ):
        letters.load_letter_folder(tmp_path, ["beta"], "photo")


def test_photo_pipeline_gives_thin_and_thick_pens_the_same_input(tmp_path):
    # The course's shrink leaves a fine pen as a faint 1-pixel line; the photo pipeline brings it
    # to MNIST's width.
    rng_thin, rng_thick = np.random.default_rng(4), np.random.default_rng(4)
    thin = render(GREEK["beta"], rng_thin, 128, 128, stroke_width=2)
    thick = render(GREEK["beta"], rng_thick, 128, 128, stroke_width=9)
    for name, img in (("thin.png", thin), ("thick.png", thick)):
        Image.fromarray(img).save(tmp_path / name)
    photo = [letters.input_function("photo")(tmp_path / n) for n in ("thin.png", "thick.png")]
    course = [letters.input_function("course")(tmp_path / n) for n in ("thin.png", "thick.png")]
    similarity = [
        F.cosine_similarity(a.flatten() - a.mean(), b.flatten() - b.mean(), dim=0)
        for a, b in (photo, course)
    ]
    assert similarity[0] > 0.7 and similarity[0] > similarity[1] + 0.1


def test_unknown_letter_is_one_line_naming_the_available_ones(tmp_path, mnist_checkpoint):
    data = make_folder(tmp_path / "d", ["alpha", "beta"], 1)
    with pytest.raises(DataError, match=r"no folder for omega \(it has: alpha, beta\)"):
        task3_greek.main(
            [
                "--model",
                str(mnist_checkpoint),
                "--train-dir",
                str(data),
                "--test-dir",
                str(data),
                "--letters",
                "alpha",
                "omega",
                "--out-dir",
                str(tmp_path / "o"),
            ]
        )


def test_seven_letters_course_pipeline_and_classify_reads_as_it_trained(tmp_path, mnist_checkpoint):
    seven = ["alpha", "beta", "gamma", "delta", "epsilon", "theta", "lambda"]
    root = tmp_path / "d"
    for i, letter in enumerate(seven):
        (root / letter).mkdir(parents=True)
        for j in range(2):
            Image.fromarray(
                render(
                    GREEK_SHAPES[letter][j % len(GREEK_SHAPES[letter])],
                    np.random.default_rng(i * 10 + j),
                    100,
                    120,
                )
            ).save(root / letter / f"{j}.png")
    out, save = tmp_path / "out", tmp_path / "g.pth"
    task3_greek.main(
        [
            "--model",
            str(mnist_checkpoint),
            "--train-dir",
            str(root),
            "--test-dir",
            str(root),
            "--letters",
            *seven,
            "--epochs",
            "1",
            "--pipeline",
            "course",
            "--out-dir",
            str(out),
            "--save",
            str(save),
        ]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        metrics["pipeline"] == "course" and len(metrics["classes"]) == 7 and metrics["test_n"] == 14
    )
    assert np.array(metrics["confusion"]).shape == (7, 7)
    assert_figure(out / "fig11_greek_predictions.png")
    with (
        Image.open(out / "fig11_greek_predictions.png") as grid,
        Image.open(out / "confusion_matrix.png") as cm,
    ):
        # A row per letter; a cell per letter pair.
        assert grid.height > grid.width and cm.width > 700
    assert load_checkpoint(save)[1]["pipeline"] == "course"
    result = classify_run(save, root, tmp_path / "c")
    assert result["pipeline"] == "course"
    assert_read_through(save, root, result["results"], "course")


def classify_run(model, folder, out, *flags):
    task3_greek.main(
        ["--classify", str(folder), "--model", str(model), "--out-dir", str(out), *flags]
    )
    return json.loads((out / "metrics.json").read_text())


def assert_read_through(model_path, folder, results, pipeline):
    """`results` are the model's on `folder`'s images through `pipeline`, not the other one."""
    model, _ = load_checkpoint(model_path)

    def top_probabilities(name):
        to_input = letters.input_function(name)
        x = torch.stack([to_input(folder / r["file"]) for r in results])
        return training.predict(model, x).exp().max(1).values

    given = torch.tensor([r["probability"] for r in results])
    (other,) = set(letters.PIPELINES) - {pipeline}
    assert (given - top_probabilities(pipeline)).abs().max() < 1e-4
    assert (given - top_probabilities(other)).abs().max() > 1e-3


def test_a_bare_state_dict_is_read_through_the_course_pipeline(tmp_path):
    # The report's own code saved `network.state_dict()` after training through GreekTransform.
    folder = make_folder(tmp_path / "mine", ["alpha", "beta"], 2)
    torch.manual_seed(5)
    torch.save(Net(num_classes=3).state_dict(), tmp_path / "report.pth")
    result = classify_run(tmp_path / "report.pth", folder, tmp_path / "c")
    assert result["pipeline"] == "course" and result["classes"] == ["0", "1", "2"]
    assert_read_through(tmp_path / "report.pth", folder, result["results"], "course")


def test_a_checkpoint_that_names_no_pipeline_needs_the_flag(tmp_path):
    folder = make_folder(tmp_path / "mine", ["alpha", "beta"], 2)
    torch.manual_seed(6)
    save_checkpoint(Net(num_classes=2), tmp_path / "g.pth", class_names=["alpha", "beta"])
    with pytest.raises(CheckpointError, match="pass --pipeline photo or course"):
        classify_run(tmp_path / "g.pth", folder, tmp_path / "c")
    result = classify_run(tmp_path / "g.pth", folder, tmp_path / "c", "--pipeline", "photo")
    assert result["pipeline"] == "photo"
    assert_read_through(tmp_path / "g.pth", folder, result["results"], "photo")


def test_grid_rows_show_the_misread_letters_first():
    y, pred = [0, 0, 0, 1, 1], [0, 1, 0, 1, 1]
    assert task3_greek.grid_rows(y, pred, 2, per_row=2) == [[1, 0], [3, 4]]


@pytest.mark.integration
def test_regenerating_the_letters_gives_the_committed_files(tmp_path):
    import subprocess
    import sys

    subprocess.run(
        [
            sys.executable,
            str(paths.ROOT / "tools" / "make_greek_letters.py"),
            "--out-dir",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    for name in ("greek_train", "greek_test", "greek_hands_train", "greek_hands_test"):
        made = sorted(
            p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*") if p.is_file()
        )
        committed = sorted(
            p.relative_to(paths.DATA_DIR / name)
            for p in (paths.DATA_DIR / name).rglob("*")
            if p.is_file()
        )
        assert made == committed, name
        assert all(sha(tmp_path / name / p) == sha(paths.DATA_DIR / name / p) for p in made), name
