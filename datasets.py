"""MNIST and FashionMNIST as whole tensors in memory, normalised, and walked in shuffled batches.

The data of a split are one uint8 tensor; `normalize` does what ToTensor() then
Normalize(mean, std) would do to every image, and `batch_indices` gives exactly the
batches a shuffled DataLoader would, without converting every image through PIL.
"""
import torch

from download import provision
from paths import DATA_DIR

# Normalisation statistics, each dataset its own (mean, std of its training pixels).
STATS = {"MNIST": (0.1307, 0.3081), "FashionMNIST": (0.2860, 0.3530)}

FILES = {  # train split? -> (images, labels)
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_split(name, train, data_dir=DATA_DIR, limit=None):
    """(uint8 images (N, 28, 28), int64 labels (N,)) of one split, read with torchvision's IDX reader."""
    from torchvision.datasets.mnist import read_image_file, read_label_file
    raw = provision(name, data_dir)
    images_file, labels_file = FILES[bool(train)]
    images, labels = read_image_file(str(raw / images_file)), read_label_file(str(raw / labels_file))
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def normalize(images, name):
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), as ToTensor() then Normalize(mean, std) would give."""
    mean, std = STATS[name]
    return ((images.float() / 255.0 - mean) / std).unsqueeze(1)


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
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # the DataLoader iterator's base seed
    order = torch.randperm(n, generator=generator)
    return order.split(batch_size)
