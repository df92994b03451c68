"""Greek letter images for Task 3: the course's GreekTransform and letter folders loaded as tensors.

A letter folder is in ImageFolder layout, one sub-folder of images per letter
(`greek_train/alpha/*.png`); the class order is the sorted folder names, as ImageFolder's.
"""
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from datasets import STATS
from errors import DataError
from images import is_image_file, read_gray


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
        img = TF.affine(img, angle=0.0, translate=[0, 0], scale=self.shrunk / self.side, shear=[0.0])
        img = TF.center_crop(img, [self.crop, self.crop])
        return TF.invert(img)


def greek_transform():
    """GreekTransform, ToTensor and MNIST's Normalize: a letter image -> float (1, 28, 28)."""
    from torchvision import transforms
    return transforms.Compose([GreekTransform(), transforms.ToTensor(), transforms.Normalize(*STATS["MNIST"])])


def load_letter_image(path):
    """An image file as a PIL greyscale image (any mode; EXIF-rotated; transparency filled with paper)."""
    return Image.fromarray((read_gray(path) * 255).round().astype(np.uint8), mode="L")


def letter_to_input(path, transform=None):
    """One letter image file -> the network's normalised input (1, 28, 28)."""
    return (transform or greek_transform())(load_letter_image(path))


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
        raise DataError(f"{folder} has no folder for {', '.join(missing)} (it has: {', '.join(found) or 'none'})")
    return sorted(set(letters))


def load_letter_folder(folder, classes):
    """An ImageFolder of letter images, transformed with greek_transform, as tensors in memory.

    Returns (x float (N, 1, 28, 28), y int64 (N,), file paths); y indexes `classes`.
    """
    from torchvision.datasets import ImageFolder

    class Letters(ImageFolder):
        def find_classes(self, directory):
            return list(classes), {c: i for i, c in enumerate(classes)}

    try:
        data = Letters(str(folder), transform=greek_transform(), loader=load_letter_image,
                       is_valid_file=is_image_file)
    except FileNotFoundError as e:  # a class folder without images
        raise DataError(f"{folder}: {e}") from None
    xs, ys = zip(*(data[i] for i in range(len(data))))
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64), [Path(p) for p, _ in data.samples]
