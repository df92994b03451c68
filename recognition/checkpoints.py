"""The checkpoint file: one dict of tensors and plain values, written atomically and read back
with `torch.load(..., weights_only=True)`, which refuses pickles that would run code.

    {"format": 1, "arch": "cnn" or "transformer", "model_args": {the constructor's arguments},
     "class_names": [...] or None, "state_dict": {name: tensor}, **what a task adds}

A bare state_dict, as the report's `torch.save(network.state_dict(), ...)` wrote it, reads as the
same dict with "arch" and "model_args" None: models.load_checkpoint infers them from the weights.
Which networks exist and how to build them is models.py's business, not this module's.
"""

from pathlib import Path

import torch

from recognition import files
from recognition.errors import CheckpointError, first_line

FORMAT_VERSION = 1
REQUIRED = ("arch", "model_args", "state_dict")


def write(path, arch, model_args, state_dict, class_names=None, **extra):
    """Write one checkpoint to `path`; an interrupted save leaves any previous file intact."""
    state = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "model_args": dict(model_args),
        "class_names": list(class_names) if class_names is not None else None,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        **extra,
    }
    with files.atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def read(path, made_by):
    """The checkpoint dict at `path`, or CheckpointError in one line; `made_by` is the script that
    writes such a file, named in the message for a missing one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"no model at {path}: run `python {made_by}` first, or pass --model FILE"
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refused, a truncated file, not a zip, ...
        raise CheckpointError(
            f"{path} is not a readable weights-only checkpoint ({first_line(e)})"
        ) from e
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} is not a checkpoint (it holds a {type(ckpt).__name__})")
    if "state_dict" not in ckpt:  # a bare state_dict: its keys are the layers' parameter names
        return {
            "format": 0,
            "arch": None,
            "model_args": None,
            "class_names": None,
            "state_dict": ckpt,
        }
    missing = [key for key in REQUIRED if not ckpt.get(key)]
    if missing:
        raise CheckpointError(
            f"{path} lacks {' and '.join(map(repr, missing))}, which this version needs: "
            f"run `python {made_by}` again, or pass --model FILE"
        )
    return ckpt
