"""Resumable training: a run saves where it stands as it goes, and a run interrupted carries on.

`fit(model, train, test, recipe, epochs, generator, StateFile(path, settings))` trains as
`training.fit` does (every epoch evaluated on the test and the training set), and:
- saves the run every `every_s` seconds, after each epoch, and on Ctrl-C or SIGTERM, which let
  the batch in hand finish first so that the saved weights are never half-updated;
- carries on from `path` when it holds a run of the same `settings` (whatever decides what is
  computed: the network, the recipe, the epochs, the seed, the data), and refuses, in one line, to
  replace a run of other settings: hours of somebody's training are not dropped because a flag
  changed.
The file holds the weights, the optimiser and its schedule, both random generators (the batches'
and torch's, which draws dropout), the epoch's batch order and the history so far: a resumed run
computes what an uninterrupted one would, bit for bit on a CPU.  It is written atomically, like
every file a run makes.  While a run trains, it holds a lock beside the file (`.train_state.lock`,
through `filelock`): a second run into the same folder stops at once with one line, instead of
training beside the first and overwriting its saves.
"""

import contextlib
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import torch

from recognition import files, training
from recognition.datasets import batch_indices
from recognition.errors import UserError

FORMAT_VERSION = 1
SAVE_EVERY_S = 60.0  # at most this much training is lost to a crash or a kill -9
LOCK_NAME = ".train_state.lock"  # empty; the OS frees it when its run ends, however it ends


@dataclass
class EpochProgress:
    """How far an epoch has got: its batch order, the batches done and their losses, its training
    time so far."""

    order: torch.Tensor  # the epoch's shuffled example indices, cut into batches in that order
    step: int = 0  # batches done
    loss_sum: float = 0.0  # of batch loss x batch size over the batches done
    count: int = 0  # examples done
    log: list = field(default_factory=list)  # [(examples seen in all epochs, batch loss), ...]
    seconds: float = 0.0

    @classmethod
    def shuffled(cls, n, batch_size, generator):
        """A fresh epoch, its batches those training.train_epoch would draw from `generator`."""
        return cls(order=torch.cat(batch_indices(n, batch_size, shuffle=True, generator=generator)))


@dataclass
class Position:
    """Where a run stands: the epoch in hand (1, 2, ...; epochs + 1 when done), how far into it
    (None: not begun), and its wall time so far (where a resumed run starts: that of the sittings
    before)."""

    epoch: int = 1
    progress: EpochProgress = None
    elapsed: float = 0.0


@dataclass
class Run:
    """What training changes as it goes, all of which the state file saves."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object  # the recipe's per-step scheduler, or None
    generator: torch.Generator  # shuffles and augments the batches
    history: dict


def fit(model, train, test, recipe, epochs, generator, state, on_epoch=None, on_step=None):
    """`training.fit(model, train, test, recipe, epochs, generator, on_epoch=on_epoch)`, resumable.

    state: a StateFile, which carries on the run it holds, saves this one as it goes, stops it
    cleanly on Ctrl-C and keeps a second run out of its folder; the history also says in how
    many `sittings` the run was trained.  `on_step(epoch, EpochProgress)` is called after each
    batch (progress within long epochs).
    """
    x, y = train
    optimizer, scheduler = training.make_optimizer(
        model, recipe, training.batches_per_epoch(len(x), recipe), epochs
    )
    run = Run(model, optimizer, scheduler, generator, training.new_history(recipe))
    with state.holding(run) as start:  # the folder's lock held, a saved run loaded into `run`
        started = time.perf_counter() - start.elapsed  # the sittings before count too
        if start.epoch == 1 and start.progress is None:  # a fresh run, not a resumed one
            r = training.epoch_record(model, train, test, 0, None, 0.0, started)
            training.add_record(run.history, r, on_epoch)
        # Ctrl-C from here on stops after the batch in hand, saved; before, it stops at once,
        # as there is nothing to save (a fresh run's first evaluation, say).
        with state.stopping_cleanly():
            for epoch in range(start.epoch, epochs + 1):
                training.set_epoch_lr(optimizer, recipe, epoch)
                if epoch == start.epoch and start.progress is not None:
                    progress = start.progress
                else:
                    progress = EpochProgress.shuffled(len(x), recipe.batch_size, generator)
                for p in train_batches(run, x, y, recipe, epoch, progress):
                    if on_step is not None:
                        on_step(epoch, p)
                    state.after_step(run, Position(epoch, p, time.perf_counter() - started))
                run.history["train_log"].extend(progress.log)
                loss, seconds = progress.loss_sum / progress.count, progress.seconds
                r = training.epoch_record(model, train, test, epoch, loss, seconds, started)
                training.add_record(run.history, r, on_epoch)
                state.after_epoch(run, Position(epoch + 1, None, time.perf_counter() - started))
    return run.history


def train_batches(run, x, y, recipe, epoch, progress):
    """training.train_epoch, batch by batch from where `progress` stands: trains the epoch's
    remaining batches, keeping `progress` up to date and yielding it after each."""
    run.model.train()
    background = x.min().item()  # a normalised blank pixel, what augmentation fills in
    seen_before = len(x) * (epoch - 1)  # examples of the epochs before
    t0, seconds_before = time.perf_counter(), progress.seconds
    for idx in progress.order.split(recipe.batch_size)[progress.step :]:
        xb = x[idx]
        if recipe.augment:
            xb = training.augment_batch(xb, run.generator, background)
        loss = training.train_step(run.model, run.optimizer, xb, y[idx], recipe, run.scheduler)
        if progress.step % training.LOG_EVERY == 0:  # the entries training.train_epoch logs
            progress.log.append((seen_before + progress.count + len(idx), loss))
        progress.step += 1
        progress.loss_sum += loss * len(idx)
        progress.count += len(idx)
        progress.seconds = seconds_before + time.perf_counter() - t0
        yield progress


class StateFile:
    """A run's state file: train while `holding` it (which resumes the run it holds), save the
    run as training goes."""

    def __init__(self, path, settings, every_s=SAVE_EVERY_S):
        self.path, self.every_s = Path(path), every_s
        self.settings = json.loads(json.dumps(settings))  # as it will read back: tuples are lists
        self.stop_requested = False
        self._saved_at = time.monotonic()
        self._lock = filelock.FileLock(self.path.with_name(LOCK_NAME), timeout=0)

    @contextlib.contextmanager
    def holding(self, run):
        """Hold the folder's lock and carry on the saved run (yields its Position); the lock is let
        go when the block ends, however it ends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)  # the lock file goes there
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise UserError(
                f"another run is training into {self.path.parent} right now: wait for it to end, "
                "stop it (Ctrl-C there), or train into another folder (--out-dir)"
            ) from None
        try:
            yield self._resume(run)
        finally:
            self._lock.release()

    def _resume(self, run):
        """Load the saved run into `run` (a Run) and return its Position; a fresh Position if there
        is no saved run of these settings."""
        state = self._read()
        if state is None:
            return Position()
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        if run.scheduler is not None:
            run.scheduler.load_state_dict(state["scheduler"])
        run.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        run.history.clear()
        run.history.update(state["history"], sittings=state["history"].get("sittings", 1) + 1)
        position = _position(state["position"], state["order"])
        print(
            f"resuming the run saved in {self.path}: {_where(position)} "
            "(delete the file to start afresh)",
            flush=True,
        )
        return position

    def after_step(self, run, position):
        """Save if it is time to, or if a stop was asked for; then stop, if it was."""
        if self.stop_requested or time.monotonic() - self._saved_at >= self.every_s:
            self.save(run, position)
        self._stop_if_requested(position)

    def after_epoch(self, run, position):
        self.save(run, position)
        self._stop_if_requested(position)

    def save(self, run, position):
        p = position.progress
        state = {
            "format": FORMAT_VERSION,
            "settings": self.settings,
            "position": {
                "epoch": position.epoch,
                "elapsed": position.elapsed,
                **_progress_numbers(p),
            },
            "order": None if p is None else p.order.cpu(),
            "model": {k: v.detach().cpu() for k, v in run.model.state_dict().items()},
            "optimizer": run.optimizer.state_dict(),
            "scheduler": None if run.scheduler is None else run.scheduler.state_dict(),
            "generator": run.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
            "history": run.history,
        }
        with files.atomic_path(self.path) as tmp:
            torch.save(state, tmp)
        self._saved_at = time.monotonic()

    def remove(self):
        """The run is finished and its model saved: the state file has done its job."""
        self.path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def stopping_cleanly(self):
        """While training, the first Ctrl-C (or SIGTERM) asks for a stop after the batch in hand,
        with the run saved; a second Ctrl-C stops at once.  Signals ignored before (a background
        job's Ctrl-C) stay so."""
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread may handle signals: a worker's run saves on its timer
            return
        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, self._request_stop)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _request_stop(self, signum, frame):
        if self.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt(
                f"stopped at once; {self.path} holds the run as last saved: run the same "
                "command again to carry on from there"
                if self.path.exists()
                else "stopped at once, before the run's first save"
            )
        self.stop_requested = True
        print(
            "\nstopping: the run is saved after the batch in hand (Ctrl-C again stops at once, "
            "keeping the last save, at most a minute old)",
            file=sys.stderr,
            flush=True,
        )

    def _stop_if_requested(self, position):
        if self.stop_requested:  # cli.run prints the message as the run's last line
            raise KeyboardInterrupt(
                f"saved the run in {self.path} at {_where(position)}: "
                "run the same command again to carry on"
            )

    def _read(self):
        """The saved state, if the file holds a run of these settings; None if there is none (or,
        saying so, if it is damaged: nothing in it can be carried on).  A run of other settings
        raises UserError."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            saved = state["settings"] if state.get("format") == FORMAT_VERSION else None
        # A damaged file can fail in any of torch.load's layers (zip, unpickler, tensors): each
        # means the same here, so the one line names the exception rather than listing them.
        except Exception as e:  # noqa: BLE001
            print(
                f"note: {self.path} could not be read ({type(e).__name__}); "
                "starting afresh replaces it"
            )
            return None
        if saved is None:
            raise UserError(
                f"{self.path} holds a run saved by another version of this code, which cannot "
                "carry it on: delete the file to train afresh"
            )
        if saved != self.settings:
            differ = _differences(saved, self.settings)
            raise UserError(
                f"{self.path} holds an unfinished run of other settings ({differ}): run with "
                "those settings to carry it on, delete the file to drop it, or train into another "
                "folder (--out-dir)"
            )
        return state


def _differences(saved, now):
    """'epochs 15 saved, 1 now; recipe' for the settings that differ (values shown where they
    are short)."""

    def one(key):
        a, b = saved.get(key), now.get(key)
        if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
            return key
        return f"{key} {a} saved, {b} now"

    return "; ".join(one(k) for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k))


def _progress_numbers(p):
    if p is None:
        return {"step": None}
    return {
        "step": p.step,
        "loss_sum": p.loss_sum,
        "count": p.count,
        "log": p.log,
        "seconds": p.seconds,
    }


def _position(numbers, order):
    n = dict(numbers)
    epoch, elapsed, step = n.pop("epoch"), n.pop("elapsed"), n.pop("step")
    progress = None if step is None else EpochProgress(order=order, step=step, **n)
    return Position(epoch, progress, elapsed)


def _where(position):
    if position.progress is None:  # saved between epochs, or after the last
        return f"the end of epoch {position.epoch - 1}"
    return f"epoch {position.epoch}, batch {position.progress.step}"
