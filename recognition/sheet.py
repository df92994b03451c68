"""Every handwritten character on a photo or scan of a page, in reading order.

`read_sheet(image, classify=None)` -> Sheet: each character's box (in the photo's own pixels), its
row, and the 28x28 input the photo pipeline (images.py) makes of one character.  A photo of one
character, a sheet of sixty and a camera frame all go the same way:

1. the page's ink (`images.ink_strength`): uneven light and shadows evened out, the paper's colour
   gone, ink found by Otsu's threshold;
2. printed lines removed: straight runs across the page (ruled lines), the edges of printed boxes
   (pieces of ink with ink all along their bounding box), and straight runs longer than one and
   a half characters; where a character's stroke crosses a line, the stroke is kept;
3. pieces of ink (connected components): dust and specks dropped by their size beside the typical
   character's (an "i"'s dot is one), and the pieces of one character merged (a stroke broken in
   two, or cut by a line: boxes that overlap sideways and nearly touch, or overlap outright);
4. rows: top to bottom, each left to right;
5. orientation: where the photo's EXIF says nothing, each of the four quarter turns is tried and
   the one whose characters `classify` reads most surely (mean top probability) is kept.

Big photos are read with their longer side at most images.MAX_SIDE pixels; boxes are given in the
photo's full size.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from recognition import images
from recognition.errors import DataError

ROTATIONS = (0, 90, 180, 270)  # degrees clockwise the page is turned to read it
# Ink must be at least this much darker than the paper (luminance, 0-1): a blank page or an empty
# camera view holds only noise, which Otsu's threshold would otherwise call ink.
MIN_CONTRAST = 0.08
FAINT_INK = 0.2  # of ink strength (1: the page's darkest ink): fainter is not a character's
# A character's longer side is at least this fraction of the image's shorter side: smaller is dust.
MIN_SIZE = 0.015
DUST = 0.01  # a piece under this fraction of the median piece's area is dust, dropped at once
SPECK_AREA, SPECK_SIDE = 0.08, 0.4  # a piece smaller than both (x the typical's) is a speck
MERGE_GAP = 0.35  # pieces of one character: at most this many median heights apart, one above
PAGE_LINE = 0.9  # a straight run across this fraction of the page is a line (ruled, printed)
BOX_SIDES = 0.9  # a printed box: ink along this fraction of each side of its bounding box
BOX_EDGE = 0.8  # ... whose straight runs over this fraction of its side are its edges
LONG_LINE = 1.5  # a straight run this many characters long is a line
MARGIN = 0.2  # the crop around a character, as a fraction of its longer side
NO_CHARACTERS = "no characters found on the page (is it blank, or the ink too faint to see?)"


@dataclass(frozen=True)
class Character:
    """One character found: `box` (x, y, width, height) in the photo's pixels, its `row` (0 the
    top), `input` float32 (28, 28) in [0, 1] as images.photo_to_mnist makes it, `crop` its ink as
    dark on white paper (float32 luminance, upright, lines and neighbours removed)."""

    box: tuple
    row: int
    input: np.ndarray
    crop: np.ndarray


@dataclass(frozen=True)
class Sheet:
    """The characters of a page in reading order; `rotation` the degrees clockwise the page was
    turned to read them; `size` the photo's (width, height); `probabilities` (N, C) as `classify`
    gave them for the characters, None without one."""

    characters: tuple
    rotation: int
    size: tuple
    probabilities: np.ndarray | None = None

    def rows(self):
        """The characters' indices, row by row."""
        rows = {}
        for i, c in enumerate(self.characters):
            rows.setdefault(c.row, []).append(i)
        return [rows[r] for r in sorted(rows)]


def read_sheet(image, classify=None, rotations=ROTATIONS):
    """Find the characters on `image` (a path, a binary file object or a luminance array).

    `classify(characters) -> (N, C) probabilities` picks the orientation among `rotations` and
    gives the Sheet its probabilities; without one, or where the photo's EXIF turned it, the page
    is read as it is.  DataError (one line) for a page with no characters.
    """
    gray, size, turned = _read(image)
    scale = size[0] / gray.shape[1]  # photo pixels per working pixel
    try:
        ink, mask = images.ink_strength(gray, MIN_CONTRAST)
    except DataError:
        raise DataError(NO_CHARACTERS) from None
    mask &= ink > FAINT_INK  # where Otsu's threshold found no ink to speak of, the noise is not
    pen = pen_width(mask)
    mask = remove_lines(mask, pen)
    labels, boxes, areas = pieces(mask, pen)
    if classify is None or turned:
        rotations = (0,)
    best = None
    for rotation in rotations:
        characters = layout(ink, labels, boxes, areas, rotation, scale)
        probabilities = classify(characters) if classify is not None else None
        score = np.max(probabilities, 1).mean() if probabilities is not None else 0.0
        if best is None or score > best[0]:
            best = (score, Sheet(tuple(characters), rotation, size, probabilities))
    return best[1]


def _read(image):
    """(luminance at working size, the photo's full (width, height), whether EXIF turned it)."""
    if isinstance(image, np.ndarray):
        gray = image.astype(np.float32)
        if gray.ndim == 3:
            gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
        if image.dtype == np.uint8:
            gray /= 255.0
        size, turned = (gray.shape[1], gray.shape[0]), False
        if max(gray.shape) > images.MAX_SIDE:
            f = images.MAX_SIDE / max(gray.shape)
            small = (max(1, round(gray.shape[1] * f)), max(1, round(gray.shape[0] * f)))
            gray = cv2.resize(gray, small, interpolation=cv2.INTER_AREA)
        return gray, size, turned
    img, size, turned = images.open_oriented(image)
    return images.gray_of(img), size, turned


def pen_width(mask):
    """The handwriting's stroke width in pixels: twice the distance to the paper along the
    strokes' middles (the upper quartile, so that thin printed lines do not set it)."""
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ridge = (dist > 0) & (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)))
    return max(1.0, 2.0 * float(np.percentile(dist[ridge], 75))) if ridge.any() else 1.0


def straight_runs(mask, length, across=None):
    """The pixels of `mask` on a horizontal (`across` True) or vertical (False) run of at least
    `length` pixels, or either (None)."""
    length = max(3, int(length))
    runs = np.zeros_like(mask)
    if across in (True, None):
        runs |= cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
    if across in (False, None):
        runs |= cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((length, 1), np.uint8))
    return runs


def remove_lines(mask, pen):
    """`mask` without printed lines: lines across the page, the edges of printed boxes, and then
    straight runs longer than LONG_LINE characters; where a stroke crosses a line it is kept."""
    h, w = mask.shape
    across_page = straight_runs(mask, PAGE_LINE * w, across=True)
    mask = without(mask, across_page | straight_runs(mask, PAGE_LINE * h, across=False), pen)
    mask = without(mask, box_edges(mask, pen), pen)
    _, boxes, areas = pieces(mask, pen, strict=False)
    if len(boxes):
        side = typical(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), areas)
        mask = without(mask, straight_runs(mask, LONG_LINE * side), pen)
    return mask


def without(mask, lines, pen):
    """`mask` less `lines`, but for the ink of strokes that cross them: line pixels with ink just
    above and below them (or either side) are the stroke's."""
    reach = max(3, round(2 * pen)) | 1
    rest = mask & ~lines
    bridged = cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((reach, 1), np.uint8))
    bridged |= cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((1, reach), np.uint8))
    return rest | (lines & bridged)


def box_edges(mask, pen):
    """The edges of printed boxes: of each piece of ink whose bounding box has ink all along its
    four sides, the straight runs over BOX_EDGE of its width (across) or height (down).  A
    character inside touching a side is kept: it is shorter than the box."""
    edges = np.zeros_like(mask)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    band = max(3, round(3 * pen))  # wide enough that dust on an edge does not hide it
    for k, (x, y, w, h, _) in enumerate(stats[1:], start=1):
        if min(w, h) < 4 * band:
            continue
        own = (labels[y : y + h, x : x + w] == k).astype(np.uint8)
        sides = (own[:band].any(0), own[-band:].any(0), own[:, :band].any(1), own[:, -band:].any(1))
        if min(side.mean() for side in sides) < BOX_SIDES:
            continue
        found = straight_runs(own, BOX_EDGE * w, across=True)
        found |= straight_runs(own, BOX_EDGE * h, across=False)
        edges[y : y + h, x : x + w] |= found
    return edges


def typical(values, weights):
    """The median of `values` weighted by `weights`: a character's, where dust is many but small."""
    order = np.argsort(values)
    cumulative = np.cumsum(np.asarray(weights, float)[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def pieces(mask, pen, strict=True):
    """(labels, boxes (N, 4) x0 y0 x1 y1 (end exclusive), areas) of the pieces of ink, dust
    dropped; DataError if none is left (`strict`; else no boxes)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    x, y, w, h, area = (stats[1:, i] for i in range(5))
    boxes = np.stack([x, y, x + w, y + h], 1)
    keep = np.maximum(w, h) >= max(2, pen)
    if keep.any():
        keep &= area >= DUST * typical(area[keep], area[keep])
    if not keep.any():
        if strict:
            raise DataError(NO_CHARACTERS)
        return labels, boxes[:0], area[:0]
    # Label k of `labels` is piece k - 1; dropped pieces keep their label but no box refers to it.
    index = np.flatnonzero(keep)
    return labels, np.column_stack([boxes[index], index + 1]), area[index]


def turn_boxes(boxes, rotation, height, width):
    """Boxes x0 y0 x1 y1 in the photo -> in the page turned `rotation` degrees clockwise."""
    x0, y0, x1, y1 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    if rotation == 90:
        return np.stack([height - y1, x0, height - y0, x1], 1)
    if rotation == 180:
        return np.stack([width - x1, height - y1, width - x0, height - y0], 1)
    if rotation == 270:
        return np.stack([y0, width - x1, y1, width - x0], 1)
    return boxes[:, :4].copy()


def merge_pieces(boxes, areas):
    """Groups (lists of piece indices) of the pieces of one character, in the reading frame:
    pieces that overlap sideways by half the narrower and are at most MERGE_GAP median heights
    apart, one above the other (or overlap outright)."""
    groups = [[i] for i in range(len(boxes))]
    box = [b.astype(float) for b in boxes]
    height = typical(boxes[:, 3] - boxes[:, 1], areas)
    merged = True
    while merged:
        merged = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if groups[a] and groups[b] and _one_character(box[a], box[b], height):
                    groups[a] += groups[b]
                    groups[b] = []
                    box[a] = np.concatenate(
                        [np.minimum(box[a], box[b])[:2], np.maximum(box[a], box[b])[2:]]
                    )
                    merged = True
    return [(g, box[i]) for i, g in enumerate(groups) if g]


def _one_character(a, b, height):
    overlap = min(a[2], b[2]) - max(a[0], b[0])
    narrower = min(a[2] - a[0], b[2] - b[0])
    gap = max(a[1], b[1]) - min(a[3], b[3])  # < 0: they overlap up and down
    merged = max(a[3], b[3]) - min(a[1], b[1]), max(a[2], b[2]) - min(a[0], b[0])
    if max(merged) > 1.6 * height:  # two characters, one above the other or side by side
        return False
    stacked = overlap >= 0.5 * narrower and gap <= MERGE_GAP * height
    return stacked or (overlap > 0 and gap < 0)  # or the boxes overlap (an alpha's tail)


def in_rows(boxes):
    """Indices of `boxes` (x0 y0 x1 y1) in reading order, and each one's row."""
    height = np.median(boxes[:, 3] - boxes[:, 1])
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    rows, row_of = [], {}
    for i in np.argsort(centre_y, kind="stable"):
        if rows and centre_y[i] - np.mean(centre_y[rows[-1]]) <= 0.5 * height:
            rows[-1].append(i)
        else:
            rows.append([i])
    order = []
    for r, row in enumerate(rows):
        for i in sorted(row, key=lambda i: boxes[i, 0]):
            order.append(i)
            row_of[i] = r
    return order, row_of


def layout(ink, labels, boxes, areas, rotation, scale):
    """The Characters of the page read turned `rotation` degrees clockwise, in reading order."""
    height, width = ink.shape
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    speck = (areas < SPECK_AREA * typical(areas, areas)) & (
        sides < SPECK_SIDE * typical(sides, areas)
    )
    boxes, areas = boxes[~speck], areas[~speck]
    groups = merge_pieces(turn_boxes(boxes, rotation, height, width), areas)
    group_box = np.array([b for _, b in groups])
    sides = np.maximum(group_box[:, 2] - group_box[:, 0], group_box[:, 3] - group_box[:, 1])
    groups = [g for g, side in zip(groups, sides) if side >= MIN_SIZE * min(height, width)]
    if not groups:
        raise DataError(NO_CHARACTERS)
    order, row_of = in_rows(np.array([b for _, b in groups]))
    return [character(ink, labels, boxes[groups[i][0]], rotation, scale, row_of[i]) for i in order]


def character(ink, labels, piece_boxes, rotation, scale, row):
    """One Character from its pieces (rows of `pieces`' boxes with their labels)."""
    x0, y0 = piece_boxes[:, :2].min(0)
    x1, y1 = piece_boxes[:, 2:4].max(0)
    own = np.isin(labels[y0:y1, x0:x1], piece_boxes[:, 4])
    strength = np.where(own, ink[y0:y1, x0:x1], 0).astype(np.float32)
    k = -rotation // 90  # np.rot90 turns counter-clockwise
    strength, own = np.rot90(strength, k).copy(), np.rot90(own, k).copy()
    pad = round(MARGIN * max(strength.shape)) + 1
    crop = 1.0 - np.pad(strength, pad)
    box = (round(x0 * scale), round(y0 * scale), round((x1 - x0) * scale), round((y1 - y0) * scale))
    return Character(box, row, images.ink_to_mnist(strength, own), crop)
