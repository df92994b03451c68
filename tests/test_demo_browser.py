"""The demo's page in a real browser: headless Chromium driven through chromedriver by selenium.

Draws a digit stroke by stroke with pointer events, reads the prediction the page shows and checks
it against the API, undoes a stroke, switches the model (to the Greek Net and to the transformer,
whose own maps the page then shows), uploads an oversized file, switches on a fake camera that
films a page of handwritten digits (a .y4m the test writes) and checks the boxes and predictions
drawn over it, and writes screenshots to outputs/demo/screenshot.png and camera.png.  Skipped
where Chromium, chromedriver or selenium is missing (CI's .ci/run installs them).  The models
are made by the tests (conftest.demo_models_dir).
"""

import base64
import itertools
import json
import os
import shutil
import signal

import numpy as np
import pytest
import test_sheet
from conftest import DIGITS, GREEK, call, start_server

from recognition.paths import DATA_DIR, OUT_DIR

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (requirements.txt)"
)
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.interaction import POINTER_MOUSE, POINTER_PEN
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)",
    ),
]
# Without these Chromium tries to reach Google's hosts (updates, sync, field trials), which is
# refused here.
QUIET_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,1000",
]
WAIT = 60  # seconds: the shared CI cores can be slow, but never this slow
SCREENSHOT = OUT_DIR / "demo" / "screenshot.png"
DIGITS_DIR = DATA_DIR / "handwritten_digits"  # the committed stand-in photos
# Two strokes of a 7 in pad pixels (the pad is 280x280): the bar, then the stem.
SEVEN = [[(80, 60), (140, 58), (200, 60)], [(200, 60), (165, 140), (130, 230)]]


CAMERA_SCREENSHOT = OUT_DIR / "demo" / "camera.png"
CAMERA_DIGITS = [3, 0, 7, 4, 9]  # written on the fake camera's page, left to right


def write_y4m(path, frame):
    """A .y4m video of one grey frame (uint8 (480, 640)) that Chromium's fake camera plays in a
    loop: the header, then FRAME and the Y, U and V planes (4:2:0, colourless)."""
    h, w = frame.shape
    chroma = np.full((h // 2, w // 2), 128, np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        f.writelines(b"FRAME\n" + frame.tobytes() + chroma + chroma for _ in range(2))


def camera_page(tmp_path_factory):
    """A 640x480 camera view of a page with CAMERA_DIGITS (the committed photos) in a row, under
    a shadow; the .y4m file and the digits' boxes."""
    glyphs = test_sheet.digits(CAMERA_DIGITS, side=80)
    page, _, boxes = test_sheet.compose(glyphs, cols=5, cell=110)
    frame = np.full((480, 640), test_sheet.PAPER, np.float32)
    top, left = 140, 45
    frame[top : top + page.shape[0], left : left + page.shape[1]] = page[:, : 640 - left]
    frame *= np.linspace(0.7, 1.0, 640, dtype=np.float32)[None]
    path = tmp_path_factory.mktemp("camera") / "page.y4m"
    write_y4m(path, (np.clip(frame, 0, 1) * 255).astype(np.uint8))
    return path, [(x + left, y + top, w, h) for x, y, w, h in boxes]


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    return camera_page(tmp_path_factory)


@pytest.fixture(scope="module")
def browser(tmp_path_factory, camera):
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    fake_camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera[0]}",
    ]
    profile = f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"
    for flag in QUIET_FLAGS + fake_camera + [profile]:
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER)
    )
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(demo_models_dir, browser):
    proc, url = start_server(demo_models_dir)
    browser.get(url)
    wait_for(
        browser,
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready",
    )
    yield url, browser
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)


def wait_for(driver, condition):
    return WebDriverWait(driver, WAIT).until(condition)


def answers(driver):
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-answers") or 0)


def draw_stroke(driver, points, kind=POINTER_MOUSE):
    """One stroke with pointer events: down at the first point, moves through the rest, up; waits
    for the answer."""
    before = answers(driver)
    pad = driver.find_element(By.ID, "pad")
    actions = ActionBuilder(driver, mouse=PointerInput(kind, kind))
    left, top = pad.rect["x"], pad.rect["y"]
    actions.pointer_action.move_to_location(
        int(left + points[0][0]), int(top + points[0][1])
    ).pointer_down()
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        for t in (0.25, 0.5, 0.75, 1.0):  # several samples per segment, as a hand gives
            actions.pointer_action.move_to_location(
                int(left + x0 + t * (x1 - x0)), int(top + y0 + t * (y1 - y0))
            )
    actions.pointer_action.pointer_up()
    actions.perform()
    wait_for(driver, lambda d: answers(d) > before)


def shown(driver):
    """(prediction, verdict, the probabilities in the bars) as the page shows them."""
    bars = [
        float(e.text.rstrip(" %")) / 100 for e in driver.find_elements(By.CSS_SELECTOR, "#bars .p")
    ]
    return (
        driver.find_element(By.ID, "prediction").text,
        driver.find_element(By.ID, "verdict").text,
        bars,
    )


def pad_png(driver):
    data_url = driver.execute_script(
        "return document.getElementById('pad').toDataURL('image/png');"
    )
    return base64.b64decode(data_url.split(",", 1)[1])


def ink_in(driver, canvas_id):
    """Sum of the red channel over a canvas: 0 for a black (empty) input view."""
    return driver.execute_script(
        f"const c = document.getElementById('{canvas_id}');"
        "return c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
        ".filter((v, i) => i % 4 == 0).reduce((a, b) => a + b, 0);"
    )


def maps_shown(driver):
    """{heading: number of channel canvases} of the maps section, as the page shows it."""
    return {
        section.find_element(By.TAG_NAME, "h2").text: len(
            section.find_elements(By.TAG_NAME, "canvas")
        )
        for section in driver.find_elements(By.CSS_SELECTOR, "#maps > div")
    }


def test_drawing_shows_what_the_api_answers(page):
    url, driver = page
    draw_stroke(driver, SEVEN[0], POINTER_MOUSE)
    assert driver.find_element(By.ID, "strokes").text == "1 stroke"
    draw_stroke(driver, SEVEN[1], POINTER_PEN)  # a pen's pointer events draw too
    assert driver.find_element(By.ID, "strokes").text == "2 strokes"
    prediction, verdict, bars = shown(driver)
    # The same pad, asked directly.
    status, api = call(url, "api/predict?model=task1", pad_png(driver))
    assert status == 200 and prediction == api["prediction"]
    assert bars == pytest.approx(api["probabilities"], abs=0.001)
    assert (verdict.startswith("not sure")) == api["not_sure"]
    assert ink_in(driver, "input") > 0 and ink_in(driver, "gradcam") > 0
    assert maps_shown(driver) == {
        "conv1: 10 filters, 24×24 outputs": 10,
        "conv2: 20 filters, 8×8 outputs": 20,
    }
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOT))


def test_undo_and_model_switch(page):
    url, driver = page
    before = answers(driver)
    driver.find_element(By.ID, "undo").click()
    wait_for(driver, lambda d: answers(d) > before)
    assert driver.find_element(By.ID, "strokes").text == "1 stroke"
    before = answers(driver)
    Select(driver.find_element(By.ID, "model")).select_by_value("task3")
    wait_for(driver, lambda d: answers(d) > before)
    prediction, _, bars = shown(driver)
    assert prediction in GREEK and len(bars) == len(GREEK)
    assert "alpha" in driver.find_element(By.ID, "hint").text
    before = answers(driver)
    Select(driver.find_element(By.ID, "model")).select_by_value("task1_transformer")
    wait_for(driver, lambda d: answers(d) > before)
    prediction, _, bars = shown(driver)
    status, api = call(url, "api/predict?model=task1_transformer", pad_png(driver))
    assert (
        status == 200
        and prediction == api["prediction"]
        and bars == pytest.approx(api["probabilities"], abs=0.001)
    )
    # Its own maps, by their titles.
    assert maps_shown(driver) == {m["title"]: m["shape"][0] for m in api["maps"]}
    assert [m["name"] for m in api["maps"]] == ["patches", "encoder"]
    assert ink_in(driver, "gradcam") > 0


def test_a_photo_upload_is_predicted_and_shown_on_the_pad(page):
    url, driver = page
    Select(driver.find_element(By.ID, "model")).select_by_value("task1")
    before = answers(driver)
    driver.find_element(By.ID, "upload").send_keys(str(DIGITS_DIR / "7.png"))
    wait_for(
        driver,
        lambda d: d.find_element(By.ID, "strokes").text == "0 strokes" and answers(d) > before,
    )
    # The file itself.
    status, api = call(url, "api/predict?model=task1", (DIGITS_DIR / "7.png").read_bytes())
    assert status == 200 and shown(driver)[0] == api["prediction"]
    assert ink_in(driver, "input") > 0


def test_oversized_upload_shows_an_error_and_the_page_goes_on(page, tmp_path):
    _, driver = page
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    driver.find_element(By.ID, "upload").send_keys(str(big))
    error = driver.find_element(By.ID, "error")
    wait_for(driver, lambda d: error.is_displayed())
    assert "limit is 5 MB" in error.text and "413" in error.text
    before = answers(driver)
    draw_stroke(driver, SEVEN[1])  # the page still works, and the error goes away
    assert not error.is_displayed() and answers(driver) == before + 1


def test_the_camera_boxes_every_digit_in_view_with_its_prediction(page, camera):
    _, driver = page
    _, boxes = camera
    Select(driver.find_element(By.ID, "model")).select_by_value("task1")
    driver.find_element(By.ID, "camera").click()
    wait_for(
        driver,
        lambda d: int(d.find_element(By.TAG_NAME, "body").get_attribute("data-frames") or 0) >= 2,
    )
    read = json.loads(driver.find_element(By.ID, "view").get_attribute("data-read"))
    # Each digit boxed where it is on the page, left to right, and named.
    assert len(read) == len(CAMERA_DIGITS)
    for r, (x, y, w, h) in zip(read, boxes):
        assert np.abs(np.array(r["box"]) - (x, y, w, h)).max() <= 8, (r, (x, y, w, h))
        assert r["prediction"] in DIGITS
    inputs = driver.find_elements(By.CSS_SELECTOR, "#live-inputs canvas")
    assert len(inputs) == len(CAMERA_DIGITS)
    status = driver.find_element(By.ID, "live-status").text
    sure = [r["prediction"] for r in read if not r["not_sure"]]
    assert status == (" ".join(sure) if sure else "not sure")
    # The boxes are drawn over the video: the box colour where a box's left edge is.
    x, y, _, h = read[0]["box"]
    pixel = driver.execute_script(
        "const c = document.getElementById('view').getContext('2d');"
        f"return Array.from(c.getImageData({x}, {y + h // 2}, 1, 1).data);"
    )
    assert max(pixel[:3]) - min(pixel[:3]) > 80  # blue (sure) or orange (not), not grey paper
    CAMERA_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert driver.find_element(By.ID, "live").screenshot(str(CAMERA_SCREENSHOT))
    # Switched off, the page reads the pad again.
    driver.find_element(By.ID, "camera").click()
    assert not driver.find_element(By.ID, "live").is_displayed()
