"""The baseline both benchmarks time: the PyTorch MNIST tutorial's pipeline, as the report ran it.

torchvision's dataset with per-image ToTensor() + Normalize(), a shuffled DataLoader of
batch 64, a test DataLoader of batch 1000, the same Net, SGD lr 0.01 momentum 0.5, in
torch's default memory format.
"""

import time

import torch
import torch.nn.functional as F

from models import Net
from recognition.datasets import STATS
from recognition.download import provision


def canonical_epochs(name, data_dir, epochs=1, seed=1):
    """Seconds of each epoch (training + test evaluation) on dataset `name`, and the final test
    accuracy."""
    from torchvision import datasets, transforms

    provision(name, data_dir)
    mean, std = STATS[name]
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    dataset = getattr(datasets, name)
    train = torch.utils.data.DataLoader(
        dataset(str(data_dir), train=True, download=False, transform=tf),
        batch_size=64,
        shuffle=True,
    )
    test = torch.utils.data.DataLoader(
        dataset(str(data_dir), train=False, download=False, transform=tf), batch_size=1000
    )
    torch.manual_seed(seed)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    times, acc = [], 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for x, y in train:
            opt.zero_grad()
            F.nll_loss(model(x), y).backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test:
                correct += int((model(x).argmax(1) == y).sum())
        times.append(time.perf_counter() - t0)
        acc = correct / len(test.dataset)
    return times, acc
