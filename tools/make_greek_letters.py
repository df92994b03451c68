"""Make data/greek_train/ and data/greek_test/: stand-in handwritten Greek letters, course format.

The course gave 128x128 images of alpha, beta and gamma in one folder per letter
(ImageFolder layout); the report's authors added their own handwriting as a test
set.  Neither is available here, so this deterministic generator draws lowercase
alpha, beta, gamma, delta and epsilon with pen strokes (handwriting.render: not a
typeface) on uneven off-white paper, dark ink, 128x128 greyscale PNG.  Two "hands"
write them: the training hand and a test hand with another seed, another habitual
shape of each letter, another slant, pen width, size and sloppiness, as the
authors' writing differed from the course's.  Drop the real folders in their place
to use them instead.  Run: python tools/make_greek_letters.py
"""
import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from handwriting import GREEK, render  # noqa: E402

SIZE = 128

# A hand: its seed, how far its habitual letter shapes depart from the skeletons (`habit`, unit
# box), and its style ranges for handwriting.render.  Pen widths are fractions of the image side.
HANDS = {
    "train": {"seed": 1101, "count": 12, "habit": 0.02,
              "style": dict(slant=(-0.3, 0.05), rotation=8.0, size=(0.9, 1.1), aspect=(0.85, 1.1),
                            offset=0.03, jitter=0.022, width_range=(0.06, 0.085), noise=0.006)},
    "test": {"seed": 7207, "count": 6, "habit": 0.028,
             "style": dict(slant=(-0.1, 0.2), rotation=6.0, size=(0.8, 1.0), aspect=(0.95, 1.2),
                           offset=0.04, jitter=0.026, width_range=(0.045, 0.065), noise=0.006)},
}


def write_hand(out, hand, letters):
    """Draw `hand['count']` samples of each letter into out/<letter>/<letter>_NN.png."""
    rng = np.random.default_rng(hand["seed"])
    for letter in letters:
        strokes = GREEK[letter]
        # The hand's own way of shaping this letter, the same in every sample it writes.
        habit = [np.asarray(s) + rng.normal(0, hand["habit"], (len(s), 2)) for s in strokes]
        folder = out / letter
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(hand["count"]):
            rgb = render(habit, rng, SIZE, SIZE, **hand["style"])
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # one channel: a third of the file size
            cv2.imwrite(str(folder / f"{letter}_{i + 1:02d}.png"), gray, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "data",
                        help="folder to hold greek_train/ and greek_test/ (default: data/)")
    parser.add_argument("--letters", nargs="+", default=list(GREEK), choices=list(GREEK),
                        help=f"letters to draw (default: {' '.join(GREEK)})")
    args = parser.parse_args()
    for split, hand in HANDS.items():
        out = args.out_dir / f"greek_{split}"
        if out.exists():
            shutil.rmtree(out)  # deterministic output: no stale files from an earlier run
        write_hand(out, hand, args.letters)
        n = sum(1 for _ in out.rglob("*.png"))
        print(f"wrote {n} images to {out} ({hand['count']} per letter, seed {hand['seed']})")


if __name__ == "__main__":
    main()
