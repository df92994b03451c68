"""The checkpoint file: the network's plain state_dict, as the report's
`torch.save(network.state_dict(), "model.pth")` writes it, so that the report's own
`network.load_state_dict(torch.load("model.pth"))` reads it, strict and with `weights_only=True`.
What rebuilds the network travels in the same file, in the state_dict's `_metadata`:

    state_dict._metadata["recognition"] = {"format": 2, "arch": "cnn" or "transformer",
        "model_args": {the constructor's arguments}, "class_names": [...] or None,
        **what a task adds}

`_metadata` is the OrderedDict in which `Module.state_dict` records each module's `version` under
its prefix ("", "conv1", ...); `torch.save` keeps it, `torch.load(weights_only=True)` restores it,
and `load_state_dict` looks in it only under the prefixes of the modules it loads, so a key that
names no module is never read there. The values are plain JSON ones: weights_only refuses others.

`read` returns one dict, {"format", "arch", "model_args", "class_names", "state_dict", **extra},
for this format, for format 1 (that dict itself, as earlier versions wrote it) and for a bare
state_dict of another reproduction ("format" 0, "arch" and "model_args" None: models.load_checkpoint
infers them from the weights). Which networks exist and how to build them is models.py's business.
"""

import json
from collections import OrderedDict
from pathlib import Path

import torch

from recognition import files
from recognition.errors import CheckpointError, first_line

FORMAT_VERSION = 2
# The `_metadata` entry of this repository's own record; write refuses a network with a module of
# this name, whose version entry it would take.
METADATA_KEY = "recognition"
REQUIRED = ("arch", "model_args", "state_dict")


def write(path, arch, model_args, state_dict, class_names=None, **extra):
    """Write one checkpoint to `path`; an interrupted save leaves any previous file intact.
    TypeError for an `extra` value that is not plain JSON (a Path, a numpy number, ...)."""
    module_versions = getattr(state_dict, "_metadata", None) or OrderedDict()
    if METADATA_KEY in module_versions:
        raise ValueError(f"the network has a module named {METADATA_KEY!r}, the checkpoint's key")
    record = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "model_args": dict(model_args),
        "class_names": list(class_names) if class_names is not None else None,
        **extra,
    }
    weights = OrderedDict((k, v.detach().cpu()) for k, v in state_dict.items())
    weights._metadata = OrderedDict(module_versions)
    # Through JSON and back: a tuple becomes the list that reading gives back, and a value that
    # torch.load(weights_only=True) would refuse fails here, not when the file is read.
    weights._metadata[METADATA_KEY] = json.loads(json.dumps(record))
    with files.atomic_path(path) as tmp:
        torch.save(weights, tmp)
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
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refused, a truncated file, not a zip, ...
        raise CheckpointError(
            f"{path} is not a readable weights-only checkpoint ({first_line(e)})"
        ) from e
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} is not a checkpoint (it holds a {type(saved).__name__})")
    ckpt = _as_checkpoint(saved)
    missing = [key for key in REQUIRED if ckpt.get("format") != 0 and not ckpt.get(key)]
    if missing:
        raise CheckpointError(
            f"{path} lacks {' and '.join(map(repr, missing))}, which this version needs: "
            f"run `python {made_by}` again, or pass --model FILE"
        )
    return ckpt


def _as_checkpoint(saved):
    """The checkpoint dict of what torch.load gave: a state_dict with or without this repository's
    record in its `_metadata`, or a format-1 dict that holds the state_dict under "state_dict"."""
    if "state_dict" in saved:  # format 1
        return saved
    module_versions = getattr(saved, "_metadata", None) or {}
    record = module_versions.get(METADATA_KEY)
    if not isinstance(record, dict):  # a bare state_dict: its keys are the layers' parameter names
        return {
            "format": 0,
            "arch": None,
            "model_args": None,
            "class_names": None,
            "state_dict": saved,
        }
    # The weights go on without the record: only the modules' versions stay in their _metadata.
    saved._metadata = OrderedDict((k, v) for k, v in module_versions.items() if k != METADATA_KEY)
    return {**record, "state_dict": saved}
