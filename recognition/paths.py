"""Where things live: the repository root and its default data, output and model locations.

Every path a script uses by default comes from here, relative to this file, never from
the working directory.  The one rule for trained models: a run that trains writes its
model as `model.pth` in its output folder, beside the figures and metrics.json that
describe it; a script that reads a model reads, by default, the one its task's default
run writes (`--model FILE` reads another, `--save FILE` writes elsewhere).
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository, above this package
DATA_DIR = ROOT / "data"
OUT_DIR = ROOT / "outputs"
MODEL_NAME = "model.pth"
# an unfinished training run, beside the model it will make (resumable.py)
TRAIN_STATE_NAME = "train_state.pt"


def out_dir(step):
    """The default output folder of a task run: outputs/<step>/."""
    return OUT_DIR / step


def model_file(step):
    """The model the default run of `step` writes: outputs/<step>/model.pth."""
    return out_dir(step) / MODEL_NAME


MNIST_MODEL = model_file("task1")  # Task 1's network, read by Tasks 2 and 3
# Task 3's alpha/beta/gamma network, read by `task3_greek.py --classify`
GREEK_MODEL = model_file("task3")

# Real people's handwriting, a yardstick kept outside the repository (never trained on, never
# committed): $REAL_HANDWRITING, else ../shared/real_handwriting beside the repository.
REAL_DIR = Path(os.environ.get("REAL_HANDWRITING", ROOT.parent / "shared" / "real_handwriting"))
