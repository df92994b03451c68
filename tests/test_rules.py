"""recognition/rules.py: printed rules are found and removed; the character's strokes stay."""

import numpy as np
import pytest

from recognition import rules
from recognition.images import photo_to_mnist
from tools.handwriting import GREEK_SHAPES, pen_coverage


def letter_box(letter, seed, side=48, pen=3.0):
    """A 1-bit scan of one letter on white: bool ink mask (side, side)."""
    coverage = pen_coverage(
        GREEK_SHAPES[letter][0], np.random.default_rng(seed), side, side, stroke_width=pen, box=0.7
    )
    return coverage > 0.4


def dotted_baseline(ink, row, step=2):
    with_rule = ink.copy()
    with_rule[row, ::step] = True
    return with_rule


@pytest.mark.parametrize("letter", ["alpha", "beta", "gamma", "pi"])
def test_a_dotted_baseline_is_a_rule_and_the_letter_is_not(letter):
    ink = letter_box(letter, seed=3)
    scanned = dotted_baseline(ink, row=45)
    found = rules.rule_mask(scanned)
    rule = scanned & ~ink
    assert found[rule].mean() > 0.9  # nearly all of the rule's own pixels
    assert not found[ink & ~scanned[45:46].any(0)].any()  # none of the letter away from it


def test_a_box_edge_is_a_rule():
    ink = letter_box("delta", seed=5)
    scanned = ink.copy()
    scanned[:, 1] = True  # the box's solid left edge
    found = rules.rule_mask(scanned)
    assert found[:, 1].mean() > 0.9 and not found[:, 8:].any()


def test_a_thin_bar_inside_the_letter_is_not_a_rule():
    # A pi whose bar is thinner than its legs but stops short of the box's sides.
    ink = np.zeros((48, 48), bool)
    ink[12, 8:40] = True
    ink[12:40, 14:17] = True
    ink[12:40, 31:34] = True
    assert not rules.rule_mask(ink).any()


def test_a_letter_on_a_ruled_form_reads_as_the_letter_alone():
    ink = letter_box("gamma", seed=8)
    clean = photo_to_mnist(np.where(ink, 0.0, 1.0).astype(np.float32))
    # A solid rule: its pixels are one piece, too big to be dropped as specks.
    ruled = photo_to_mnist(np.where(dotted_baseline(ink, 46, 1), 0.0, 1.0).astype(np.float32))
    assert np.abs(clean - ruled).mean() < 0.01  # without rules.py: 0.1, the letter shrinks


def test_no_ink_has_no_rules():
    assert not rules.rule_mask(np.zeros((20, 30), bool)).any()
