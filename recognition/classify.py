"""Classify a folder of one's own images with a trained network; score it where labels are known.

Used by Task 1 part G (photos of digits) and `task3_greek.py --classify` (letters): each
image file under the folder goes through the task's own preprocessing (`to_input`; for
photos of one handwritten character, `photo_input`, shared by digits and letters), a
file that cannot be read or holds no ink is skipped with one warning line, and a file
whose folder or name gives its class (`images.label_from_path`) is scored.  A photo of a whole
sheet (`classify_sheet`) is cut into its characters by sheet.py and scored by labels given in
reading order.
"""

import warnings

import numpy as np
import torch

from recognition import datasets, sheet
from recognition.errors import DataError, UserError
from recognition.images import image_files, label_from_path, photo_to_mnist, read_rgb
from recognition.training import predict

DIGITS = [str(d) for d in range(10)]


def photo_input(path):
    """A photo of one handwritten character -> the network's normalised input (1, 28, 28).

    The photo goes the way MNIST's digits were made (images.photo_to_mnist), then MNIST's
    normalisation.
    """
    return datasets.normalize(torch.from_numpy(photo_to_mnist(path) * 255.0)[None], "MNIST")[0]


def prepare_files(paths, to_input):
    """(usable paths, their inputs as a list) of `paths`; each unusable one is skipped, warned."""
    usable, inputs = [], []
    for path in paths:
        try:
            inputs.append(to_input(path))
        except UserError as e:  # unreadable, no ink, ...: the rest is still worth using
            warnings.warn(f"skipping {path.name}: {e}")
            continue
        usable.append(path)
    return usable, inputs


def prepare_folder(folder, to_input):
    """(paths, inputs (N, 1, 28, 28)) of the usable images under `folder`, as prepare_files."""
    paths, inputs = prepare_files(image_files(folder), to_input)
    if not paths:
        raise DataError(
            f"no usable images in {folder}: add image files (e.g. 7.png, or beta/1.png)"
        )
    return paths, torch.stack(inputs)


def classify_folder(model, folder, to_input, class_names):
    """Predict every usable image under `folder`.

    Returns (results, x, accuracy):
    results [{file, label, prediction, probability}] with class names (label None where the
    path gives none), x the inputs as the network saw them, accuracy over the labelled
    files (None if there are none).
    """
    paths, x = prepare_folder(folder, to_input)
    device = next(model.parameters()).device
    prob = predict(model, x.to(device)).exp().cpu()
    top, pred = prob.max(1)
    results = [
        {
            "file": str(p.relative_to(folder)),
            "label": label_from_path(p, folder, class_names),
            "prediction": class_names[int(k)],
            "probability": round(float(q), 4),
        }
        for p, k, q in zip(paths, pred, top)
    ]
    return results, x, accuracy(results)


def accuracy(results):
    """Fraction of the labelled results predicted right; None if none is labelled."""
    known = [r for r in results if r["label"] is not None]
    return sum(r["label"] == r["prediction"] for r in known) / len(known) if known else None


def titles_and_colors(results):
    """Per result, a figure title ('7', or '1 (true 7)') and its colour.

    Green: right; red: wrong; black: no label to score it by.
    """
    titles = [
        r["prediction"]
        + (f" (true {r['label']})" if r["label"] not in (None, r["prediction"]) else "")
        for r in results
    ]
    colors = [
        "black" if r["label"] is None else ("green" if r["label"] == r["prediction"] else "red")
        for r in results
    ]
    return titles, colors


def network_classifier(model, to_input=photo_input):
    """sheet.read_sheet's `classify`: characters -> (N, C) probabilities by `model`.

    With the photo pipeline each character's own 28x28 input is used (MNIST-normalised); another
    pipeline (`to_input`, as letters.input_function gives it) reads the character's crop.
    """
    device = next(model.parameters()).device

    def classify(characters):
        return predict(model, sheet_inputs(characters, to_input).to(device)).exp().cpu().numpy()

    return classify


def sheet_inputs(characters, to_input=photo_input):
    """The network's inputs (N, 1, 28, 28) of a sheet's characters, as `network_classifier`."""
    if to_input is photo_input:
        u8 = torch.from_numpy(np.stack([c.input for c in characters]) * 255.0)
        return datasets.normalize(u8, "MNIST")  # (N, 28, 28) -> (N, 1, 28, 28)
    return torch.stack([to_input(c.crop) for c in characters])


def classify_sheet(model, photo, to_input, class_names, labels=None):
    """Read every character on the sheet `photo` (sheet.read_sheet, turned the way `model` reads
    it best) and score it by `labels` (class names in reading order), where given.

    Returns (sheet, results, x, accuracy): results [{row, box, label, prediction, probability}]
    in reading order, x the inputs as the network saw them, accuracy over the labelled characters
    (None without labels).  A count that differs from the labels' is warned of; the first ones are
    scored.
    """
    found = sheet.read_sheet(photo, classify=network_classifier(model, to_input))
    n = len(found.characters)
    if labels is not None and len(labels) != n:
        warnings.warn(f"found {n} characters on {photo}, --labels gives {len(labels)}")
    labels = list(labels or []) + [None] * n
    top, pred = torch.from_numpy(found.probabilities).max(1)
    results = [
        {
            "row": c.row,
            "box": list(c.box),
            "label": label,
            "prediction": class_names[int(k)],
            "probability": round(float(q), 4),
        }
        for c, label, k, q in zip(found.characters, labels, pred, top)
    ]
    return found, results, sheet_inputs(found.characters, to_input), accuracy(results)


def sheet_titles(results):
    """Per character of `classify_sheet`'s results, its title ('7 0.98', '1 0.61 (true 7)') and
    colour, as `titles_and_colors`."""
    titles, colors = titles_and_colors(results)
    titles = [
        f"{r['prediction']} {r['probability']:.2f}" + t[len(r["prediction"]) :]
        for r, t in zip(results, titles)
    ]
    return titles, ["tab:blue" if c == "black" else c for c in colors]


def sheet_figure(photo, found, results, inputs, path, suptitle, show=False):
    """Draw a sheet as `classify_sheet` read it (`found`, `results`, `inputs`) to `path`: the photo
    with each character's box and prediction, and the network's inputs below."""
    # matplotlib only where a figure is drawn: the demo's server reads sheets without it.
    from recognition import plots

    titles, colors = sheet_titles(results)
    plots.sheet_figure(
        np.asarray(read_rgb(photo)),
        [r["box"] for r in results],
        found.size,
        titles,
        datasets.denormalize(inputs),
        path,
        title_colors=colors,
        suptitle=suptitle,
        show=show,
    )


def sheet_line(results, accuracy, photo):
    """One line on a sheet read: its characters row by row, and the score where labelled."""
    rows = {}
    for r in results:
        rows.setdefault(r["row"], []).append(r["prediction"])
    read = " / ".join(" ".join(row) for row in rows.values())
    known = [r for r in results if r["label"] is not None]
    score = (
        ""
        if accuracy is None
        else (f"; {sum(r['label'] == r['prediction'] for r in known)}/{len(known)} correct")
    )
    return f"{photo}: {len(results)} characters in {len(rows)} rows: {read}{score}"
