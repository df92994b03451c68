"""Printed rules beside handwriting: the dotted baseline of a form, the edge of its box, the
lines of ruled paper.  They are ink, but not the character's: left in, they stretch the box the
photo pipeline crops to, and the character shrinks to a corner of the network's input.

A rule is told from a stroke by two things a pen rarely does: it is thinner than the writer's
strokes, and it runs (solid or dotted) across the whole image, from near one edge to near the
other.  Where a stroke crosses a rule, the stroke's pixels are thick in the rule's direction, so
they stay.
"""

import cv2
import numpy as np

THINNER = 0.6  # a rule is at most this times the strokes' width
REACH = 0.1  # ... and comes within this share of the image's side of both of its edges
DOTS = 0.2  # ... with ink in at least this share of the columns (rows) it crosses
MOST = 0.5  # rules that would be more than this share of the ink are not rules


def stroke_width(mask):
    """The mean stroke width of the ink in `mask` (uint8): its area over half its perimeter."""
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * mask.sum() / max(perimeter, 1.0)


def horizontal_rules(mask, thin):
    """The pixels of `mask` (uint8, H x W) that form rules across it: thin runs along rows."""
    width = mask.shape[1]
    # Pixels in vertical runs no longer than `thin`: what an opening with a taller line erases.
    tall = cv2.getStructuringElement(cv2.MORPH_RECT, (1, thin + 1))
    flat = (mask > 0) & (cv2.morphologyEx(mask, cv2.MORPH_OPEN, tall) == 0)
    columns = flat.sum(axis=1)
    has = flat.any(axis=1)
    first = np.where(has, flat.argmax(axis=1), width)
    last = np.where(has, width - 1 - flat[:, ::-1].argmax(axis=1), -1)
    reach = REACH * width
    rows = (columns >= DOTS * width) & (first <= reach) & (last >= width - 1 - reach)
    return flat & rows[:, None]


def rule_mask(mask):
    """The pixels of the ink `mask` (bool or uint8, H x W) that are printed rules, horizontal or
    vertical, as a bool array."""
    mask = mask.astype(np.uint8)
    if not mask.any():
        return mask.astype(bool)
    thin = max(1, round(THINNER * stroke_width(mask)))
    found = horizontal_rules(mask, thin) | horizontal_rules(mask.T.copy(), thin).T
    # Rules are a small part of the ink; where "rules" would be most of it, they are the
    # character's own strokes (a thin letter that spans its tight crop).
    return found if found.sum() <= MOST * mask.sum() else np.zeros_like(found)
