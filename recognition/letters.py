"""Greek letter images for Task 3: the course's GreekTransform and letter folders loaded as tensors.

A letter folder is in ImageFolder layout, one sub-folder of images per letter
(`greek_train/alpha/*.png`); the class order is the sorted folder names, as ImageFolder's.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from recognition.classify import photo_input, prepare_files
from recognition.datasets import STATS
from recognition.errors import CheckpointError, DataError
from recognition.images import image_files, ink_map, read_gray
from recognition.paths import DATA_DIR

# Many writers' stand-in letters: what Task 3 learns from and is tested on by default (other
# writers in the test set); data/greek_train and data/greek_test are the course-sized sets.
TRAIN_DIR = DATA_DIR / "greek_hands_train"
TEST_DIR = DATA_DIR / "greek_hands_test"


class GreekTransform:
    """The course's preprocessing of its 128x128 Greek letter images, as a PIL -> PIL transform.

    grayscale -> affine scale 36/128 (the letter shrinks into the middle 36 px, nearest
    neighbour as torchvision's default) -> centre crop 28x28 -> invert (white ink on black,
    like MNIST).  Follow with ToTensor and Normalize((0.1307,), (0.3081,)): the frozen
    layers expect MNIST's statistics.  An image whose shorter side is not 128 px is first
    resized (antialiased) so that it is, so every size ends at the same relative scale;
    for the course's own images this is exactly the course's transform.
    """

    side, shrunk, crop = 128, 36, 28

    def __call__(self, img):
        from torchvision.transforms import functional as TF

        if img.mode != "L":
            img = TF.rgb_to_grayscale(img.convert("RGB"))
        if min(img.size) != self.side:
            img = TF.resize(img, self.side, antialias=True)  # shorter side -> 128 px
        img = TF.affine(
            img, angle=0.0, translate=[0, 0], scale=self.shrunk / self.side, shear=[0.0]
        )
        img = TF.center_crop(img, [self.crop, self.crop])
        return TF.invert(img)


def greek_transform():
    """GreekTransform, ToTensor and MNIST's Normalize: a letter image -> float (1, 28, 28)."""
    from torchvision import transforms

    return transforms.Compose(
        [GreekTransform(), transforms.ToTensor(), transforms.Normalize(*STATS["MNIST"])]
    )


def load_letter_image(path):
    """An image file as a PIL greyscale image (EXIF-rotated, transparency filled with paper).

    DataError if it cannot be read or holds no ink: such a file teaches or tests nothing.
    """
    gray = read_gray(path)
    ink_map(gray)  # DataError where there is no ink
    return Image.fromarray((gray * 255).round().astype(np.uint8), mode="L")


# How a letter image becomes the network's input.  `course`: the course's GreekTransform, which
# reproduces the report on its 128x128 images.  `photo`: Task 1's photo pipeline (ink found, strokes
# brought to MNIST's width, fit into 20x20 with the aspect kept, centred by mass), for scans,
# screenshots and photos of any size.  Training and test images always go through the same one.
# The first is the default.
PIPELINES = ("photo", "course")


def input_function(pipeline):
    """The path -> (1, 28, 28) function of a pipeline named in PIPELINES."""
    if pipeline == "course":
        transform = greek_transform()
        return lambda path: transform(load_letter_image(path))
    if pipeline == "photo":
        return photo_input
    raise DataError(f"unknown pipeline {pipeline!r} (choose from {', '.join(PIPELINES)})")


def saved_pipeline(ckpt, path):
    """The pipeline a Greek model (a models.load_checkpoint dict, read from `path`) learned through.

    Task 3 saves it in the checkpoint.  A bare state_dict, as the report's
    `torch.save(network.state_dict(), ...)` wrote, holds none: the report's code trained through
    the course's GreekTransform.  Any other checkpoint without one is one CheckpointError.
    """
    if "pipeline" in ckpt:
        return ckpt["pipeline"]
    if ckpt.get("format") == 0:
        return "course"
    raise CheckpointError(
        f"{path} does not say which letter pipeline it learned through (is it a Greek model "
        f"of task3_greek.py?): pass --pipeline {' or '.join(PIPELINES)}"
    )


def letter_classes(folder, letters=None):
    """Sorted class folder names in `folder` (ImageFolder's order), kept to `letters` when given."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no folder {folder}: it should hold one sub-folder of images per letter")
    found = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if letters is None:
        if not found:
            raise DataError(f"{folder} holds no class folders (expected e.g. {folder}/alpha/*.png)")
        return found
    missing = [c for c in letters if c not in found]
    if missing:
        raise DataError(
            f"{folder} has no folder for {', '.join(missing)} "
            f"(it has: {', '.join(found) or 'none'})"
        )
    return sorted(set(letters))


def load_letter_folder(folder, classes, pipeline=PIPELINES[0]):
    """The images of `folder`/<class>/ for each of `classes`, through `pipeline`, as tensors.

    Returns (x float (N, 1, 28, 28), y int64 (N,), file paths); y indexes `classes`.  An unusable
    file is skipped with one warning line; a letter without a usable image is one DataError.
    """
    to_input = input_function(pipeline)
    xs, ys, paths = [], [], []
    for k, name in enumerate(classes):
        usable, inputs = prepare_files(image_files(Path(folder) / name), to_input)
        if not usable:
            raise DataError(
                f"no usable images in {Path(folder) / name} (expected e.g. {name}/1.png)"
            )
        xs += inputs
        ys += [k] * len(usable)
        paths += usable
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64), paths
