"""MNIST and FashionMNIST as whole tensors in memory, normalised, and walked in shuffled batches.

The data of a split are one uint8 tensor; `normalize` does what ToTensor() then
Normalize(mean, std) would do to every image, and `batch_indices` gives exactly the
batches a shuffled DataLoader would, without converting every image through PIL.
"""

from pathlib import Path

import torch

from recognition.download import provision
from recognition.errors import DataError
from recognition.paths import DATA_DIR

# Normalisation statistics, each dataset its own (mean, std of its training pixels).
STATS = {"MNIST": (0.1307, 0.3081), "FashionMNIST": (0.2860, 0.3530)}

FILES = {  # train split? -> (images, labels)
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path, ndim):
    """An IDX file of unsigned bytes (ndim dimensions) -> uint8 tensor, as torchvision reads it.

    Not torchvision's reader: importing torchvision.datasets imports torch._dynamo, about 2 s of
    start-up for each script.  The format is a 4-byte magic number (0x08 = unsigned byte, then the
    number of dimensions), one big-endian int32 per dimension, then the bytes.
    """
    data = Path(path).read_bytes()
    if int.from_bytes(data[:4], "big") != 0x800 + ndim:
        raise DataError(
            f"{path} is not an IDX file of {ndim}-d unsigned bytes; delete it to fetch it again"
        )
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim :]), dtype=torch.uint8).view(shape)


def load_split(name, train, data_dir=DATA_DIR, limit=None):
    """(uint8 images (N, 28, 28), int64 labels (N,)) of one split."""
    raw = provision(name, data_dir)
    images_file, labels_file = FILES[bool(train)]
    images, labels = read_idx(raw / images_file, 3), read_idx(raw / labels_file, 1).long()
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def normalize(images, name):
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), as ToTensor() then Normalize(mean, std) give."""
    mean, std = STATS[name]
    return ((images.float() / 255.0 - mean) / std).unsqueeze(1)


def load_normalized(name, train, data_dir=DATA_DIR, limit=None, device="cpu"):
    """(uint8 images (N, 28, 28), normalised images (N, 1, 28, 28), labels) of one split.

    The normalised images and the labels are on `device`: what every script that trains or
    evaluates on MNIST or FashionMNIST starts from.
    """
    u8, y = load_split(name, train, data_dir, limit)
    return u8, normalize(u8, name).to(device), y.to(device)


def denormalize(x, name="MNIST"):
    """Normalised (N, 1, H, W) -> numpy (N, H, W) in [0, 1], for figures."""
    mean, std = STATS[name]
    return (x[:, 0].detach().cpu() * std + mean).clamp(0, 1).numpy()


def batch_indices(n, batch_size, shuffle=True, generator=None):
    """Index tensors of one epoch's batches, the last possibly short.

    Given the same generator state, these are exactly the batches of
    `DataLoader(dataset, batch_size, shuffle=True, generator=generator)`: its iterator
    first draws one int64 (a base seed for workers), then its sampler a permutation.
    """
    if not shuffle:
        return torch.arange(n).split(batch_size)
    # the DataLoader iterator's base seed
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    order = torch.randperm(n, generator=generator)
    return order.split(batch_size)
