"""Greek letters as a writer prints them: a typeface's glyph reduced to its centre line and drawn
again with a pen, slanted, stretched and bent.

The skeletons of handwriting.GREEK_SHAPES are the ways writers shape each letter by hand; this
gives every one of the 24 lowercase letters its printed shapes too, in several typefaces.  The
fonts are the ones matplotlib bundles (DejaVu and STIX, upright and italic), so they are the same
wherever the pinned requirements are installed.  A glyph's strokes of varying width become one
pen's even line: the skeleton (scikit-image's), widened by the pen.
"""

from functools import cache
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage.morphology import skeletonize

# The 24 lowercase letters, in the alphabet's order, and the character each is.
GREEK_LETTERS = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "omicron": "ο",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
}
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralItalic.ttf",
)
GLYPH_SIZE = 96  # font size in pixels at which a glyph is traced
MARGIN = 24  # room round the glyph for slant, rotation and bending


@cache
def centre_line(letter, font):
    """The glyph of `letter` in `font` (a name in FONTS) as a bool skeleton, cropped with MARGIN."""
    face = ImageFont.truetype(str(FONT_DIR / font), GLYPH_SIZE)
    img = Image.new("L", (3 * GLYPH_SIZE, 3 * GLYPH_SIZE), 0)
    ImageDraw.Draw(img).text((GLYPH_SIZE, GLYPH_SIZE // 2), GREEK_LETTERS[letter], 255, face)
    ink = np.asarray(img) > 127
    ys, xs = np.nonzero(ink)
    ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return np.pad(skeletonize(ink), MARGIN)


def bend(coverage, rng, strength):
    """`coverage` bent by a smooth random displacement field of at most `strength` x its side."""
    h, w = coverage.shape
    sigma = 0.12 * max(h, w)
    field = [
        cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
        for _ in range(2)
    ]
    dx, dy = (f * strength * max(h, w) / max(np.abs(f).max(), 1e-6) for f in field)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(coverage, gx + dx, gy + dy, cv2.INTER_LINEAR)


def print_coverage(letter, font, rng, pen, slant=0.0, aspect=1.0, rotation=6.0, bending=0.05):
    """Ink coverage (float32 in [0, 1], cropped to the letter) of `letter` printed by hand in
    `font`: pen width `pen` as a fraction of the glyph's height, sheared by `slant` (> 0 leans
    right), width scaled by `aspect`, rotated up to +- `rotation` degrees, bent up to `bending`."""
    skeleton = centre_line(letter, font).astype(np.float32)
    h, w = skeleton.shape
    centre = (w / 2, h / 2)
    turn = cv2.getRotationMatrix2D(centre, rng.uniform(-rotation, rotation), 1.0)[:, :2]
    linear = turn @ np.array([[aspect, -slant], [0.0, 1.0]])
    shift = np.asarray(centre) - linear @ np.asarray(centre)
    skeleton = cv2.warpAffine(skeleton, np.hstack([linear, shift[:, None]]), (w, h))
    skeleton = bend(skeleton, rng, bending) > 0.2
    width = max(2, round(pen * (h - 2 * MARGIN)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    coverage = cv2.GaussianBlur(cv2.dilate(skeleton.astype(np.float32), disc), (3, 3), 0)
    ys, xs = np.nonzero(coverage > 0.3)
    return np.clip(coverage[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], 0, 1)
