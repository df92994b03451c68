"""Draw glyphs the way a hand does, on paper the way a camera sees it.

Used by the committed generators in `tools/` to make the stand-in "photos" of
handwritten digits and Greek letters (the report's authors photographed their
own; this repository has no camera).  A glyph is a list of pen strokes, each a
list of control points in a unit box (x right, y down).  Every sample gets its
own jitter of the control points, slant, rotation, size, position, stroke width
and pen pressure; strokes are smoothed with Catmull-Rom splines and drawn
anti-aliased onto off-white paper with uneven light and sensor noise.
Deterministic: the same seed gives the same image.
"""

import cv2
import numpy as np

# Digit skeletons, written as most people write them.  Separate strokes where the pen lifts or
# turns sharply.
DIGITS = {
    0: [
        [
            (0.5, 0.04),
            (0.22, 0.2),
            (0.16, 0.55),
            (0.3, 0.9),
            (0.55, 0.97),
            (0.8, 0.78),
            (0.84, 0.4),
            (0.7, 0.1),
            (0.5, 0.04),
            (0.4, 0.08),
        ]
    ],
    1: [[(0.3, 0.25), (0.55, 0.04)], [(0.55, 0.04), (0.54, 0.5), (0.53, 0.97)]],
    2: [
        [
            (0.18, 0.27),
            (0.32, 0.08),
            (0.6, 0.04),
            (0.8, 0.22),
            (0.72, 0.48),
            (0.45, 0.72),
            (0.17, 0.95),
        ],
        [(0.17, 0.95), (0.5, 0.93), (0.88, 0.95)],
    ],
    3: [
        [(0.2, 0.14), (0.48, 0.03), (0.78, 0.16), (0.72, 0.38), (0.45, 0.48)],
        [(0.45, 0.48), (0.76, 0.58), (0.84, 0.8), (0.58, 0.97), (0.2, 0.88)],
    ],
    4: [
        [(0.6, 0.04), (0.38, 0.35), (0.14, 0.66)],
        [(0.14, 0.66), (0.5, 0.66), (0.88, 0.64)],
        [(0.66, 0.3), (0.65, 0.65), (0.64, 0.98)],
    ],
    5: [
        [(0.78, 0.05), (0.5, 0.05), (0.3, 0.06)],
        [(0.3, 0.06), (0.27, 0.28), (0.24, 0.47)],
        [(0.24, 0.47), (0.5, 0.38), (0.78, 0.52), (0.8, 0.8), (0.52, 0.97), (0.18, 0.87)],
    ],
    6: [
        [
            (0.72, 0.05),
            (0.42, 0.22),
            (0.22, 0.58),
            (0.3, 0.9),
            (0.56, 0.97),
            (0.78, 0.8),
            (0.72, 0.56),
            (0.46, 0.5),
            (0.24, 0.64),
        ]
    ],
    7: [[(0.14, 0.07), (0.5, 0.06), (0.86, 0.07)], [(0.86, 0.07), (0.6, 0.45), (0.42, 0.97)]],
    8: [
        [
            (0.52, 0.47),
            (0.26, 0.3),
            (0.5, 0.04),
            (0.76, 0.24),
            (0.52, 0.47),
            (0.22, 0.72),
            (0.48, 0.97),
            (0.8, 0.74),
            (0.52, 0.47),
        ]
    ],
    9: [
        [(0.74, 0.22), (0.5, 0.04), (0.24, 0.22), (0.34, 0.46), (0.62, 0.44), (0.76, 0.26)],
        [(0.76, 0.2), (0.72, 0.6), (0.66, 0.98)],
    ],
}


# Lowercase Greek letters as they are handwritten (one letter filling its box, as in the course's
# images).
GREEK = {
    # alpha: a round bowl on the left; the pen comes down from the upper right, round the bowl
    # and out
    # through the crossing to a tail at the lower right.
    "alpha": [
        [
            (0.9, 0.18),
            (0.76, 0.42),
            (0.6, 0.68),
            (0.4, 0.84),
            (0.2, 0.78),
            (0.1, 0.55),
            (0.2, 0.3),
            (0.42, 0.22),
            (0.6, 0.38),
            (0.74, 0.66),
            (0.92, 0.86),
        ]
    ],
    # beta: a long stem from below the baseline, two bumps on the right like a B.
    "beta": [
        [
            (0.26, 1.0),
            (0.25, 0.6),
            (0.27, 0.22),
            (0.4, 0.04),
            (0.6, 0.04),
            (0.72, 0.16),
            (0.66, 0.34),
            (0.44, 0.44),
            (0.68, 0.5),
            (0.8, 0.68),
            (0.68, 0.86),
            (0.46, 0.9),
            (0.28, 0.8),
        ]
    ],
    # gamma: an arm from the upper left down to a small loop at the bottom, then up to the upper
    # right.
    "gamma": [
        [
            (0.08, 0.24),
            (0.22, 0.14),
            (0.36, 0.3),
            (0.52, 0.68),
            (0.58, 0.88),
            (0.5, 0.98),
            (0.42, 0.88),
            (0.5, 0.66),
            (0.7, 0.36),
            (0.9, 0.1),
        ]
    ],
    # delta: a hook at the top, the stroke falls into a round bowl and closes it.
    "delta": [
        [
            (0.78, 0.12),
            (0.58, 0.02),
            (0.36, 0.08),
            (0.38, 0.24),
            (0.62, 0.4),
            (0.8, 0.62),
            (0.72, 0.88),
            (0.48, 0.97),
            (0.24, 0.84),
            (0.24, 0.6),
            (0.44, 0.44),
            (0.62, 0.4),
        ]
    ],
    # epsilon: two arcs open to the right, like a reversed 3, the pen turning at the middle.
    "epsilon": [
        [(0.8, 0.22), (0.56, 0.1), (0.3, 0.16), (0.24, 0.36), (0.42, 0.48), (0.62, 0.5)],
        [(0.62, 0.5), (0.36, 0.54), (0.18, 0.7), (0.3, 0.9), (0.56, 0.94), (0.82, 0.82)],
    ],
}

# Many writers' shapes of each lowercase Greek letter, a list of skeletons per letter (most lists
# begin with GREEK's).  A writer uses one of them for a letter; together they cover the common ways
# of writing it.
GREEK_SHAPES = {
    "alpha": [
        GREEK["alpha"],
        # the open fish: wide and low, crossing in the middle, both tails to the right
        [
            [
                (0.95, 0.22),
                (0.72, 0.5),
                (0.45, 0.74),
                (0.2, 0.72),
                (0.06, 0.5),
                (0.2, 0.28),
                (0.45, 0.3),
                (0.72, 0.55),
                (0.95, 0.8),
            ]
        ],
        # a round bowl closed by an upright right side with a small tail, like a written 'a'
        [
            [
                (0.78, 0.32),
                (0.55, 0.2),
                (0.28, 0.28),
                (0.14, 0.55),
                (0.3, 0.8),
                (0.55, 0.72),
                (0.72, 0.45),
                (0.8, 0.22),
            ],
            [(0.8, 0.22), (0.76, 0.55), (0.82, 0.78), (0.95, 0.82)],
        ],
    ],
    "beta": [
        # most writers' beta: round bumps on the upper two thirds, the stem running on below the
        # baseline
        [
            [
                (0.3, 1.0),
                (0.3, 0.6),
                (0.32, 0.2),
                (0.44, 0.04),
                (0.62, 0.04),
                (0.72, 0.16),
                (0.66, 0.32),
                (0.46, 0.4),
                (0.7, 0.46),
                (0.8, 0.6),
                (0.7, 0.74),
                (0.48, 0.78),
                (0.31, 0.7),
            ]
        ],
        # wide and round, on the baseline: a small upper bump over a big lower one, like an '8'
        # with a straight left side
        [
            [
                (0.24, 0.94),
                (0.22, 0.5),
                (0.26, 0.14),
                (0.42, 0.04),
                (0.62, 0.08),
                (0.66, 0.24),
                (0.5, 0.38),
                (0.3, 0.42),
                (0.62, 0.46),
                (0.84, 0.64),
                (0.76, 0.88),
                (0.5, 0.96),
                (0.24, 0.88),
            ]
        ],
        # tall and narrow: two small bumps on the upper half, the stem well below the baseline
        [
            [
                (0.36, 1.0),
                (0.34, 0.6),
                (0.36, 0.2),
                (0.46, 0.03),
                (0.6, 0.04),
                (0.68, 0.15),
                (0.62, 0.3),
                (0.46, 0.36),
                (0.66, 0.42),
                (0.72, 0.56),
                (0.62, 0.7),
                (0.45, 0.72),
                (0.35, 0.64),
            ]
        ],
        # no descender: the stem stands on the baseline like a B's
        [
            [
                (0.28, 0.95),
                (0.27, 0.55),
                (0.3, 0.2),
                (0.42, 0.05),
                (0.62, 0.05),
                (0.72, 0.18),
                (0.64, 0.36),
                (0.44, 0.45),
                (0.7, 0.52),
                (0.8, 0.7),
                (0.68, 0.88),
                (0.45, 0.94),
                (0.28, 0.85),
            ]
        ],
        # the curly beta 'ϐ', like a '6' whose top hooks back: from the hook down the left side,
        # round the bowl and closed at its middle
        [
            [
                (0.62, 0.3),
                (0.72, 0.12),
                (0.55, 0.02),
                (0.38, 0.1),
                (0.3, 0.35),
                (0.26, 0.65),
                (0.34, 0.9),
                (0.52, 0.97),
                (0.7, 0.85),
                (0.74, 0.64),
                (0.6, 0.48),
                (0.4, 0.5),
                (0.3, 0.62),
            ]
        ],
        # a rounded 'B' in one stroke, standing on the baseline: the stem curves up into the top
        # bump, the pen crosses back at the waist and rounds the larger lower bump
        [
            [
                (0.32, 0.92),
                (0.26, 0.6),
                (0.3, 0.22),
                (0.44, 0.04),
                (0.62, 0.06),
                (0.68, 0.22),
                (0.56, 0.38),
                (0.38, 0.44),
                (0.66, 0.5),
                (0.8, 0.7),
                (0.7, 0.9),
                (0.48, 0.96),
                (0.32, 0.86),
            ]
        ],
    ],
    "gamma": [
        GREEK["gamma"],
        # the arms cross in the middle and close a round loop below the baseline, like a
        # rounded 'γ' written in one stroke
        [
            [
                (0.05, 0.12),
                (0.22, 0.1),
                (0.42, 0.35),
                (0.62, 0.68),
                (0.62, 0.9),
                (0.48, 0.98),
                (0.36, 0.88),
                (0.42, 0.66),
                (0.62, 0.4),
                (0.9, 0.08),
            ]
        ],
        # curved arms meeting on a straight stem, no loop
        [
            [(0.08, 0.2), (0.25, 0.1), (0.42, 0.3), (0.5, 0.55), (0.5, 0.95)],
            [(0.9, 0.08), (0.68, 0.3), (0.52, 0.55)],
        ],
        # short arms crossing at the middle over a big round loop, like a 'ɤ'
        [
            [
                (0.22, 0.06),
                (0.36, 0.22),
                (0.52, 0.45),
                (0.7, 0.68),
                (0.68, 0.9),
                (0.5, 0.98),
                (0.32, 0.9),
                (0.3, 0.7),
                (0.48, 0.45),
                (0.64, 0.24),
                (0.78, 0.06),
            ]
        ],
        # tall and narrow: short arms over a long loop that fills the lower half
        [
            [
                (0.22, 0.04),
                (0.36, 0.2),
                (0.56, 0.46),
                (0.68, 0.72),
                (0.6, 0.94),
                (0.46, 0.96),
                (0.38, 0.78),
                (0.48, 0.5),
                (0.64, 0.24),
                (0.76, 0.04),
            ]
        ],
    ],
    "delta": [
        GREEK["delta"],
        # a bowl at the bottom; the pen leaves it up and away to the upper right
        [
            [
                (0.5, 0.48),
                (0.28, 0.55),
                (0.2, 0.78),
                (0.38, 0.95),
                (0.62, 0.88),
                (0.68, 0.65),
                (0.55, 0.45),
                (0.5, 0.3),
                (0.62, 0.12),
                (0.92, 0.04),
            ]
        ],
        # a flat top drawn right to left, a diagonal down into a round bowl
        [
            [
                (0.78, 0.07),
                (0.5, 0.05),
                (0.28, 0.08),
                (0.34, 0.22),
                (0.6, 0.42),
                (0.76, 0.66),
                (0.66, 0.9),
                (0.44, 0.95),
                (0.26, 0.8),
                (0.3, 0.56),
                (0.54, 0.45),
            ]
        ],
        # the top hook curls to the right before the pen falls into the bowl
        [
            [
                (0.3, 0.1),
                (0.5, 0.02),
                (0.7, 0.1),
                (0.6, 0.28),
                (0.4, 0.42),
                (0.22, 0.65),
                (0.32, 0.92),
                (0.6, 0.95),
                (0.78, 0.72),
                (0.65, 0.48),
                (0.42, 0.42),
            ]
        ],
    ],
    "epsilon": [
        GREEK["epsilon"],  # a reversed 3, the pen turning at a cusp
        # 'ε' in one stroke with a small loop in the middle
        [
            [
                (0.8, 0.18),
                (0.5, 0.08),
                (0.25, 0.2),
                (0.3, 0.42),
                (0.55, 0.5),
                (0.62, 0.44),
                (0.5, 0.42),
                (0.3, 0.52),
                (0.18, 0.72),
                (0.35, 0.92),
                (0.6, 0.95),
                (0.85, 0.85),
            ]
        ],
        # a 'c' with a bar in the middle
        [
            [(0.8, 0.2), (0.5, 0.08), (0.22, 0.3), (0.2, 0.7), (0.5, 0.92), (0.82, 0.8)],
            [(0.2, 0.5), (0.62, 0.5)],
        ],
    ],
    "theta": [
        [
            [
                (0.5, 0.03),
                (0.27, 0.2),
                (0.2, 0.5),
                (0.27, 0.85),
                (0.5, 0.97),
                (0.73, 0.82),
                (0.8, 0.5),
                (0.73, 0.16),
                (0.5, 0.03),
                (0.44, 0.06),
            ],
            [(0.22, 0.5), (0.5, 0.5), (0.78, 0.5)],
        ],
        # round, the bar running out past the oval
        [
            [
                (0.5, 0.03),
                (0.22, 0.2),
                (0.16, 0.5),
                (0.26, 0.85),
                (0.5, 0.97),
                (0.74, 0.82),
                (0.8, 0.5),
                (0.72, 0.16),
                (0.5, 0.03),
            ],
            [(0.04, 0.54), (0.5, 0.5), (0.98, 0.44)],
        ],
        # in one stroke: the bar first, then round the oval
        [
            [
                (0.3, 0.55),
                (0.5, 0.5),
                (0.72, 0.45),
                (0.68, 0.12),
                (0.5, 0.03),
                (0.32, 0.2),
                (0.28, 0.6),
                (0.34, 0.92),
                (0.52, 0.97),
                (0.7, 0.75),
                (0.72, 0.45),
            ]
        ],
    ],
    "lambda": [
        [
            [(0.18, 0.03), (0.35, 0.1), (0.55, 0.5), (0.75, 0.9), (0.9, 0.97)],
            [(0.5, 0.42), (0.3, 0.7), (0.1, 0.97)],
        ],
        [[(0.2, 0.03), (0.52, 0.5), (0.85, 0.97)], [(0.52, 0.48), (0.3, 0.72), (0.12, 0.97)]],
        # the long stroke starts with a hook at the top and bows as it falls to the right
        [
            [(0.14, 0.1), (0.3, 0.03), (0.45, 0.16), (0.58, 0.5), (0.72, 0.86), (0.88, 0.94)],
            [(0.54, 0.42), (0.34, 0.64), (0.16, 0.94)],
        ],
        # like a reversed 'J' with a leg: the top bends over to the right and falls almost
        # upright, the short leg drawn out to the lower left
        [
            [(0.22, 0.08), (0.48, 0.03), (0.62, 0.2), (0.66, 0.55), (0.72, 0.95)],
            [(0.64, 0.46), (0.42, 0.6), (0.22, 0.92)],
        ],
    ],
    "pi": [
        [
            [(0.05, 0.22), (0.5, 0.18), (0.95, 0.2)],
            [(0.32, 0.2), (0.3, 0.6), (0.26, 0.95)],
            [(0.68, 0.2), (0.7, 0.6), (0.8, 0.92), (0.9, 0.9)],
        ],
        # the bar starts with a curl and the legs are straight
        [
            [(0.05, 0.32), (0.15, 0.2), (0.5, 0.2), (0.95, 0.16)],
            [(0.35, 0.2), (0.33, 0.95)],
            [(0.7, 0.18), (0.72, 0.95)],
        ],
        # in one stroke, like a Cyrillic 'п': up the left leg, along the bar, down the right leg
        [
            [(0.2, 0.95), (0.21, 0.5), (0.22, 0.2)],
            [(0.22, 0.2), (0.5, 0.17), (0.8, 0.2)],
            [(0.8, 0.2), (0.8, 0.55), (0.82, 0.95)],
        ],
        # a rounded arch, like an 'n' whose hump is flattened
        [
            [
                (0.18, 0.95),
                (0.18, 0.5),
                (0.24, 0.25),
                (0.5, 0.16),
                (0.76, 0.25),
                (0.82, 0.5),
                (0.82, 0.95),
            ]
        ],
    ],
    "sigma": [
        [
            [
                (0.95, 0.22),
                (0.6, 0.22),
                (0.3, 0.3),
                (0.15, 0.6),
                (0.3, 0.9),
                (0.58, 0.9),
                (0.75, 0.65),
                (0.65, 0.35),
                (0.5, 0.26),
            ]
        ],
        # the round body first, the bar added as a stroke of its own
        [
            [
                (0.55, 0.25),
                (0.25, 0.35),
                (0.15, 0.65),
                (0.35, 0.92),
                (0.62, 0.88),
                (0.72, 0.6),
                (0.6, 0.3),
                (0.45, 0.25),
            ],
            [(0.45, 0.25), (0.95, 0.22)],
        ],
    ],
    # The letters below are written by pen as the forms' writers vary them; a writer who has none
    # of them for a letter prints it (tools/print_hand.py).
    "eta": [
        # like an 'n' whose right leg runs on below the baseline
        [
            [(0.12, 0.3), (0.22, 0.22), (0.28, 0.35), (0.28, 0.7)],
            [(0.28, 0.5), (0.42, 0.3), (0.6, 0.26), (0.72, 0.4), (0.72, 0.75), (0.72, 1.0)],
        ],
        # an 'n' in one stroke, the right leg longer than the left: down, back up, over the hump
        [
            [
                (0.22, 0.25),
                (0.24, 0.72),
                (0.26, 0.45),
                (0.42, 0.28),
                (0.62, 0.3),
                (0.72, 0.5),
                (0.74, 0.95),
            ]
        ],
    ],
    "iota": [
        [[(0.5, 0.1), (0.47, 0.55), (0.5, 0.85), (0.68, 0.9)]],  # a stroke with a hook at the foot
        [[(0.52, 0.08), (0.48, 0.92)]],  # a plain upright stroke
    ],
    "kappa": [
        [[(0.3, 0.18), (0.3, 0.92)], [(0.78, 0.2), (0.33, 0.56), (0.8, 0.92)]],  # small, like 'κ'
        [[(0.28, 0.0), (0.28, 0.95)], [(0.75, 0.35), (0.3, 0.65)], [(0.45, 0.55), (0.8, 0.95)]],
    ],
    "mu": [
        # the stem from below the baseline, a bowl, the right stroke with a small tail
        [
            [(0.3, 1.0), (0.3, 0.2)],
            [(0.3, 0.6), (0.4, 0.76), (0.54, 0.72), (0.64, 0.5), (0.64, 0.2)],
            [(0.64, 0.2), (0.66, 0.7), (0.76, 0.8)],
        ],
        # in one stroke: down the stem, back up, round the bowl, up and down the right stroke
        [
            [
                (0.28, 0.95),
                (0.32, 0.25),
                (0.36, 0.68),
                (0.52, 0.74),
                (0.64, 0.42),
                (0.68, 0.2),
                (0.7, 0.8),
            ]
        ],
        # a tall stem the letter's full height, the bowl small and high on its right
        [
            [(0.36, 0.03), (0.34, 0.5), (0.32, 1.0)],
            [(0.35, 0.36), (0.42, 0.54), (0.54, 0.54), (0.62, 0.38), (0.63, 0.18)],
            [(0.63, 0.18), (0.64, 0.48), (0.72, 0.56)],
        ],
        # like an 'r' with a small hump: the right stroke is short and ends on the bowl
        [
            [(0.38, 0.1), (0.36, 0.55), (0.34, 1.0)],
            [(0.37, 0.5), (0.5, 0.58), (0.62, 0.46), (0.64, 0.24)],
        ],
    ],
    "nu": [
        [[(0.15, 0.2), (0.5, 0.88), (0.85, 0.2)]],  # a 'v'
        [[(0.12, 0.25), (0.28, 0.2), (0.45, 0.85), (0.7, 0.55), (0.82, 0.15)]],  # the right curved
        # a hook into the left arm, a round bottom, the right arm curving up
        [
            [
                (0.1, 0.3),
                (0.2, 0.18),
                (0.3, 0.35),
                (0.42, 0.82),
                (0.62, 0.72),
                (0.82, 0.4),
                (0.8, 0.15),
            ]
        ],
    ],
    "xi": [
        # a bar over a '3': the curls bulge to the right, the tail hooks back below
        [
            [(0.25, 0.05), (0.72, 0.05)],
            [(0.3, 0.18), (0.62, 0.2), (0.66, 0.34), (0.42, 0.44)],
            [(0.42, 0.44), (0.7, 0.54), (0.72, 0.76), (0.45, 0.86), (0.52, 1.0)],
        ],
        # like a 'Z' whose foot is a round bowl: the bar, a diagonal to the middle, a bulge to
        # the right
        [
            [
                (0.26, 0.06),
                (0.72, 0.05),
                (0.4, 0.42),
                (0.66, 0.5),
                (0.74, 0.72),
                (0.56, 0.9),
                (0.3, 0.86),
            ]
        ],
        # like a '5': the bar, a short stem down, a bowl bulging to the right, a hook below
        [
            [(0.3, 0.05), (0.72, 0.05)],
            [
                (0.34, 0.06),
                (0.32, 0.38),
                (0.56, 0.42),
                (0.72, 0.6),
                (0.64, 0.84),
                (0.42, 0.9),
                (0.5, 1.0),
            ],
        ],
    ],
    "omicron": [
        [
            [
                (0.55, 0.2),
                (0.25, 0.3),
                (0.2, 0.65),
                (0.45, 0.88),
                (0.75, 0.72),
                (0.75, 0.35),
                (0.5, 0.2),
            ]
        ],
    ],
    "phi": [
        # a round bowl crossed by a long upright stroke
        [
            [(0.5, 0.0), (0.5, 1.0)],
            [
                (0.5, 0.28),
                (0.22, 0.38),
                (0.2, 0.6),
                (0.5, 0.72),
                (0.8, 0.6),
                (0.78, 0.38),
                (0.5, 0.28),
            ],
        ],
        # the open 'φ': a left hook, a loop on the right, the stem through them
        [
            [(0.25, 0.3), (0.18, 0.55), (0.4, 0.72), (0.75, 0.6), (0.72, 0.3), (0.5, 0.35)],
            [(0.52, 0.1), (0.48, 1.0)],
        ],
    ],
    "omega": [
        [
            [(0.22, 0.28), (0.1, 0.6), (0.25, 0.85), (0.42, 0.78), (0.5, 0.55)],
            [(0.5, 0.55), (0.58, 0.8), (0.75, 0.85), (0.9, 0.6), (0.78, 0.28)],
        ],
        [
            [
                (0.15, 0.3),
                (0.2, 0.75),
                (0.38, 0.82),
                (0.5, 0.5),
                (0.62, 0.82),
                (0.8, 0.75),
                (0.85, 0.3),
            ]
        ],
    ],
    "zeta": [
        [
            [
                (0.3, 0.05),
                (0.7, 0.05),
                (0.35, 0.35),
                (0.25, 0.65),
                (0.45, 0.8),
                (0.65, 0.85),
                (0.6, 1.0),
            ]
        ],
    ],
    "rho": [
        [
            [
                (0.3, 1.0),
                (0.3, 0.45),
                (0.45, 0.25),
                (0.65, 0.3),
                (0.7, 0.5),
                (0.55, 0.7),
                (0.32, 0.65),
            ]
        ],
    ],
    "tau": [
        [[(0.1, 0.25), (0.9, 0.22)], [(0.5, 0.23), (0.48, 0.8), (0.62, 0.88)]],
    ],
    "upsilon": [
        [[(0.2, 0.25), (0.22, 0.65), (0.4, 0.85), (0.65, 0.8), (0.8, 0.5), (0.78, 0.25)]],
    ],
    "chi": [
        [[(0.15, 0.2), (0.3, 0.25), (0.7, 0.9), (0.85, 0.95)], [(0.8, 0.2), (0.2, 0.95)]],
    ],
    "psi": [
        [
            [(0.2, 0.25), (0.22, 0.55), (0.5, 0.7), (0.78, 0.55), (0.8, 0.25)],
            [(0.5, 0.05), (0.5, 1.0)],
        ],
    ],
}


def catmull_rom(points, per_segment=24):
    """Dense points of a smooth curve through `points` (n, 2)."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) < 2:
        return p
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])  # mirror the ends
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * (
                (2 * p1)
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
            )
        )
    out.append(p[-2][None])
    return np.vstack(out)


def paper(rng, height, width):
    """An RGB float image of off-white paper under uneven light, with fibre-like noise."""
    tint = np.array([0.93, 0.91, 0.86]) + rng.uniform(-0.04, 0.04, 3)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    gx, gy = rng.uniform(-0.25, 0.25, 2)
    cx, cy = rng.uniform(0.2, 0.8, 2)
    light = 1 + gx * (xx - 0.5) + gy * (yy - 0.5) - 0.35 * ((xx - cx) ** 2 + (yy - cy) ** 2)
    fibres = (
        cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3) * 0.02
    )
    return np.clip(tint[None, None, :] * (light + fibres)[..., None], 0, 1)


STYLE = {
    "slant": (-0.3, 0.2),
    "rotation": 8.0,
    "size": (0.8, 1.1),
    "aspect": (0.8, 1.1),
    "offset": 0.08,
    "jitter": 0.022,
    "width_range": (0.018, 0.045),
}


def pen_coverage(
    strokes,
    rng,
    height,
    width,
    stroke_width=None,
    box=0.62,
    *,
    slant=STYLE["slant"],
    rotation=STYLE["rotation"],
    size=STYLE["size"],
    aspect=STYLE["aspect"],
    offset=STYLE["offset"],
    jitter=STYLE["jitter"],
    width_range=STYLE["width_range"],
):
    """Ink coverage of one glyph drawn by hand: float32 (height, width) in [0, 1], anti-aliased.

    The keyword-only arguments are a hand's style, each the range a sample's value is drawn
    from: `slant` (shear; > 0 leans left), `rotation` (+- degrees), `size` (times `box`),
    `aspect` (width / height), `offset` (+- centre shift, fraction of the image), `jitter`
    (std of each control point, unit box) and `width_range` (pen width, fraction of the
    image's shorter side when `stroke_width`, in pixels, is not given).
    """
    ss = 4  # draw at 4x and shrink: anti-aliased edges like a camera's
    canvas = np.zeros((height * ss, width * ss), np.float32)  # ink coverage
    slant = rng.uniform(*slant)
    angle = np.radians(rng.uniform(-rotation, rotation))
    size = min(height, width) * box * rng.uniform(*size)
    aspect = rng.uniform(*aspect)
    centre = np.array([width, height]) * (0.5 + rng.uniform(-offset, offset, 2))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[aspect, slant], [0, 1]])
    transform = rot @ shear * size
    width_px = (stroke_width or rng.uniform(*width_range) * min(height, width)) * ss
    wobble = rng.normal(0, 0.025, (1, 2))  # the whole glyph drifts a little, stroke to stroke
    for stroke in strokes:
        pts = np.asarray(stroke, float) + rng.normal(0, jitter, (len(stroke), 2)) + wobble
        curve = catmull_rom(pts)
        xy = ((curve - 0.5) @ transform.T + centre) * ss
        # Pen pressure: thinner where the stroke starts and ends, varying along it.
        n = len(xy)
        pressure = (
            0.75
            + 0.25 * np.sin(np.linspace(0, np.pi, n))
            + rng.normal(0, 0.05) * np.linspace(-1, 1, n)
        )
        for (x0, y0), (x1, y1), pr in zip(xy[:-1], xy[1:], pressure):
            thick = max(1, round(width_px * pr))
            cv2.line(
                canvas,
                (round(x0), round(y0)),
                (round(x1), round(y1)),
                1.0,
                thick,
                lineType=cv2.LINE_AA,
            )
    coverage = cv2.resize(np.clip(canvas, 0, 1), (width, height), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(coverage, (0, 0), 0.6)  # slight defocus


def on_paper(coverage, rng, ink=None, noise=0.012):
    """Ink `coverage` (H, W) on photographed paper: RGB uint8, with sensor noise of std `noise`."""
    ink = np.asarray(
        ink
        if ink is not None
        else rng.choice([(0.1, 0.1, 0.12), (0.08, 0.12, 0.35), (0.15, 0.15, 0.15)]),
        float,
    )
    img = paper(rng, *coverage.shape)
    img = img * (1 - coverage[..., None]) + ink[None, None, :] * coverage[..., None]
    img += rng.normal(0, noise, img.shape)  # sensor noise
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def render(
    strokes,
    rng,
    height=280,
    width=280,
    ink=None,
    stroke_width=None,
    box=0.62,
    *,
    noise=0.012,
    **style,
):
    """Draw one glyph by hand on paper (`pen_coverage`, then `on_paper`).

    Returns RGB uint8 (height, width, 3), dark ink on light paper.  `style` takes pen_coverage's
    keyword-only arguments.
    """
    coverage = pen_coverage(strokes, rng, height, width, stroke_width, box, **style)
    return on_paper(coverage, rng, ink, noise)
