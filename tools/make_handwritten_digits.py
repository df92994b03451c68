"""Make data/handwritten_digits/: ten stand-in photos of digits 0-9 written by hand.

The report's authors photographed digits they wrote with a marker.  This
repository has no camera, so this deterministic generator draws each digit with
pen strokes (jittered shape, slant, width, pressure; not a typeface) on uneven
off-white paper, as an RGB image a few hundred pixels wide.  File `7.png` holds a
7: the leading digit of a name is its label.

    python tools/make_handwritten_digits.py     # about 1 s: writes 0.png ... 9.png
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from recognition.paths import DATA_DIR, ROOT
from tools.handwriting import DIGITS, render

OUT_DIR = DATA_DIR / "handwritten_digits"
SEED = 2024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=OUT_DIR,
        help=f"folder to write (default: {OUT_DIR.relative_to(ROOT)})",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default: {SEED})")
    args = parser.parse_args()
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for digit, strokes in DIGITS.items():
        h, w = int(rng.integers(300, 420)), int(rng.integers(260, 400))
        img = render(
            strokes, rng, height=h, width=w, stroke_width=rng.uniform(0.03, 0.05) * min(h, w)
        )
        path = out / f"{digit}.png"
        cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        print(f"wrote {path} ({w}x{h})")


if __name__ == "__main__":
    main()
