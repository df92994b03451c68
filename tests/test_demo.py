"""The live demo: demo_models (what a network sees and thinks of one image) and demo.py's JSON API,
run as the real server in a subprocess: status codes, JSON content, concurrent requests, Ctrl-C.
The page itself is tested in a real browser in test_demo_browser.py."""
import io
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import classify
import datasets
import demo
import demo_models
import letters
import gradcam
from errors import DataError
from conftest import GREEK, call, start_server
from models import Net
from paths import ROOT

pytestmark = pytest.mark.slow  # a real server, browser or cluster: seconds per test

def drawing(points, size=280, width=18):
    """PNG bytes of black pen strokes on a white pad, as the page sends them."""
    img = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(img).line(points, fill="black", width=width, joint="curve")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


SEVEN = drawing([(90, 60), (190, 60), (120, 225)])
ONE = drawing([(140, 50), (138, 230)])


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
    assert torch.allclose(out, log_p) and cams.shape == (2, 28, 28) and np.allclose(cams.max((1, 2)), 1)
    assert all(p.grad is None for p in model.parameters())
    assert not model.conv2._forward_hooks and not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_find_models_skips_what_does_not_load(demo_models_dir):
    with pytest.warns(UserWarning, match="skipping .*broken"):
        entries, default = demo_models.find_models(demo_models_dir)
    assert default == "task1" and sorted(entries) == ["task1", "task3"]
    assert entries["task1"].kind == "digit" and entries["task3"].kind == "letter"
    assert entries["task3"].class_names == tuple(GREEK)
    assert not any(p.requires_grad for p in entries["task1"].model.parameters())


def test_find_models_with_a_model_file_and_with_none(demo_models_dir, tmp_path):
    with pytest.warns(UserWarning):
        entries, default = demo_models.find_models(demo_models_dir, demo_models_dir / "task3" / "model.pth")
    assert default == "task3" and sorted(entries) == ["task1", "task3"]  # not listed twice
    with pytest.raises(DataError, match="no saved models"):
        demo_models.find_models(tmp_path)


def test_analyse_uses_each_models_own_pipeline(demo_models_dir):
    with pytest.warns(UserWarning):
        entries, _ = demo_models.find_models(demo_models_dir)
    digit = demo_models.analyse(entries["task1"], SEVEN)
    want = datasets.denormalize(classify.photo_input(io.BytesIO(SEVEN))[None])[0]  # Task 1 part G's pipeline
    assert np.abs(np.array(digit["input"]) - want).max() <= 1e-3
    letter = demo_models.analyse(entries["task3"], SEVEN)
    want = datasets.denormalize(letters.input_function("course")(io.BytesIO(SEVEN))[None])[0]
    assert np.abs(np.array(letter["input"]) - want).max() <= 1e-3
    assert np.abs(np.array(letter["input"]) - np.array(digit["input"])).max() > 0.5  # the two pipelines differ


# ---------------------------------------------------------------- the API, over HTTP

def test_models_are_listed(server):
    status, answer = call(server[0], "api/models")
    assert status == 200 and answer["default"] == "task1"
    assert {m["id"]: m["classes"] for m in answer["models"]} == {"task1": [str(d) for d in range(10)], "task3": GREEK}
    assert answer["max_bytes"] == demo.MAX_BODY


@pytest.mark.parametrize("model_id, classes", [("task1", [str(d) for d in range(10)]), ("task3", GREEK)])
def test_predict_answers_what_the_network_sees_and_thinks(server, model_id, classes):
    status, a = call(server[0], f"api/predict?model={model_id}", SEVEN, {"Content-Type": "image/png"})
    assert status == 200 and a["model"] == model_id and a["classes"] == classes
    p = np.array(a["probabilities"])
    assert p.shape == (len(classes),) and abs(p.sum() - 1) < 0.01
    assert a["prediction"] == classes[int(p.argmax())] and a["top_probability"] == p.max()
    assert a["not_sure"] == (p.max() < demo_models.NOT_SURE)
    assert np.array(a["input"]).shape == (28, 28) and np.array(a["input"]).max() > 0.5  # the ink is there
    assert np.array(a["conv1"]).shape == (10, 24, 24) and np.array(a["conv2"]).shape == (20, 8, 8)
    cam = np.array(a["gradcam"])
    assert cam.shape == (28, 28) and cam.min() >= 0 and cam.max() <= 1
    assert a["analyse_ms"] > 0


def test_bad_requests_get_one_line_errors_and_the_server_keeps_serving(server, tmp_path):
    url, proc = server
    blank = io.BytesIO()
    Image.new("L", (300, 300), 255).save(blank, "PNG")
    huge = io.BytesIO()
    Image.new("L", (9000, 9000), 255).save(huge, "PNG")  # 100 kB of file, 81 megapixels
    cases = [("api/predict?model=nope", SEVEN, 404, "no model"),
             ("api/predict", b"hello, not an image", 400, "not an image"),
             ("api/predict", np.random.default_rng(0).bytes(demo.MAX_BODY + 1), 413, "limit is 5 MB"),
             ("api/predict", blank.getvalue(), 400, "no ink"),
             ("api/predict", huge.getvalue(), 400, "megapixels"),
             ("api/elsewhere", SEVEN, 404, "no API")]
    for path, body, code, words in cases:
        status, answer = call(url, path, body)
        assert (status, answer["status"]) == (code, code) and words in answer["error"], (path, answer)
        assert "\n" not in answer["error"] and "Traceback" not in answer["error"]
    assert call(url, "nothing-here")[0] == 404
    assert call(url, "api/predict", SEVEN)[0] == 200  # still serving; no model named: the default


def test_concurrent_requests_get_their_own_answers(server):
    """8 threads, two drawings, two models: each answer equals the one a lone request gets."""
    url = server[0]
    jobs = [(m, img) for m in ("task1", "task3") for img in (SEVEN, ONE)]
    alone = {(m, img): call(url, f"api/predict?model={m}", img)[1] for m, img in jobs}
    failures = []

    def client(k):
        for i in range(12):
            m, img = jobs[(k + i) % len(jobs)]
            status, a = call(url, f"api/predict?model={m}", img)
            want = alone[(m, img)]
            if status != 200 or any(a[key] != want[key] for key in ("probabilities", "input", "conv2", "gradcam")):
                failures.append((k, i, m, status))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert alone[("task1", SEVEN)]["input"] != alone[("task1", ONE)]["input"]  # the check can tell them apart


def test_ctrl_c_stops_the_server_cleanly(demo_models_dir):
    proc, url = start_server(demo_models_dir)
    assert call(url, "api/models")[0] == 200
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in out
    assert "Traceback" not in err and "skipping" in err  # the broken model was named in one warning line


@pytest.mark.parametrize("flags, words", [(["--model", "none.pth"], "error: no model at"),
                                          ([], "error: no saved models under"),
                                          (["--port", "70000"], "error: argument --port: must be in 0-65535")])
def test_what_cannot_be_served_is_one_line(tmp_path, flags, words):
    flags = [str(tmp_path / f) if f.endswith(".pth") else f for f in flags]
    done = subprocess.run([sys.executable, str(ROOT / "demo.py"), "--models-dir", str(tmp_path), "--port", "0",
                           *flags], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith(words) and "Traceback" not in done.stderr
