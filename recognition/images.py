"""Image files of any kind, and photos of handwritten digits turned into MNIST-like inputs.

* `open_image`, `read_rgb`, `read_gray`: any file PIL reads (RGB, RGBA with transparency,
  16-bit, palette, EXIF-rotated phone photos), huge ones scaled down first; a path or, for
  an upload held in memory, a binary file object.
* `image_files`, `label_from_path`: the image files under a folder and the class each
  one's name or folder gives it.
* `photo_to_mnist`: a photo of one handwritten digit -> 28x28, white ink on black, as
  MNIST was made (ink found, stroke width matched, 20x20 fit, centred by mass).

One pipeline serves a photo of one character, a sheet of many (sheet.py) and a camera frame:
`read_gray` (or `open_oriented` + `gray_of`), `ink_strength` (ink found, lighting evened out),
then, per character, `ink_to_mnist`.  `ink_map` is `ink_strength` with the specks dropped.
"""

import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from recognition import rules
from recognition.errors import DataError, first_line

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
# Longer side above which an image is scaled down as it is read.  The output is 28x28, so
# nothing is lost; a 48-megapixel photo would otherwise take ~50 s in the pipeline.  Photos up
# to this size are read exactly as they are.
MAX_SIDE = 1600
# MNIST's strokes: the median of an MNIST test digit's pixels above FAINT is 0.85
# (5-95 %: 0.66-0.99).
FAINT = 0.1
# A piece of ink under SPECK of the largest piece's area is dropped wherever it lies; one under
# STRAY of it only where it lies apart from the character (images.stray_pieces).
SPECK = 0.05
STRAY = 0.15
MNIST_STROKE_MEDIAN = 0.85
EXIF_ORIENTATION = 0x0112  # the EXIF tag that says how a phone held its camera


def is_image_file(path):
    """Whether `path` names an image file by its suffix (hidden files are not)."""
    path = Path(path)
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def image_files(folder):
    """The image files anywhere under `folder`, sorted; other files are skipped with a warning."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no folder {folder}: pass a folder of images")
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if is_image_file(path):
            found.append(path)
        elif not path.name.startswith("."):
            warnings.warn(f"skipping {path}: not an image file")
    return found


def label_from_path(path, folder, class_names):
    """The class of an image file under `folder`, or None.

    A file in a sub-folder named by a class is of that class (`beta/x.png`, `4/img.png`);
    otherwise a name that starts with a class name is (`7.png`, `3_photo.jpg`, `alpha_2.png`;
    the longest match wins).
    """
    path = Path(path)
    if path.parent != Path(folder) and path.parent.name in class_names:
        return path.parent.name
    starts = [c for c in class_names if path.name.startswith(c)]
    return max(starts, key=len) if starts else None


def open_image(path, max_side=MAX_SIDE):
    """Open any image file as PIL does, EXIF-rotated as a phone meant it, its longer side at most
    `max_side` pixels; DataError if it is not a readable image.

    `path` may also be a binary file object (an upload held in memory, `io.BytesIO`)."""
    return open_oriented(path, max_side)[0]


def open_oriented(path, max_side=MAX_SIDE):
    """(image, full size, turned) as `open_image` reads it: `full size` (width, height) is the
    photo's before scaling down (EXIF-rotated), `turned` whether its EXIF said how to turn it."""
    if hasattr(path, "read"):
        name = "the image"
    else:
        path = name = Path(path)
        if not path.is_file():
            raise DataError(f"no image file {path}")
    try:
        with Image.open(
            path
        ) as src:  # closed at once: a multi-frame file (GIF) would otherwise stay open
            orientation = src.getexif().get(EXIF_ORIENTATION, 1)
            turned = orientation not in (1, None)
            # Orientations 5-8 turn the photo a quarter: its width and height swap.
            full_size = src.size[::-1] if orientation in (5, 6, 7, 8) else src.size
            if max(src.size) > max_side:
                src.draft(
                    src.mode,
                    (
                        src.size[0] * max_side // max(src.size),
                        src.size[1] * max_side // max(src.size),
                    ),
                )
            img = ImageOps.exif_transpose(src)  # a loaded copy, rotated where EXIF says so
        if max(img.size) > max_side:
            scale = max_side / max(img.size)
            img = img.resize(
                (max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))),
                Image.Resampling.BOX,
            )
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as e:
        raise DataError(f"{name}: not a readable image ({first_line(e)})") from None
    return img, tuple(full_size), turned


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
    so an RGBA digit ends up as ink on an opaque background like any photo.  A luminance array
    (a crop of a sheet) is taken as it is.
    """
    if isinstance(path, np.ndarray):
        return path.astype(np.float32)
    return gray_of(open_image(path))


def gray_of(img):
    """A PIL image -> float32 (H, W) luminance in [0, 1], as `read_gray` gives it."""
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        return np.clip(a / hi, 0, 1).astype(np.float32)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"))  # uint8 (H, W, 4)
        # The colour channels as one contiguous float copy: a float copy of all four channels,
        # sliced, took 2 ms of the demo's 280x280 pad (a browser's canvas is RGBA); the values
        # are the same.
        rgb = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB).astype(np.float32)
        rgb /= 255.0
        gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if rgba[..., 3].min() < 128:  # alpha under 0.5 somewhere: there is a transparent background
            alpha = rgba[..., 3].astype(np.float32) / 255.0
            opaque = alpha > 0.5
            ink_is_dark = gray[opaque].mean() < 0.5 if opaque.any() else True
            background = 1.0 if ink_is_dark else 0.0
            return (alpha * gray + (1 - alpha) * background).astype(np.float32)
        return gray.astype(np.float32)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def ink_map(gray):
    """Luminance -> (ink strength in [0, 1] (ink bright, paper 0), with uneven lighting removed,
    the ink's mask), specks dropped: one character's ink."""
    ink, mask = ink_strength(gray)
    return drop_specks(ink, mask)


def ink_strength(gray, min_contrast=1e-3):
    """Luminance -> (ink strength in [0, 1], ink bright and paper 0, with uneven lighting removed;
    its mask, uint8 0/1); DataError where there is no ink, none `min_contrast` from the paper."""
    h, w = gray.shape
    # The ink is the minority of pixels far from the paper's (median) brightness: on which side?
    lo, paper_level, hi = np.percentile(gray, [0.5, 50, 99.5])  # one partial sort for the three
    if paper_level - lo > hi - paper_level:
        gray = 1.0 - gray  # dark ink on light paper: make ink bright
    # Paper brightness varies slowly; estimate it with a wide opening (erases strokes) and subtract.
    f = 4 if min(h, w) >= 64 else 1  # work at a quarter size where that is still big enough
    small = cv2.resize(gray, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    ks = max(3, (min(small.shape) // 4) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (ks, ks))
    paper = cv2.GaussianBlur(cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel), (ks, ks), 0)
    gray = np.clip(gray - cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR), 0, None)
    top = np.percentile(gray, 99.5)
    if top <= min_contrast:
        raise DataError("the image holds no ink")
    ink = np.clip(gray / top, 0, 1)
    # Otsu's threshold separates ink from paper noise; fade in just above it.
    t, _ = cv2.threshold((ink * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    t = t / 255.0
    ink = np.clip((ink - 0.5 * t) / max(1e-3, 1 - 0.5 * t), 0, 1)
    mask = (ink > 0.5 * t).astype(np.uint8)
    mask[rules.rule_mask(mask)] = 0  # a form's dotted baseline, a box's edge: not the character's
    return ink, mask


def drop_specks(ink, mask):
    """(ink, mask as bool) of `ink_strength` with the specks dropped: every piece under SPECK of
    the largest's area, and those under STRAY of it that lie apart from the character."""
    h, w = mask.shape
    # 16-bit labels (a third of the time on the demo's pad) where they cannot run out: at most one
    # piece per 2x2 block, plus the background.
    fits_16_bits = ((h + 1) // 2) * ((w + 1) // 2) < 2**16 - 1
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask, connectivity=8, ltype=cv2.CV_16U if fits_16_bits else cv2.CV_32S
    )
    if n <= 1:
        raise DataError("the image holds no ink")
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.ones(n, bool)  # by label, the background's (0) among them
    keep[1:] = areas >= SPECK * areas.max()
    keep[1:] &= ~stray_pieces(stats[1:], keep[1:])
    if keep.all():  # nothing to drop (a drawing's strokes): the mask as is
        kept = mask.view(bool)
    else:
        keep[0] = False
        kept = keep[labels]
    return (ink * kept).astype(np.float32), kept


def stray_pieces(stats, kept):
    """Which of the pieces (connectedComponentsWithStats' stats rows, the background's left out;
    `kept`: those still kept) are strays: under STRAY of the largest's area and clear of the box
    round the bigger kept pieces, widened by a tenth of its size.  A scanned form's dots and a
    neighbouring box's ink lie there; a stroke that the scanner broke lies beside the rest."""
    areas = stats[:, cv2.CC_STAT_AREA]
    big = kept & (areas >= STRAY * areas.max())
    x0, y0 = stats[big, 0].min(), stats[big, 1].min()
    x1 = (stats[big, 0] + stats[big, 2]).max()
    y1 = (stats[big, 1] + stats[big, 3]).max()
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    left, top = stats[:, 0], stats[:, 1]
    right, bottom = left + stats[:, 2], top + stats[:, 3]
    apart = (right < x0 - mx) | (left > x1 + mx) | (bottom < y0 - my) | (top > y1 + my)
    return ~big & apart


def photo_to_mnist(path_or_gray, size=28, box=20):
    """A photo of one handwritten digit -> float32 (28, 28) in [0, 1], white on black, as MNIST's.

    Ink is cropped, scaled to fit a 20x20 box with its aspect kept (thin pen
    strokes thickened to MNIST's typical width), and placed in 28x28 so that its centre
    of mass is at the centre.
    """
    gray = (
        read_gray(path_or_gray)
        if not isinstance(path_or_gray, np.ndarray)
        else path_or_gray.astype(np.float32)
    )
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    return ink_to_mnist(*ink_map(gray), size, box)


def ink_to_mnist(ink, mask, size=28, box=20):
    """One character's ink (`ink_map`'s (ink, mask)) -> float32 (28, 28) in [0, 1], as
    `photo_to_mnist` makes it."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))  # the ink's bounding box
    ink = ink[y : y + h, x : x + w]
    mask = mask[y : y + h, x : x + w].astype(np.uint8)
    h, w = ink.shape
    scale = box / max(h, w)
    # Stroke width from area / half-perimeter; thicken strokes that would be thinner than MNIST's.
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    stroke = 2.0 * mask.sum() / max(perimeter, 1.0)
    want = 3.0 / scale  # calibrated: gives the median stroke of MNIST digits after resizing
    if stroke < want and scale < 1:
        grow = round(want - stroke) | 1
        ink = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
        ink = np.pad(ink, grow // 2)
        h, w = ink.shape
        scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    small = np.clip(cv2.resize(ink, (nw, nh), interpolation=interp), 0, 1)
    small = small / max(small.max(), 1e-6)
    # A blurred or faint scan leaves grey strokes; MNIST's are mostly saturated.  Brighten (never
    # darken) so the median stroke pixel matches MNIST's.
    stroke_pixels = small[small > FAINT]
    if stroke_pixels.size:
        small = np.clip(small * max(1.0, MNIST_STROKE_MEDIAN / np.median(stroke_pixels)), 0, 1)
    out = np.zeros((size, size), np.float32)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = small
    # Shift so the centre of mass sits at the image centre, as MNIST's makers did.
    # Whole-pixel shifts keep the strokes sharp.
    m = cv2.moments(out)
    dx = round((size - 1) / 2 - m["m10"] / m["m00"])
    dy = round((size - 1) / 2 - m["m01"] / m["m00"])
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    out = cv2.warpAffine(out, shift, (size, size), flags=cv2.INTER_NEAREST, borderValue=0)
    return np.clip(out, 0, 1)
