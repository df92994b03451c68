"""Training and evaluation shared by every script: seeding, the device, an epoch, evaluation.

The data live in memory as one normalised tensor; an epoch walks shuffled index slices of it
(`datasets.batch_indices`), which is what a shuffled DataLoader of the same batch size does,
without converting every image through PIL.  The network runs in channels-last memory format,
which the CPU's convolution and pooling kernels handle about twice as fast as the default
layout for this small net.  A run that must survive Ctrl-C trains through `resumable.fit`.
"""

import math
import os
import random
import time
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F

from recognition.datasets import batch_indices

CHANNELS_LAST = torch.channels_last
LOG_EVERY = 10  # batches between two entries of the training log (the loss curve of Fig 5)
# After each epoch the training set is evaluated on its first 10 000 images, as many as MNIST's
# test set: the whole 60 000 would add a third of an epoch's training time to every epoch.
TRAIN_EVAL_LIMIT = 10_000


def set_seed(seed):
    """Seed python, numpy and torch; ask torch for deterministic kernels.

    Returns a torch.Generator for shuffling and augmenting the batches.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # torch.use_deterministic_algorithms(True) would also import and configure the inductor
    # compiler, 1.6 s of start-up for a compiler this repository never uses; set the flag directly.
    torch._C._set_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)


def pick_device(name="auto"):
    """'auto' -> cuda, then mps, then cpu; anything else as given (ValueError if unavailable)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            "--device mps asked for, but this torch has no MPS support; use --device cpu"
        )
    return device


def usable_cores():
    """The cores this process may use: OMP_NUM_THREADS where it is set (as it sets torch's threads,
    and as reproduce.py sets it for the steps it runs side by side), else the CPU affinity."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def prepare(model, device):
    """Move a model to `device` in the memory format the training loop feeds it."""
    return model.to(device=device, memory_format=CHANNELS_LAST)


def batches_per_epoch(n, recipe):
    """Batches in an epoch of n examples, the last possibly short."""
    return math.ceil(n / recipe.batch_size)


def make_optimizer(model, recipe, steps_per_epoch, epochs):
    """The recipe's optimiser over the parameters that require grad, and its per-step scheduler
    (or None)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.optimizer == "sgd":
        opt = torch.optim.SGD(
            params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    elif recipe.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    else:
        raise ValueError(f"unknown optimizer {recipe.optimizer!r}")
    if recipe.schedule == "constant":
        return opt, None
    if recipe.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=recipe.lr, total_steps=steps_per_epoch * epochs, pct_start=0.2
        )
        return opt, sched
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


def set_epoch_lr(optimizer, recipe, epoch):
    """Apply the recipe's per-epoch decay for epoch `epoch` (1, 2, ...); a no-op for lr_decay 1."""
    if recipe.lr_decay != 1.0:
        for group in optimizer.param_groups:
            group["lr"] = recipe.lr * recipe.lr_decay ** (epoch - 1)


def augment_batch(x, generator, background):
    """Random affine jitter of a (B, 1, H, W) batch: rotation +-10 deg, scale 0.9-1.1, shift
    +-2 px."""
    b = x.shape[0]
    r = torch.rand(b, 4, generator=generator).to(x.device) * 2 - 1  # uniform in [-1, 1]
    angle, scale = r[:, 0] * math.radians(10), 1 + 0.1 * r[:, 1]
    shift = r[:, 2:] * (2.0 * 2 / x.shape[-1])  # 2 px in grid units, where the image spans [-1, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample fills the outside with 0; shift so that 0 is the background value.
    return F.grid_sample(x - background, grid, align_corners=False) + background


def train_step(model, optimizer, xb, yb, recipe, scheduler=None):
    """One optimiser step on the batch (xb, yb); returns its loss."""
    optimizer.zero_grad(set_to_none=True)
    out = model(xb.contiguous(memory_format=CHANNELS_LAST))  # log-probabilities (B, classes)
    if recipe.label_smoothing:
        loss = F.cross_entropy(out, yb, label_smoothing=recipe.label_smoothing)
    else:
        loss = F.nll_loss(out, yb)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.item()


def train_epoch(model, optimizer, x, y, recipe, generator, scheduler=None, log_every=LOG_EVERY):
    """One pass over (x, y) in shuffled batches of the recipe's size; `generator` shuffles and
    augments them.  Returns (mean loss over the examples, [(examples seen, batch loss), ...] for
    every `log_every`-th batch)."""
    model.train()
    background = x.min().item()  # a normalised blank pixel, what augmentation fills in
    loss_sum, seen, log = 0.0, 0, []
    batches = batch_indices(len(x), recipe.batch_size, shuffle=True, generator=generator)
    for i, idx in enumerate(batches):
        xb = augment_batch(x[idx], generator, background) if recipe.augment else x[idx]
        loss = train_step(model, optimizer, xb, y[idx], recipe, scheduler)
        loss_sum, seen = loss_sum + loss * len(idx), seen + len(idx)
        if i % log_every == 0:
            log.append((seen, loss))
    return loss_sum / seen, log


@torch.inference_mode()
def predict(model, x, batch_size=256):  # 256 beat 1000-5000 on a 2-core CPU: cache-sized batches
    """Log-probabilities (N, classes) for normalised images (N, 1, 28, 28), in eval mode."""
    model.eval()
    outs = [
        model(x[i : i + batch_size].contiguous(memory_format=CHANNELS_LAST))
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(outs) if outs else torch.empty(0)


def evaluate(model, x, y, batch_size=256):
    """{'loss': mean NLL, 'accuracy': fraction correct, 'correct': count, 'n': count} on (x, y)."""
    out = predict(model, x, batch_size)
    correct = int((out.argmax(1) == y).sum())
    return {
        "loss": F.nll_loss(out, y).item(),
        "accuracy": correct / len(y),
        "correct": correct,
        "n": len(y),
    }


def new_history(recipe):
    """An empty `fit` history: the recipe, the training log and the evaluated epochs."""
    return {"recipe": asdict(recipe), "train_log": [], "epochs": []}


def epoch_record(model, train, test, epoch, train_loss, train_seconds, started, eval_train=True):
    """The history's record of `epoch`: `model` evaluated on `test` (and `train`), with the epoch's
    mean training loss and training time; `started` is the perf_counter() time the run began at.
    The training set is evaluated on its first TRAIN_EVAL_LIMIT images."""
    r = {"epoch": epoch, "seen": len(train[1]) * epoch, "train_loss": train_loss}
    te = evaluate(model, *test)
    r.update(test_loss=te["loss"], test_accuracy=te["accuracy"], test_correct=te["correct"])
    if eval_train:
        tr = evaluate(model, *(part[:TRAIN_EVAL_LIMIT] for part in train))
        r.update(train_eval_loss=tr["loss"], train_accuracy=tr["accuracy"])
    r.update(train_seconds=train_seconds, elapsed_seconds=time.perf_counter() - started)
    return r


def add_record(history, record, on_epoch=None):
    """Append `record` to the history's epochs, and hand it to `on_epoch` (if given)."""
    history["epochs"].append(record)
    if on_epoch is not None:
        on_epoch(record)


def train_seconds(history):
    """The training time of a `fit` history, evaluations left out: summed over the epochs it
    records (all of them, unless `eval_epochs` left some out)."""
    return sum(r["train_seconds"] for r in history["epochs"])


def fit(
    model,
    train,
    test,
    recipe,
    epochs,
    generator,
    eval_epochs=None,
    eval_train=True,
    on_epoch=None,
):
    """Train `model` on `train` = (x, y) for `epochs` epochs, evaluating on `test` after the
    epochs listed; `generator` shuffles and augments the batches.

    eval_epochs: the epochs after which to evaluate (0 = before training); default every one,
    0 included.  eval_train: also evaluate on the training set (its first TRAIN_EVAL_LIMIT
    images) in eval mode.
    Returns the history {'recipe', 'train_log': [(examples seen, batch loss), ...],
    'epochs': [record, ...]}, a record per evaluated epoch with the keys:
        epoch, seen (training examples seen so far), train_loss (mean batch loss of that epoch in
        train mode, as the optimiser saw it; None for epoch 0), test_loss, test_accuracy,
        test_correct, train_eval_loss and train_accuracy (with eval_train), train_seconds
        (training time of that epoch alone), elapsed_seconds (wall time since fit began,
        evaluations included).
    `on_epoch(record)` is called as each record is made (progress lines, checkpoints).
    """
    x, y = train
    eval_epochs = set(range(epochs + 1) if eval_epochs is None else eval_epochs)
    optimizer, scheduler = make_optimizer(model, recipe, batches_per_epoch(len(x), recipe), epochs)
    history = new_history(recipe)
    started = time.perf_counter()
    if 0 in eval_epochs:  # the untrained network
        r = epoch_record(model, train, test, 0, None, 0.0, started, eval_train)
        add_record(history, r, on_epoch)
    for epoch in range(1, epochs + 1):
        set_epoch_lr(optimizer, recipe, epoch)
        t0 = time.perf_counter()
        loss, log = train_epoch(model, optimizer, x, y, recipe, generator, scheduler)
        seconds = time.perf_counter() - t0
        history["train_log"] += [(len(x) * (epoch - 1) + n, batch_loss) for n, batch_loss in log]
        if epoch in eval_epochs:
            r = epoch_record(model, train, test, epoch, loss, seconds, started, eval_train)
            add_record(history, r, on_epoch)
    return history
