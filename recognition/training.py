"""Training and evaluation shared by every script: seeding, device, the one training loop, evaluation.

The data live in memory as one normalised tensor; an epoch walks shuffled index
slices of it (`datasets.batch_indices`), which is what a shuffled DataLoader of the
same batch size does, without converting every image through PIL.  The network
runs in channels-last memory format, which the CPU's convolution and pooling
kernels handle about twice as fast as the default layout for this small net.
"""

import contextlib
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from recognition.datasets import batch_indices

CHANNELS_LAST = torch.channels_last


def set_seed(seed):
    """Seed python, numpy and torch; ask torch for deterministic kernels. Returns a torch.Generator for shuffling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # torch.use_deterministic_algorithms(True) would also import and configure the inductor compiler,
    # 1.6 s of start-up for a compiler this repository never uses; set the same flag directly.
    torch._C._set_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)


def pick_device(name="auto"):
    """'auto' -> cuda, then mps, then cpu; anything else is taken as given (ValueError if unavailable)."""
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


def prepare(model, device):
    """Move a model to `device` in the memory format the training loop feeds it."""
    return model.to(device=device, memory_format=CHANNELS_LAST)


def make_optimizer(model, recipe, steps_per_epoch, epochs):
    """The recipe's optimiser over the parameters that require grad, and its per-step scheduler (or None)."""
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
    """Random affine jitter of a (B, 1, H, W) batch: rotation +-10 deg, scale 0.9-1.1, shift +-2 px."""
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


@dataclass
class EpochProgress:
    """How far an epoch has got: its batch order, the batches done and their losses, its training time so far."""

    order: torch.Tensor  # the epoch's shuffled example indices, cut into batches in that order
    step: int = 0  # batches done
    loss_sum: float = 0.0  # of batch loss x batch size over the batches done
    count: int = 0  # examples done
    log: list = field(default_factory=list)  # [(examples seen in all epochs, batch loss), ...]
    seconds: float = 0.0

    @classmethod
    def shuffled(cls, n, batch_size, generator):
        return cls(order=torch.cat(batch_indices(n, batch_size, shuffle=True, generator=generator)))


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


def train_epoch(
    model,
    optimizer,
    x,
    y,
    recipe,
    generator,
    scheduler=None,
    log_every=10,
    seen=0,
    progress=None,
    after_step=None,
):
    """One pass over (x, y) in shuffled batches. Returns (mean loss, [(examples seen, batch loss), ...]).

    progress: an EpochProgress to carry on from (a resumed run) instead of a new shuffle; it is kept up to
    date, and `after_step(progress)` is called after each batch (to save the run, or stop it).
    """
    model.train()
    background = x.min().item()  # a normalised blank pixel
    p = progress or EpochProgress.shuffled(len(x), recipe.batch_size, generator)
    t0, seconds_before = time.perf_counter(), p.seconds
    for idx in p.order.split(recipe.batch_size)[p.step :]:
        xb = augment_batch(x[idx], generator, background) if recipe.augment else x[idx]
        loss = train_step(model, optimizer, xb, y[idx], recipe, scheduler)
        if p.step % log_every == 0:
            p.log.append((seen + p.count + len(idx), loss))
        p.step, p.loss_sum, p.count = p.step + 1, p.loss_sum + loss * len(idx), p.count + len(idx)
        p.seconds = seconds_before + time.perf_counter() - t0
        if after_step is not None:
            after_step(p)
    return p.loss_sum / p.count, p.log


@torch.inference_mode()
def predict(
    model, x, batch_size=256
):  # measured: 256 beats 1000-5000 on a 2-core CPU (cache-sized batches)
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


@dataclass
class Run:
    """What training changes as it goes, all of which a resumable run saves."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object  # the recipe's per-step scheduler, or None
    generator: torch.Generator  # shuffles and augments the batches
    history: dict


@dataclass
class Position:
    """Where a run stands: the epoch in hand (1, 2, ...; epochs + 1 when done), how far into it (None: not
    begun), and its wall time so far (where a resumed run starts: that of the sittings before)."""

    epoch: int = 1
    progress: EpochProgress = None
    elapsed: float = 0.0


def train_seconds(history):
    """The training time of a `fit` history, evaluations left out: summed over the epochs it records (all of
    them, unless `eval_epochs` left some out)."""
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
    on_step=None,
    saver=None,
):
    """Train `model` on `train` = (x, y) for `epochs` epochs, evaluating on `test` after the epochs listed.

    eval_epochs: the epochs after which to evaluate (0 = before training); default every one,
    0 included.  eval_train: also evaluate on the whole training set in eval mode.
    Returns the history {'recipe', 'train_log': [(examples seen, batch loss), ...], 'epochs': [record, ...]},
    a record per evaluated epoch with the keys:
        epoch, seen (training examples seen so far), train_loss (mean batch loss of that epoch in
        train mode, as the optimiser saw it; None for epoch 0), test_loss, test_accuracy, test_correct,
        train_eval_loss and train_accuracy (with eval_train), train_seconds (training time of that
        epoch alone), elapsed_seconds (wall time since fit began, evaluations included).
    `on_epoch(record)` is called as each record is made (progress lines, checkpoints), and
    `on_step(epoch, EpochProgress)` after each batch (progress within long epochs).
    saver: a train_state.Resumable, which carries on the run it holds, saves this one as it goes, stops it
    cleanly on Ctrl-C and keeps a second run out of its folder; the history then also says in how many
    `sittings` it was trained.
    """
    x, y = train
    eval_epochs = set(range(epochs + 1) if eval_epochs is None else eval_epochs)
    optimizer, scheduler = make_optimizer(
        model, recipe, math.ceil(len(x) / recipe.batch_size), epochs
    )
    run = Run(
        model,
        optimizer,
        scheduler,
        generator,
        {"recipe": asdict(recipe), "train_log": [], "epochs": []},
    )
    # the lock on the run's folder, the saved run carried on, Ctrl-C as a clean stop: all for this block
    session = saver.session(run) if saver is not None else contextlib.nullcontext(Position())
    with session as start:
        t0 = time.perf_counter()

        def elapsed():
            return start.elapsed + time.perf_counter() - t0

        def record(epoch, seen, train_loss, train_seconds):
            r = {"epoch": epoch, "seen": seen, "train_loss": train_loss}
            te = evaluate(model, *test)
            r.update(test_loss=te["loss"], test_accuracy=te["accuracy"], test_correct=te["correct"])
            if eval_train:
                tr = evaluate(model, x, y)
                r.update(train_eval_loss=tr["loss"], train_accuracy=tr["accuracy"])
            r.update(train_seconds=train_seconds, elapsed_seconds=elapsed())
            run.history["epochs"].append(r)
            if on_epoch is not None:
                on_epoch(r)

        if (
            0 in eval_epochs and start.epoch == 1 and start.progress is None
        ):  # a fresh run, not a resumed one
            record(0, 0, None, 0.0)
        for epoch in range(start.epoch, epochs + 1):
            set_epoch_lr(optimizer, recipe, epoch)
            progress = (
                start.progress
                if epoch == start.epoch and start.progress is not None
                else EpochProgress.shuffled(len(x), recipe.batch_size, generator)
            )

            def after_step(p, epoch=epoch):
                if on_step is not None:
                    on_step(epoch, p)
                if saver is not None:
                    saver.after_step(run, Position(epoch, p, elapsed()))

            loss, log = train_epoch(
                model,
                optimizer,
                x,
                y,
                recipe,
                generator,
                scheduler,
                seen=len(x) * (epoch - 1),
                progress=progress,
                after_step=after_step,
            )
            run.history["train_log"].extend(log)
            if epoch in eval_epochs:
                record(epoch, len(x) * epoch, loss, progress.seconds)
            if saver is not None:
                saver.after_epoch(run, Position(epoch + 1, None, elapsed()))
        return run.history
