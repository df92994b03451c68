"""The live demo: demo_models (what a network sees and thinks of one image) and demo.py's JSON API,
run as the real server in a subprocess: status codes, JSON content, concurrent requests, Ctrl-C.
The page itself is tested in a real browser in test_demo_browser.py."""

import base64
import http.client
import io
import json
import signal
import subprocess
import sys
import threading
import urllib.parse

import numpy as np
import pytest
import test_sheet
import torch
from conftest import DIGITS, GREEK, SMALL_TRANSFORMER, call, start_server
from PIL import Image, ImageDraw

import demo
from models import Net, NetTransformer
from recognition import classify, datasets, demo_models, gradcam, letters
from recognition.errors import DataError
from recognition.paths import OUT_DIR, ROOT

# A real server in a subprocess: seconds per test (demo_models' own tests, in process, are quick).
slow = pytest.mark.slow


def drawing(points, size=280, width=18):
    """PNG bytes of black pen strokes on a white pad, as the page sends them."""
    img = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(img).line(points, fill="black", width=width, joint="curve")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


SEVEN = drawing([(90, 60), (190, 60), (120, 225)])
ONE = drawing([(140, 50), (138, 230)])
MODELS = {"task1": DIGITS, "task1_transformer": DIGITS, "task3": GREEK}  # demo_models_dir's
# The maps each model's answer carries: (name, shape); the transformer's are its 16 channels on an
# 8x8 token grid.
MAPS = {
    "task1": [("conv1", [10, 24, 24]), ("conv2", [20, 8, 8])],
    "task1_transformer": [("patches", [16, 8, 8]), ("encoder", [16, 8, 8])],
    "task3": [("conv1", [10, 24, 24]), ("conv2", [20, 8, 8])],
}


def unpacked(m):
    """A map of the API's answer as an array of its shape."""
    return np.frombuffer(base64.b64decode(m["data"]), "<f4").reshape(m["shape"])


@pytest.fixture(scope="module")
def server(demo_models_dir):
    proc, url = start_server(demo_models_dir)
    yield url, proc
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)


# ---------------------------------------------------------------- demo_models, in process


def test_forward_maps_is_forward_and_explain_leaves_the_model_alone():
    torch.manual_seed(0)
    model = Net().eval().requires_grad_(False)
    x = torch.randn(2, 1, 28, 28)
    log_p, acts = model.forward_maps(x)
    assert torch.equal(log_p, model(x))
    assert acts["conv1"].shape == (2, 10, 24, 24) and acts["conv2"].shape == (2, 20, 8, 8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out, _, cams = gradcam.explain(model, x)  # frozen parameters: the graph runs through the input
    assert (
        torch.allclose(out, log_p)
        and cams.shape == (2, 28, 28)
        and np.allclose(cams.max((1, 2)), 1)
    )
    assert all(p.grad is None for p in model.parameters())
    assert not model.conv2._forward_hooks and not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_find_models_skips_what_does_not_load(demo_models_dir):
    with pytest.warns(UserWarning, match="skipping .*broken"):
        entries, default = demo_models.find_models(demo_models_dir)
    assert default == "task1" and sorted(entries) == sorted(MODELS)
    assert entries["task1"].kind == "digit" and entries["task3"].kind == "letter"
    assert (
        entries["task1_transformer"].kind == "digit"
        and entries["task1_transformer"].arch == "transformer"
    )
    assert isinstance(entries["task1_transformer"].model, NetTransformer)
    assert entries["task3"].class_names == tuple(GREEK)
    assert not any(p.requires_grad for p in entries["task1"].model.parameters())


def test_find_models_with_a_model_file_and_with_none(demo_models_dir, tmp_path):
    with pytest.warns(UserWarning):
        entries, default = demo_models.find_models(
            demo_models_dir, demo_models_dir / "task3" / "model.pth"
        )
    assert default == "task3" and sorted(entries) == sorted(MODELS)  # not listed twice
    with pytest.raises(DataError, match="no saved models"):
        demo_models.find_models(tmp_path)


def test_analyse_uses_each_models_own_pipeline(demo_models_dir):
    with pytest.warns(UserWarning):
        entries, _ = demo_models.find_models(demo_models_dir)
    digit = demo_models.analyse(entries["task1"], SEVEN)
    # Task 1 part G's pipeline
    want = datasets.denormalize(classify.photo_input(io.BytesIO(SEVEN))[None])[0]
    assert np.abs(np.array(digit["input"]) - want).max() <= 1e-3
    letter = demo_models.analyse(entries["task3"], SEVEN)
    want = datasets.denormalize(letters.input_function("course")(io.BytesIO(SEVEN))[None])[0]
    assert np.abs(np.array(letter["input"]) - want).max() <= 1e-3
    # The two pipelines differ, so the checks above can tell them apart.
    assert np.abs(np.array(letter["input"]) - np.array(digit["input"])).max() > 0.5
    transformer = demo_models.analyse(entries["task1_transformer"], SEVEN)
    # A digit network: Task 1 part G's pipeline, whatever its architecture.
    assert transformer["input"] == digit["input"]


def test_analyse_sends_each_networks_own_maps(demo_models_dir):
    """The maps are forward_maps' own values, of either network, and say which network's they
    are."""
    with pytest.warns(UserWarning):
        entries, _ = demo_models.find_models(demo_models_dir)
    x = classify.photo_input(io.BytesIO(SEVEN))[None]
    for model_id in ("task1", "task1_transformer"):
        a, model = demo_models.analyse(entries[model_id], SEVEN), entries[model_id].model
        _, maps = model.forward_maps(x)
        assert [m["name"] for m in a["maps"]] == list(maps) == [name for name, _ in MAPS[model_id]]
        for m in a["maps"]:  # (the transformer's fused inference path differs in the last bits)
            assert np.allclose(unpacked(m), maps[m["name"]][0].numpy(), rtol=1e-5, atol=1e-5)
    titles = [m["title"] for m in demo_models.analyse(entries["task1_transformer"], SEVEN)["maps"]]
    assert titles[0].startswith("patch embeddings: 16 channels per 7×7 patch, on their 8×8 grid")
    assert titles[1].startswith("encoder, its output: 16 channels")


def test_map_titles_say_what_is_left_out():
    torch.manual_seed(0)
    wide = NetTransformer(**{**SMALL_TRANSFORMER, "d_model": 80}).eval()
    assert [t for _, t in demo_models.map_titles(wide)] == [
        "patch embeddings: 80 channels per 7×7 patch, on their 8×8 grid (the first 64 of 80 shown)",
        "encoder, its output: 80 channels per token, on the same grid (the first 64 of 80 shown)",
    ]
    cls = NetTransformer(**{**SMALL_TRANSFORMER, "pool": "cls"}).eval()
    assert demo_models.map_titles(cls)[1][1].startswith("encoder, the last layer's input:")
    assert [t for _, t in demo_models.map_titles(Net().eval())] == [
        "conv1: 10 filters, 24×24 outputs",
        "conv2: 20 filters, 8×8 outputs",
    ]


# ---------------------------------------------------------------- the API, over HTTP


@slow
def test_models_are_listed(server):
    status, answer = call(server[0], "api/models")
    assert status == 200 and answer["default"] == "task1"
    assert {m["id"]: m["classes"] for m in answer["models"]} == MODELS
    assert {m["id"]: m["arch"] for m in answer["models"]} == {
        "task1": "cnn",
        "task1_transformer": "transformer",
        "task3": "cnn",
    }
    assert answer["max_bytes"] == demo.MAX_BODY


@slow
@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_predict_answers_what_the_network_sees_and_thinks(server, model_id):
    classes = MODELS[model_id]
    status, a = call(
        server[0], f"api/predict?model={model_id}", SEVEN, {"Content-Type": "image/png"}
    )
    assert status == 200 and a["model"] == model_id and a["classes"] == classes
    p = np.array(a["probabilities"])
    assert p.shape == (len(classes),) and abs(p.sum() - 1) < 0.01
    assert a["prediction"] == classes[int(p.argmax())] and a["top_probability"] == p.max()
    assert a["not_sure"] == (p.max() < demo_models.NOT_SURE)
    assert np.array(a["input"]).shape == (28, 28) and np.array(a["input"]).max() > 0.5  # ink
    assert [(m["name"], m["shape"]) for m in a["maps"]] == MAPS[model_id]
    # The values are there, and a heading.
    assert all(unpacked(m).std() > 0 and m["title"] for m in a["maps"])
    cam = np.array(a["gradcam"])
    assert cam.shape == (28, 28) and cam.min() >= 0 and cam.max() <= 1
    assert a["analyse_ms"] > 0


@slow
@pytest.mark.parametrize("api", ["api/predict", "api/read"])
def test_bad_requests_get_one_line_errors_and_the_server_keeps_serving(server, api):
    url = server[0]
    blank = io.BytesIO()
    Image.new("L", (300, 300), 255).save(blank, "PNG")
    huge = io.BytesIO()
    Image.new("L", (9000, 9000), 255).save(huge, "PNG")  # 100 kB of file, 81 megapixels
    empty = "no ink" if api == "api/predict" else "no characters found on the page"
    cases = [
        (f"{api}?model=nope", SEVEN, 404, "no model"),
        (api, b"hello, not an image", 400, "not an image"),
        (api, np.random.default_rng(0).bytes(demo.MAX_BODY + 1), 413, "limit is 5 MB"),
        (api, blank.getvalue(), 400, empty),
        (api, huge.getvalue(), 400, "megapixels"),
        ("api/elsewhere", SEVEN, 404, "no API"),
    ]
    for path, body, code, words in cases:
        status, answer = call(url, path, body)
        assert (status, answer["status"]) == (code, code) and words in answer["error"], (
            path,
            answer,
        )
        assert "\n" not in answer["error"] and "Traceback" not in answer["error"]
    assert call(url, "nothing-here")[0] == 404
    assert call(url, api, SEVEN)[0] == 200  # still serving; no model named: the default


@slow
def test_concurrent_requests_get_their_own_answers(server):
    """8 threads, two drawings, three models (Net and transformer): each answer equals the one a
    lone request gets."""
    url = server[0]
    jobs = [(m, img) for m in MODELS for img in (SEVEN, ONE)]
    alone = {(m, img): call(url, f"api/predict?model={m}", img)[1] for m, img in jobs}
    failures = []

    def client(k):
        for i in range(12):
            m, img = jobs[(k + i) % len(jobs)]
            status, a = call(url, f"api/predict?model={m}", img)
            want = alone[(m, img)]
            if status != 200 or any(
                a[key] != want[key] for key in ("probabilities", "input", "maps", "gradcam")
            ):
                failures.append((k, i, m, status))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    # The check can tell them apart.
    assert alone[("task1", SEVEN)]["input"] != alone[("task1", ONE)]["input"]


@slow
def test_ctrl_c_stops_the_server_cleanly(demo_models_dir):
    proc, url = start_server(demo_models_dir)
    assert call(url, "api/models")[0] == 200
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in out
    # The broken model was named in one warning line.
    assert "Traceback" not in err and "skipping" in err


@slow
@pytest.mark.parametrize(
    "flags, words",
    [
        (["--model", "none.pth"], "error: no model at"),
        ([], "error: no saved models under"),
        (["--port", "70000"], "error: argument --port: must be in 0-65535"),
    ],
)
def test_what_cannot_be_served_is_one_line(tmp_path, flags, words):
    flags = [str(tmp_path / f) if f.endswith(".pth") else f for f in flags]
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "demo.py"),
            "--models-dir",
            str(tmp_path),
            "--port",
            "0",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.startswith(words) and "Traceback" not in done.stderr


def raw_post(url, headers, api="/api/predict"):
    """(status, JSON answer) of a POST to `api` with exactly `headers`: http.client adds a
    Content-Length of its own unless the request is put together by hand."""
    host, port = urllib.parse.urlsplit(url)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("POST", api)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


@slow
@pytest.mark.parametrize("api", ["/api/predict", "/api/read"])
def test_a_body_without_a_usable_length_is_refused_in_one_line(server, api):
    status, answer = raw_post(server[0], {"Content-Type": "image/png"}, api)
    assert (status, answer["status"]) == (411, 411) and "Content-Length" in answer["error"]
    status, answer = raw_post(server[0], {"Content-Length": "-5"}, api)
    assert (status, answer["error"]) == (400, "negative Content-Length")
    assert call(server[0], api.lstrip("/"), SEVEN)[0] == 200  # and the server goes on


def sheet_png(order, cols=5):
    """PNG bytes of a page of the committed digit photos in `order`, and their boxes."""
    page, _, boxes = test_sheet.compose(test_sheet.digits(order), cols=cols)
    buf = io.BytesIO()
    Image.fromarray((np.clip(page, 0, 1) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue(), boxes


@pytest.mark.parametrize("model_id", MODELS)
def test_read_gives_every_character_with_its_box_and_input(demo_models_dir, model_id):
    entry = demo_models.load_entry(model_id, demo_models_dir / model_id / "model.pth")
    data, boxes = sheet_png([4, 0, 7, 1, 9, 2], cols=3)
    a = demo_models.read(entry, data, turn=False)
    assert a["rotation"] == 0 and (a["width"], a["height"]) == Image.open(io.BytesIO(data)).size
    assert [c["box"] for c in a["characters"]] == [list(b) for b in boxes]  # reading order
    assert [c["row"] for c in a["characters"]] == [0, 0, 0, 1, 1, 1]
    for c in a["characters"]:
        assert len(c["probabilities"]) == len(MODELS[model_id])
        assert c["prediction"] == MODELS[model_id][int(np.argmax(c["probabilities"]))]
        assert np.array(c["input"]).shape == (28, 28) and np.max(c["input"]) > 0.5
    # The photo pipeline's own input for the one character of a single photo.
    single = demo_models.read(entry, (ROOT / "data/handwritten_digits/7.png").read_bytes())
    assert len(single["characters"]) == 1


@slow
def test_read_over_http_is_what_demo_models_reads(server, demo_models_dir):
    data, _ = sheet_png([3, 8, 5])
    status, a = call(server[0], "api/read?model=task1&turn=0", data)
    entry = demo_models.load_entry("task1", demo_models_dir / "task1" / "model.pth")
    direct = demo_models.read(entry, data, turn=False)
    assert status == 200 and a["characters"] == direct["characters"]


def test_the_flags_defaults_are_the_ones_help_names(capsys):
    args = demo.parse_args([])
    assert (args.host, args.port, args.models_dir, args.model) == ("127.0.0.1", 8000, OUT_DIR, None)
    with pytest.raises(SystemExit):
        demo.parse_args(["--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps the help's lines
    for words in ("(default: 127.0.0.1)", "(default: 8000)", "(default: outputs/)"):
        assert words in shown
