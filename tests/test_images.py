"""images: reading any image file, labels from paths, and photos of digits made MNIST-like."""

import time

import cv2
import numpy as np
import pytest
from PIL import Image

from recognition import datasets, images
from recognition.errors import DataError
from tools.handwriting import DIGITS, render


def _photo(digit=3, h=300, w=280, seed=0):
    """A stand-in photo of `digit`: RGB uint8, dark ink on light paper."""
    return render(DIGITS[digit], np.random.default_rng(seed), height=h, width=w)


def _reference(tmp_path):
    path = tmp_path / "ref.png"
    Image.fromarray(_photo()).save(path)
    return images.photo_to_mnist(path)


def _check_mnist_like(x):
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.9
    border = np.concatenate([x[:3].ravel(), x[-3:].ravel(), x[:, :3].ravel(), x[:, -3:].ravel()])
    assert border.max() < 0.2  # ink in the middle, black around it
    ys, xs = np.nonzero(x > 0.3)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) in range(15, 23)  # fitted into 20x20
    m = cv2.moments(x)
    assert abs(m["m10"] / m["m00"] - 13.5) < 1.0 and abs(m["m01"] / m["m00"] - 13.5) < 1.0


def _similar(a, b):
    return np.corrcoef(a.ravel(), b.ravel())[0, 1]


def test_photo_becomes_mnist_like(tmp_path):
    _check_mnist_like(_reference(tmp_path))


def test_transparent_rgba(tmp_path):
    ink = 255 - _photo().mean(2)  # ink strength
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., :3] = 20  # dark ink colour everywhere, visible only where opaque
    rgba[..., 3] = np.clip(ink * 1.5 - 40, 0, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    x = images.photo_to_mnist(tmp_path / "t.png")
    _check_mnist_like(x)
    assert _similar(x, _reference(tmp_path)) > 0.8


def test_light_ink_on_dark_background(tmp_path):
    Image.fromarray(255 - _photo()).save(tmp_path / "neg.png")
    x = images.photo_to_mnist(tmp_path / "neg.png")
    _check_mnist_like(x)
    assert _similar(x, _reference(tmp_path)) > 0.8


def test_off_centre_digit(tmp_path):
    img = np.full((600, 600, 3), 235, np.uint8)
    img[20:320, 300:580] = _photo()
    Image.fromarray(img).save(tmp_path / "corner.jpg", quality=90)
    x = images.photo_to_mnist(tmp_path / "corner.jpg")
    _check_mnist_like(x)
    assert _similar(x, _reference(tmp_path)) > 0.8


def test_tiny_and_huge(tmp_path):
    small = cv2.resize(_photo(), (24, 26), interpolation=cv2.INTER_AREA)
    Image.fromarray(small).save(tmp_path / "tiny.png")
    _check_mnist_like(images.photo_to_mnist(tmp_path / "tiny.png"))
    big = cv2.resize(_photo(), (3000, 3200), interpolation=cv2.INTER_CUBIC)
    Image.fromarray(big).save(tmp_path / "huge.png")
    x = images.photo_to_mnist(tmp_path / "huge.png")
    _check_mnist_like(x)
    assert _similar(x, _reference(tmp_path)) > 0.8


def test_16_bit_grayscale_palette_and_exif_rotation(tmp_path):
    gray = _photo().mean(2)
    Image.fromarray((gray * 257).astype(np.uint16)).save(tmp_path / "g16.png")
    assert images.read_gray(tmp_path / "g16.png").max() > 0.8
    _check_mnist_like(images.photo_to_mnist(tmp_path / "g16.png"))
    Image.fromarray(_photo()).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    assert _similar(images.photo_to_mnist(tmp_path / "p.png"), _reference(tmp_path)) > 0.8
    # A phone stores the sensor's pixels and an EXIF tag saying "rotate 90 deg clockwise to view".
    img = Image.fromarray(np.rot90(_photo(), 1).copy())
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "phone.jpg", exif=exif, quality=92)
    assert _similar(images.photo_to_mnist(tmp_path / "phone.jpg"), _reference(tmp_path)) > 0.8


def test_blank_image_is_a_clear_error(tmp_path):
    Image.new("RGB", (100, 100), (240, 240, 240)).save(tmp_path / "blank.png")
    with pytest.raises(DataError, match="no ink"):
        images.photo_to_mnist(tmp_path / "blank.png")


def test_image_files_and_their_labels(tmp_path):
    (tmp_path / "4").mkdir()
    (tmp_path / "beta").mkdir()
    for name in [
        "7.png",
        "3_second.jpg",
        "4/a.png",
        "mine.png",
        "beta/x.png",
        "alpha_2.png",
        ".hidden.png",
    ]:
        Image.new("L", (10, 10)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.warns(UserWarning, match="notes.txt"):
        found = images.image_files(tmp_path)
    digits = [str(d) for d in range(10)]
    assert {p.name: images.label_from_path(p, tmp_path, digits) for p in found} == {
        "7.png": "7",
        "3_second.jpg": "3",
        "a.png": "4",
        "mine.png": None,
        "x.png": None,
        "alpha_2.png": None,
    }
    greek = ["alpha", "beta", "gamma"]
    assert {p.name: images.label_from_path(p, tmp_path, greek) for p in found} == {
        "7.png": None,
        "3_second.jpg": None,
        "a.png": None,
        "mine.png": None,
        "x.png": "beta",
        "alpha_2.png": "alpha",
    }
    with pytest.raises(DataError, match="no folder"):
        images.image_files(tmp_path / "absent")


def test_huge_photo_is_scaled_down_first_and_normal_ones_are_read_as_they_are(tmp_path):
    big = cv2.resize(_photo(), (6000, 8000), interpolation=cv2.INTER_LINEAR)  # 48 megapixels
    Image.fromarray(big).save(tmp_path / "huge.jpg", quality=85)
    t0 = time.perf_counter()
    x = images.photo_to_mnist(tmp_path / "huge.jpg")
    assert time.perf_counter() - t0 < 10  # ~50 s if read at full size
    _check_mnist_like(x)
    assert _similar(x, _reference(tmp_path)) > 0.8
    normal = cv2.resize(_photo(), (1200, 1600), interpolation=cv2.INTER_LINEAR)
    Image.fromarray(normal).save(tmp_path / "normal.png")
    expected = np.asarray(Image.open(tmp_path / "normal.png").convert("L"), dtype=np.float32) / 255
    assert np.array_equal(images.read_gray(tmp_path / "normal.png"), expected)


@pytest.mark.parametrize("make", ["empty", "text", "truncated", "one_pixel"])
def test_unreadable_or_empty_files_are_one_line_errors(tmp_path, make):
    path = tmp_path / "x.png"
    if make == "empty":
        path.write_bytes(b"")
    elif make == "text":
        path.write_text("not an image")
    elif make == "truncated":
        Image.fromarray(_photo()).save(path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        Image.new("L", (1, 1), 255).save(path)
    with pytest.raises(DataError) as e:
        images.photo_to_mnist(path)
    assert "\n" not in str(e.value)


def _stroke_width(x):
    """2 x area / perimeter of the ink (> 0.5), perimeter measured on an 8x upsampled mask."""
    m = (x > 0.5).astype(np.uint8)
    big = cv2.resize(m, (224, 224), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(big, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return 2 * m.sum() / (sum(cv2.arcLength(c, True) for c in contours) / 8)


@pytest.mark.integration
def test_thin_pen_strokes_thickened_to_mnist_width(tmp_path):
    mnist, _ = datasets.load_split("MNIST", train=True, limit=500)
    lo, hi = np.percentile([_stroke_width(im) for im in mnist.numpy() / 255.0], [10, 90])
    for width in (2, 6, 14):  # a fine pen to a marker, on a 600 px photo
        img = render(DIGITS[8], np.random.default_rng(1), height=600, width=560, stroke_width=width)
        Image.fromarray(img).save(tmp_path / "p.png")
        assert lo <= _stroke_width(images.photo_to_mnist(tmp_path / "p.png")) <= hi, width


def test_small_blurred_white_on_black_digit_is_neither_hollow_nor_faint(tmp_path):
    # Like a digit already cut to 28x28 by someone else: white on black, blurred and grey.
    sharp = images.photo_to_mnist(_photo(digit=0, seed=5))
    faint = 0.6 * cv2.GaussianBlur(sharp, (0, 0), 1.0)
    cv2.imwrite(str(tmp_path / "0.png"), (faint * 255).round().astype(np.uint8))
    x = images.photo_to_mnist(tmp_path / "0.png")
    _check_mnist_like(x)
    assert np.median(x[x > images.FAINT]) >= 0.8  # strokes as saturated as MNIST's
    assert _similar(x, sharp) > 0.8  # the same zero, its middle still dark (not a hollow outline)
    assert x[12:16, 12:16].max() < 0.2


def test_opaque_rgba_reads_as_the_luminance_of_its_colours(tmp_path):
    """A browser canvas gives opaque RGBA: its grey is the float luminance of the colours alone."""
    rgba = np.random.default_rng(0).integers(0, 256, (40, 30, 4), dtype=np.uint8)
    rgba[..., 3] = np.maximum(rgba[..., 3], 128)  # at least half opaque everywhere
    Image.fromarray(rgba, "RGBA").save(tmp_path / "canvas.png")
    expected = (rgba.astype(np.float32) / 255)[..., :3] @ np.array(
        [0.299, 0.587, 0.114], dtype=np.float32
    )
    # to the float's last digits (the sum's order is the CPU's); PIL's 8-bit grey is 2e-3 off
    np.testing.assert_allclose(images.read_gray(tmp_path / "canvas.png"), expected, atol=1e-6)


@pytest.mark.parametrize("side", [510, 520])  # 16-bit labels suffice, and they would not: 32-bit
def test_specks_are_dropped_however_many(side, monkeypatch):
    gray = np.zeros((side, side), np.float32)
    gray[::2, ::2] = 0.5  # (side/2)^2 one-pixel specks: the most 8-connected pieces an image holds
    gray[470:500, 300:500] = 1.0  # and one stroke
    labelled, label = [], cv2.connectedComponentsWithStats
    monkeypatch.setattr(
        cv2,
        "connectedComponentsWithStats",
        lambda *a, **k: labelled.append(label(*a, **k)) or labelled[-1],
    )
    ink, mask = images.ink_map(gray)
    assert labelled[0][0] > (side // 2) ** 2 - 2000  # each speck was labelled, a piece of its own
    assert mask[470:500, 300:500].all() and not mask[:460].any() and not mask[:, :290].any()
    assert ink[:460].max() == 0 and ink[485, 400] > 0.9


def _a_letter_with(*pieces):
    """A 60x60 mask holding a ring (the character, 4 px wide) and small square `pieces`
    (y, x, side), as ink_strength gives it: (ink, mask)."""
    mask = np.zeros((60, 60), np.uint8)
    cv2.circle(mask, (30, 30), 14, 1, 4)
    for y, x, side in pieces:
        mask[y : y + side, x : x + side] = 1
    return mask.astype(np.float32), mask


def test_a_small_piece_apart_from_the_character_is_dropped():
    # a 5x5 dot, 25 px: over SPECK (5 %) of the ring's 436 px, under STRAY (15 %), far from it
    ink, mask = images.drop_specks(*_a_letter_with((2, 54, 5)))
    assert not mask[2:7, 54:59].any() and ink[2:7, 54:59].max() == 0
    assert mask[30, 16] and mask[30, 44]  # the ring stays whole


def test_a_small_piece_beside_the_character_is_kept():
    # the same dot where a stroke broken by a scanner lies: inside the ring's box
    _, mask = images.drop_specks(*_a_letter_with((28, 28, 5)))
    assert mask[28:33, 28:33].all()
    # and a bigger piece far away is a stroke of the character, kept wherever it lies
    _, mask = images.drop_specks(*_a_letter_with((0, 51, 9)))
    assert mask[0:9, 51:60].all()
