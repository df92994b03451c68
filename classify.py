"""Classify a folder of one's own images with a trained network, and score it where labels are known.

Used by Task 1 part G (photos of digits) and `task3_greek.py --classify` (letters): each
image file under the folder goes through the task's own preprocessing (`to_input`), a
file that cannot be read or holds no ink is skipped with one warning line, and a file
whose folder or name gives its class (`images.label_from_path`) is scored.
"""
import warnings

import torch

import datasets
import letters
from errors import DataError, UserError
from images import image_files, label_from_path, photo_to_mnist
from training import predict

DIGITS = [str(d) for d in range(10)]


def digit_input(source):
    """A photo of one digit (a path, or a binary file object) -> the network's normalised input (1, 28, 28).

    Task 1 part G's pipeline (images.photo_to_mnist), then MNIST's normalisation.
    """
    return datasets.normalize(torch.from_numpy(photo_to_mnist(source) * 255.0)[None], "MNIST")[0]


def input_kind(ckpt):
    """'letter' for a network trained on Greek letters (Task 3's GreekTransform inputs), else 'digit'.

    Task 3 tags its checkpoints; a bare state_dict is a digit network if it has the ten digit classes.
    """
    names = ckpt.get("class_names") or [str(i) for i in range(ckpt["model_args"]["num_classes"])]
    return "letter" if ckpt.get("task") == "task3" or list(names) != DIGITS else "digit"


def input_function(kind):
    """The preprocessing of an input kind: image (path or file object) -> normalised (1, 28, 28)."""
    if kind == "digit":
        return digit_input
    transform = letters.greek_transform()
    return lambda source: letters.letter_to_input(source, transform)


def prepare_folder(folder, to_input):
    """(paths, inputs (N, 1, 28, 28)) of the usable images under `folder`; unusable ones are skipped, warned."""
    paths, inputs = [], []
    for path in image_files(folder):
        try:
            inputs.append(to_input(path))
        except UserError as e:  # unreadable, no ink, ...: the rest of the folder is still worth classifying
            warnings.warn(f"skipping {path.name}: {e}")
            continue
        paths.append(path)
    if not paths:
        raise DataError(f"no usable images in {folder}: add image files (e.g. 7.png, or beta/1.png)")
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
    results = [{"file": str(p.relative_to(folder)), "label": label_from_path(p, folder, class_names),
                "prediction": class_names[int(k)], "probability": round(float(q), 4)}
               for p, k, q in zip(paths, pred, top)]
    return results, x, accuracy(results)


def accuracy(results):
    """Fraction of the labelled results predicted right; None if none is labelled."""
    known = [r for r in results if r["label"] is not None]
    return sum(r["label"] == r["prediction"] for r in known) / len(known) if known else None


def titles_and_colors(results):
    """Per result, a figure title ('7', or '1 (true 7)') and its colour (green right, red wrong, black unknown)."""
    titles = [r["prediction"] + (f" (true {r['label']})" if r["label"] not in (None, r["prediction"]) else "")
              for r in results]
    colors = ["black" if r["label"] is None else ("green" if r["label"] == r["prediction"] else "red")
              for r in results]
    return titles, colors
