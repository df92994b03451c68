"""The live demo's models, and what a network sees and thinks of one image; the HTTP side is
demo.py.

* `find_models`: the saved models under outputs/*/model.pth (and --model FILE), Net or
  NetTransformer, each with an id, the class names its checkpoint carries and the preprocessing it
  was trained for.
* `analyse`: image bytes -> everything the page shows: the 28x28 input as the network sees it,
  the class probabilities, the network's own maps (`forward_maps`: Net's conv1 and conv2 outputs,
  the transformer's patch embeddings and encoder tokens) and a Grad-CAM map, as a JSON-ready dict.
* `read`: image bytes (a sheet, a camera frame) -> every character found (sheet.py), its box, its
  28x28 input and probabilities, and the quarter turn it was read at, as a JSON-ready dict.

Safe to call from many threads at once: each model is loaded once, put in eval mode and its
parameters frozen; a request never writes to it (no hooks, no `.grad`: see gradcam.py).
"""

import base64
import io
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from models import NetTransformer, load_checkpoint
from recognition import classify, datasets, gradcam, letters, sheet
from recognition.errors import DataError, UserError, first_line
from recognition.paths import MODEL_NAME, OUT_DIR

# Below this top probability the page says "not sure": the other classes together are then at
# least as likely.
NOT_SURE = 0.5
# Refuse images with more pixels than this before decoding them: a small compressed file can hold a
# huge blank image that would take seconds and gigabytes to decode.  A 48-megapixel photo fits.
MAX_PIXELS = 64_000_000
# Of the small arrays sent as JSON numbers: the input and Grad-CAM are drawn in 8-bit grey.
DECIMALS = 3
# Channels of one map sent to the page: all of Net's (10, 20), of Task 1's transformer (64) and of
# the template's (48).
MAX_CHANNELS = 64


@dataclass(frozen=True)
class Entry:
    """One servable model: `id` is what the API and the page call it; `kind` is 'digit' or
    'letter'; `arch` 'cnn' or 'transformer'; `map_titles` what the page calls each map of
    `forward_maps`."""

    id: str
    path: Path
    model: torch.nn.Module
    class_names: tuple
    kind: str
    to_input: Callable
    arch: str
    map_titles: tuple  # ((name, title), ...) in forward_maps' order

    def describe(self):
        return {
            "id": self.id,
            "file": str(self.path),
            "classes": list(self.class_names),
            "input": self.kind,
            "arch": self.arch,
        }


def load_entry(model_id, path):
    """Load the checkpoint at `path` for serving: eval mode, parameters frozen (CheckpointError if
    unusable)."""
    model, ckpt = load_checkpoint(path)
    model.requires_grad_(False)  # no request can accumulate gradients into the shared weights
    names = ckpt.get("class_names") or [str(i) for i in range(model.fc2.out_features)]
    kind = input_kind(ckpt, names)
    return Entry(
        model_id,
        Path(path),
        model,
        tuple(names),
        kind,
        input_function(ckpt, kind),
        ckpt["arch"],
        map_titles(model),
    )


def map_titles(model):
    """((name, title), ...) for each map of `model.forward_maps`, as the page heads them."""
    with torch.inference_mode():
        _, maps = model.forward_maps(torch.zeros(1, 1, 28, 28))
    return tuple((name, map_title(model, name, tuple(m.shape[1:]))) for name, m in maps.items())


def map_title(model, name, shape):
    """How the page heads a map: 'conv1: 10 filters, 24×24 outputs'; for the transformer, what its
    tokens are."""
    channels, height, width = shape
    if isinstance(model, NetTransformer) and name == "patches":
        title = (
            f"patch embeddings: {channels} channels per {model.patch}×{model.patch} patch, "
            f"on their {height}×{width} grid"
        )
    elif isinstance(model, NetTransformer) and name == "encoder":
        # With a CLS token only that token reaches the head, so forward_maps gives the last layer's
        # input.
        where = "the last layer's input" if model.pool == "cls" else "its output"
        title = f"encoder, {where}: {channels} channels per token, on the same grid"
    elif name.startswith("conv"):
        title = f"{name}: {channels} filters, {height}×{width} outputs"
    else:
        title = f"{name}: {channels} channels, {height}×{width}"
    return title + (
        f" (the first {MAX_CHANNELS} of {channels} shown)" if channels > MAX_CHANNELS else ""
    )


def input_kind(ckpt, names):
    """'letter' for a network trained on Greek letters, else 'digit'.

    Task 3 tags its checkpoints; a bare state_dict is a digit network if it has the ten digit
    classes.
    """
    return "letter" if ckpt.get("task") == "task3" or list(names) != classify.DIGITS else "digit"


def input_function(ckpt, kind):
    """The preprocessing the network was trained with: Task 1 part G's photo pipeline for digits;
    for letters, the pipeline its checkpoint names (Task 3 saves it), or the course's GreekTransform
    for a bare state_dict, which records none."""
    if kind == "digit":
        return classify.photo_input
    return letters.input_function(ckpt.get("pipeline", "course"))


def _model_id(path, taken):
    """outputs/task1/model.pth -> 'task1'; another file -> its own name; unique among `taken`."""
    path = Path(path)
    base = path.parent.name if path.name == MODEL_NAME else path.stem
    model_id, n = base or "model", 2
    while model_id in taken:
        model_id, n = f"{base}-{n}", n + 1
    return model_id


def find_models(models_dir=OUT_DIR, model_file=None):
    """(entries by id, default id): every loadable DIR/*/model.pth, plus `model_file`, which is
    the default.

    A file under DIR that does not load (another architecture, a half-copied file) is skipped with a
    warning; `model_file` that does not load is an error, as is finding no model at all.
    """
    entries, default = {}, None
    if model_file is not None:
        entry = load_entry(_model_id(model_file, entries), model_file)
        entries[entry.id], default = entry, entry.id
    for path in sorted(Path(models_dir).glob(f"*/{MODEL_NAME}")):
        if model_file is not None and path.resolve() == Path(model_file).resolve():
            continue
        try:
            entry = load_entry(_model_id(path, entries), path)
        except UserError as e:
            warnings.warn(f"skipping {path}: {e}")
            continue
        entries[entry.id] = entry
    if not entries:
        raise DataError(
            f"no saved models under {models_dir}/*/{MODEL_NAME}: "
            "run `python task1_train_mnist.py` first, or pass --model FILE"
        )
    return entries, default or ("task1" if "task1" in entries else next(iter(entries)))


def check_image(data):
    """DataError unless `data` is an image PIL can read, of at most MAX_PIXELS (only its header is
    read)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except UnidentifiedImageError:
        raise DataError("not an image file (PNG, JPEG, ... as PIL reads)") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"not a readable image ({first_line(e)})") from None
    if width * height > MAX_PIXELS:
        raise DataError(
            f"the image is {width}x{height} pixels; the limit is {MAX_PIXELS // 10**6} megapixels"
        )


def _rounded(t):
    return np.round(np.asarray(t, dtype=np.float64), DECIMALS).tolist()


def _packed(t):
    """A float tensor as base64 of its little-endian float32 bytes in C order: a tenth of the time
    of JSON numbers."""
    return base64.b64encode(np.ascontiguousarray(t, dtype="<f4").tobytes()).decode("ascii")


def analyse(entry, data):
    """Image bytes -> what `entry`'s network sees and thinks, as a JSON-ready dict (DataError for
    a bad image).

    input: 28x28 in [0, 1], white ink on black, as the network sees it; probabilities per class;
    maps: each map of `forward_maps` (Net: conv1 (10, 24, 24), conv2 (20, 8, 8), the raw
    convolution outputs; NetTransformer: patches and encoder (d_model, side, side), its tokens on
    their grid), at most MAX_CHANNELS channels each, as {name, title, shape, data: `_packed`};
    gradcam: 28x28 in [0, 1] for the predicted class; not_sure when the top probability is below
    NOT_SURE.
    """
    t0 = time.perf_counter()
    check_image(data)
    x = entry.to_input(io.BytesIO(data))[None]  # (1, 1, 28, 28), normalised as in training
    log_p, acts, cams = gradcam.explain(entry.model, x)
    prob = log_p.exp()[0]
    top = int(prob.argmax())
    return {
        "model": entry.id,
        "classes": list(entry.class_names),
        "probabilities": _rounded(prob),
        "prediction": entry.class_names[top],
        "top_probability": round(float(prob[top]), DECIMALS),
        "not_sure": bool(prob[top] < NOT_SURE),
        "input": _rounded(datasets.denormalize(x)[0]),
        "maps": [
            {
                "name": name,
                "title": title,
                "shape": list(acts[name][0, :MAX_CHANNELS].shape),
                "data": _packed(acts[name][0, :MAX_CHANNELS]),
            }
            for name, title in entry.map_titles
        ],
        "gradcam": _rounded(cams[0]),
        "analyse_ms": round(1000 * (time.perf_counter() - t0), 2),
    }


def read(entry, data, turn=True):
    """Image bytes -> every character on it as `entry`'s network reads it, as a JSON-ready dict
    (DataError for a bad image or one with no characters).

    rotation: degrees clockwise the image was turned to read it (tried only with `turn`);
    width, height: the image's; characters in reading order, each with its box [x, y, w, h],
    row, input (28x28 as the network sees it), probabilities, prediction, top_probability and
    not_sure.
    """
    t0 = time.perf_counter()
    check_image(data)
    found = sheet.read_sheet(
        io.BytesIO(data),
        classify=classify.network_classifier(entry.model, entry.to_input),
        rotations=sheet.ROTATIONS if turn else (0,),
    )
    inputs = datasets.denormalize(classify.sheet_inputs(found.characters, entry.to_input))
    characters = []
    for c, prob, x in zip(found.characters, found.probabilities, inputs):
        top = int(prob.argmax())
        characters.append(
            {
                "box": list(c.box),
                "row": c.row,
                "prediction": entry.class_names[top],
                "top_probability": round(float(prob[top]), DECIMALS),
                "not_sure": bool(prob[top] < NOT_SURE),
                "probabilities": _rounded(prob),
                "input": _rounded(x),
            }
        )
    return {
        "model": entry.id,
        "classes": list(entry.class_names),
        "rotation": found.rotation,
        "width": found.size[0],
        "height": found.size[1],
        "characters": characters,
        "analyse_ms": round(1000 * (time.perf_counter() - t0), 2),
    }
