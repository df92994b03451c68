"""Make the stand-in handwritten Greek letters: the course-sized set and the many-writers set.

No real letter images may be committed here, so this deterministic generator draws them: with
pen strokes along skeletons (handwriting.pen_coverage), or printed by hand (print_hand: a
typeface's centre line drawn again with a pen).

* `data/greek_train/`, `data/greek_test/` (course format, for the report's protocol):
  alpha..epsilon, 128x128 greyscale, dark ink on shaded paper; one "hand" writes the
  training set (12 per letter) and another the test set (6 per letter).
* `data/greek_hands_train/`, `data/greek_hands_test/` (what real handwriting teaches): all 24
  lowercase letters, each written by many "writers".  A writer has a habitual shape of each
  letter (one of handwriting.GREEK_SHAPES for HANDWRITTEN_SHARE of the writers; the others
  print it in their typeface's shape), a slant, a pen from fine to marker, a letter
  size within the image, an image size, and a medium: a scan (white, greyscale PNG), a photo
  (shaded paper, JPEG), a note-taking app (ink on a transparent PNG) or a scanned form (a small
  one-bit box, sometimes with the form's dotted baseline, box edge or specks).  The test writers are
  other writers (another seed) than the training writers.

    python tools/make_greek_letters.py      # about 45 s on a 2-core laptop CPU

It writes 60 training and 30 test images in the course format, and 7200 and 720 in the
many-writers set, the same ones on every run.
"""

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np

from recognition.paths import DATA_DIR, ROOT
from tools.handwriting import GREEK, GREEK_SHAPES, on_paper, pen_coverage, render
from tools.print_hand import FONTS, GREEK_LETTERS, print_coverage

COURSE_SIZE = 128
COURSE_LETTERS = list(GREEK)

# The course-sized set: a hand is its seed, how far its habitual shapes depart from the skeletons
# (`habit`, unit box), and its style ranges for handwriting.render.  Pen widths: fractions of the
# side.
COURSE_HANDS = {
    "train": {
        "seed": 1101,
        "count": 12,
        "habit": 0.02,
        "style": {
            "slant": (-0.3, 0.05),
            "rotation": 8.0,
            "size": (0.9, 1.1),
            "aspect": (0.85, 1.1),
            "offset": 0.03,
            "jitter": 0.022,
            "width_range": (0.06, 0.085),
            "noise": 0.006,
        },
    },
    "test": {
        "seed": 7207,
        "count": 6,
        "habit": 0.028,
        "style": {
            "slant": (-0.1, 0.2),
            "rotation": 6.0,
            "size": (0.8, 1.0),
            "aspect": (0.95, 1.2),
            "offset": 0.04,
            "jitter": 0.026,
            "width_range": (0.045, 0.065),
            "noise": 0.006,
        },
    },
}

# The many-writers set: writers per split, letters per writer, and the ranges a writer's habits are
# drawn from.  Image sides and letter sizes span the real scans and screenshots (78-256 px, the
# letter filling a third of the image to all of it); pens span 1 % (fine pen) to 12 % (marker) of
# the letter's size, drawn log-uniformly so that every order of magnitude is as common.
WRITERS = {
    "train": {"seed": 31, "writers": 300, "per_writer": 1},
    "test": {"seed": 977, "writers": 30, "per_writer": 1},
}
# Each letter is written by pen from one of its GREEK_SHAPES by this share of the writers; the
# others print it (print_hand: a typeface's shape).
HANDWRITTEN_SHARE = 0.8
SIDE = (72, 200)
FORM_SIDE = (34, 64)  # a scanned form's letter box: small, one bit per pixel
LETTER_FILL = (0.45, 1.0)
PEN = (0.012, 0.12)
SLANT = (-0.35, 0.25)
ASPECT = (0.65, 1.2)  # a writer's letters are narrow or wide (width / height)
HABIT = 0.05  # how far a writer's habitual shape strays from its skeleton (unit box)
MEDIA = ("scan", "photo", "screen", "form")
JPEG_QUALITY = 80
INKS = [(0.05, 0.05, 0.07), (0.08, 0.12, 0.4), (0.15, 0.15, 0.15)]  # black, blue, pencil grey


def write_course_hand(out, hand, letters):
    """Draw `hand['count']` samples of each letter into out/<letter>/<letter>_NN.png."""
    rng = np.random.default_rng(hand["seed"])
    for letter in letters:
        strokes = GREEK[letter]
        # The hand's own way of shaping this letter, the same in every sample it writes.
        habit = [np.asarray(s) + rng.normal(0, hand["habit"], (len(s), 2)) for s in strokes]
        folder = out / letter
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(hand["count"]):
            rgb = render(habit, rng, COURSE_SIZE, COURSE_SIZE, **hand["style"])
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # one channel: a third of the file size
            cv2.imwrite(
                str(folder / f"{letter}_{i + 1:02d}.png"), gray, [cv2.IMWRITE_PNG_COMPRESSION, 9]
            )


def new_writer(rng):
    """A writer's habits: one shape per letter (perturbed once), slant, pen, image side, letter
    size, medium."""
    shapes = {}
    for letter, options in GREEK_SHAPES.items():
        # A stream of its own per letter: a letter's options and points draw from it alone, so
        # a change to one letter's shapes leaves every other letter's images as they were.
        own = np.random.default_rng(rng.integers(2**63))
        strokes = options[own.integers(len(options))]
        shapes[letter] = [np.asarray(s) + own.normal(0, HABIT, (len(s), 2)) for s in strokes]
    slant, aspect = rng.uniform(*SLANT), rng.uniform(*ASPECT)
    medium = MEDIA[rng.integers(len(MEDIA))]
    return {
        "shapes": {k: v for k, v in shapes.items() if rng.random() < HANDWRITTEN_SHARE},
        "font": FONTS[rng.integers(len(FONTS))],
        "slant": (slant - 0.05, slant + 0.05),
        "aspect": (0.93 * aspect, 1.07 * aspect),
        "pen": np.exp(rng.uniform(*np.log(PEN))),
        "side": int(rng.integers(*(FORM_SIDE if medium == "form" else SIDE))),
        "fill": rng.uniform(*LETTER_FILL),
        "medium": medium,
        "ink": INKS[rng.integers(len(INKS))],
    }


def written(writer, letter, rng, height, width, fill):
    """Ink coverage (height, width) of `letter` drawn by `writer`'s pen from its skeleton."""
    return pen_coverage(
        writer["shapes"][letter],
        rng,
        height,
        width,
        stroke_width=writer["pen"] * fill * min(height, width),
        box=0.8 * fill,
        slant=writer["slant"],
        rotation=6.0,
        size=(0.9, 1.1),
        aspect=writer["aspect"],
        offset=0.05,
        jitter=0.02,
    )


def printed(writer, letter, rng, height, width, fill):
    """Ink coverage (height, width) of `letter` printed by `writer` in its typeface's shape."""
    glyph = print_coverage(
        letter,
        writer["font"],
        rng,
        pen=2 * writer["pen"],  # of the glyph's height, which is about half the letter box's
        slant=-rng.uniform(*writer["slant"]),
        aspect=rng.uniform(*writer["aspect"]),
    )
    scale = 0.8 * fill * min(height, width) / max(glyph.shape)
    glyph = cv2.resize(
        glyph,
        (max(1, round(glyph.shape[1] * scale)), max(1, round(glyph.shape[0] * scale))),
        interpolation=cv2.INTER_AREA,
    )
    coverage = np.zeros((height, width), np.float32)
    y0 = int(rng.integers(0, height - glyph.shape[0] + 1))
    x0 = int(rng.integers(0, width - glyph.shape[1] + 1))
    coverage[y0 : y0 + glyph.shape[0], x0 : x0 + glyph.shape[1]] = glyph
    return coverage


def form_scan(coverage, rng):
    """A scanned form's letter box: one bit per pixel, often with what the box's crop catches
    beside the letter (grey uint8, 0 or 255)."""
    # A fine pen on a small box leaves faint coverage: the scanner's threshold still keeps a line.
    ink = coverage > min(rng.uniform(0.3, 0.55), 0.5 * coverage.max())
    chance = rng.random()
    if chance < 0.5:
        form_baseline(ink, rng)
    elif chance < 0.7:
        form_box_edge(ink, rng)
    if rng.random() < 0.3:
        scan_specks(ink, rng)
    return np.where(ink, 0, 255).astype(np.uint8)


def form_baseline(ink, rng):
    """The dotted line the letter sits on, near the bottom: across the box, or only the part of
    it that the crop caught, from one side."""
    height, width = ink.shape
    row = int(rng.integers(round(0.82 * height), height))
    start, stop = 0, width
    if rng.random() < 0.5:  # a piece of the line, reaching in from the left or the right
        reach = int(rng.uniform(0.15, 0.7) * width)
        start, stop = (0, reach) if rng.random() < 0.5 else (width - reach, width)
    dots = slice(start + int(rng.integers(3)), stop, int(rng.integers(2, 4)))
    ink[row : row + int(rng.integers(1, 3)), dots] = True


def form_box_edge(ink, rng):
    """The box's edge: a solid or dashed line at the left or right."""
    width = ink.shape[1]
    col = int(rng.integers(3)) if rng.random() < 0.5 else width - 1 - int(rng.integers(3))
    ink[:: int(rng.integers(1, 3)), col] = True


def scan_specks(ink, rng):
    """A few specks of dust or of a neighbouring box's ink, 1-3 px each, anywhere in the box."""
    height, width = ink.shape
    for _ in range(int(rng.integers(1, 4))):
        size = int(rng.integers(1, 4))
        y, x = int(rng.integers(height - size + 1)), int(rng.integers(width - size + 1))
        ink[y : y + size, x : x + size] = True


def draw(writer, letter, rng):
    """One letter by `writer`: (image array, file suffix).  Screen: BGRA; scan, form: grey;
    photo: BGR."""
    side = int(writer["side"] * rng.uniform(0.9, 1.1))
    height, width = side, int(side * rng.uniform(0.9, 1.15))
    fill = writer["fill"] * rng.uniform(0.9, 1.1)
    hand = written if letter in writer["shapes"] else printed
    coverage = hand(writer, letter, rng, height, width, fill)
    if writer["medium"] == "form":
        return form_scan(coverage, rng), ".png"
    ink = np.asarray(writer["ink"])
    if (
        writer["medium"] == "screen"
    ):  # a note-taking app: ink colour where drawn, transparent elsewhere
        bgra = np.zeros((height, width, 4), np.uint8)
        bgra[..., :3] = (ink[::-1] * 255).round().astype(np.uint8)
        bgra[..., 3] = (np.clip(coverage, 0, 1) * 255).round().astype(np.uint8)
        return bgra, ".png"
    if writer["medium"] == "scan":  # a flatbed scan: even white paper, greyscale
        white = rng.uniform(0.9, 1.0)
        gray = white * (1 - coverage) + ink.mean() * coverage
        return (np.clip(gray, 0, 1) * 255).round().astype(np.uint8), ".png"
    rgb = on_paper(coverage, rng, ink=ink, noise=0.01)  # a phone photo: shaded paper, sensor noise
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), ".jpg"


def write_writers(out, split, letters):
    """The many-writers set of one split: out/<letter>/w<writer>_<letter>_<k>.<png|jpg>."""
    spec = WRITERS[split]
    rng = np.random.default_rng(spec["seed"])
    writers = [new_writer(rng) for _ in range(spec["writers"])]
    for letter in letters:
        # Each letter's images draw from a stream of their own (see new_writer): the same images
        # whichever other letters are written and however they are shaped.
        letter_rng = np.random.default_rng([spec["seed"], list(GREEK_LETTERS).index(letter)])
        (out / letter).mkdir(parents=True, exist_ok=True)
        for w, writer in enumerate(writers):
            for k in range(spec["per_writer"]):
                image, suffix = draw(writer, letter, letter_rng)
                params = (
                    [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
                    if suffix == ".jpg"
                    else [cv2.IMWRITE_PNG_COMPRESSION, 9]
                )
                cv2.imwrite(
                    str(out / letter / f"w{w + 1:02d}_{letter}_{k + 1}{suffix}"), image, params
                )


def fresh(folder):
    """An empty `folder`: deterministic output, no stale files from an earlier run."""
    if folder.exists():
        shutil.rmtree(folder)
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DATA_DIR,
        help="folder to hold greek_train/, greek_test/, greek_hands_train/, greek_hands_test/ "
        f"(default: {DATA_DIR.relative_to(ROOT)}/)",
    )
    parser.add_argument(
        "--letters",
        nargs="+",
        default=list(GREEK_LETTERS),
        choices=list(GREEK_LETTERS),
        help="letters of the many-writers set (default: all 24)",
    )
    args = parser.parse_args()
    for split, hand in COURSE_HANDS.items():
        out = fresh(args.out_dir / f"greek_{split}")
        write_course_hand(out, hand, COURSE_LETTERS)
        print(
            f"wrote {sum(1 for _ in out.rglob('*.png'))} images to {out} "
            f"({hand['count']} per letter, seed {hand['seed']})"
        )
    for split, spec in WRITERS.items():
        out = fresh(args.out_dir / f"greek_hands_{split}")
        write_writers(out, split, args.letters)
        print(
            f"wrote {sum(1 for p in out.rglob('*') if p.is_file())} images to {out} "
            f"({spec['writers']} writers x {spec['per_writer']} per letter, seed {spec['seed']})"
        )


if __name__ == "__main__":
    main()
