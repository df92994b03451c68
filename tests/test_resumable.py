"""resumable: a run stopped by Ctrl-C, mid-epoch or between epochs, carries on to exactly the
result of training.fit run uninterrupted."""

import os
import signal
import subprocess
import sys

import pytest
import torch

from models import Net
from recognition import recipes, resumable, training
from recognition.errors import UserError

SETTINGS = {"recipe": "adamw-onecycle", "epochs": 3, "seed": 3}

# Each test sends itself SIGINT and expects what a terminal's Ctrl-C does, however pytest started.
pytestmark = pytest.mark.usefixtures("ctrl_c_as_in_a_terminal")


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(300, 1, 28, 28, generator=g), torch.arange(300) % 10


class StopAt(resumable.StateFile):
    """Sends itself a real SIGINT after batch `step` of epoch `epoch` (step 0: at the end of
    epoch - 1)."""

    def __init__(self, path, epoch, step, settings=SETTINGS):
        super().__init__(path, settings)
        self.at = (epoch, step)

    def after_step(self, run, position):
        if (position.epoch, position.progress.step) == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        super().after_step(run, position)

    def after_epoch(self, run, position):
        if (position.epoch, 0) == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        super().after_epoch(run, position)


def _fit(data, state=None, recipe="adamw-onecycle", on_epoch=None):
    """Net trained for 3 epochs with augmentation, one-cycle and dropout: every random generator
    in play.  Without a state file, by training.fit."""
    generator = training.set_seed(3)
    model = training.prepare(Net(), torch.device("cpu"))
    test = (data[0][:100], data[1][:100])
    args = (model, data, test, recipes.RECIPES[recipe], 3, generator)
    if state is None:
        return model, training.fit(*args, on_epoch=on_epoch)
    return model, resumable.fit(*args, state, on_epoch=on_epoch)


def _untimed(history):
    drop = {"train_seconds", "elapsed_seconds"}
    epochs = [{k: v for k, v in r.items() if k not in drop} for r in history["epochs"]]
    return epochs, history["train_log"]


def _same_weights(a, b):
    return all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_an_uninterrupted_run_is_training_fits_run(data, tmp_path):
    expected_model, expected = _fit(data)
    model, history = _fit(data, resumable.StateFile(tmp_path / "train_state.pt", SETTINGS))
    assert _same_weights(model, expected_model) and _untimed(history) == _untimed(expected)
    assert history["recipe"] == expected["recipe"] and history.get("sittings", 1) == 1
    assert list(history["epochs"][1]) == list(expected["epochs"][1])  # the same keys, in order


@pytest.mark.parametrize("epoch, step", [(2, 3), (3, 0), (1, 1), (4, 0)])  # (4, 0): after the last
def test_a_stopped_run_carries_on_to_the_uninterrupted_result(data, tmp_path, epoch, step):
    path = tmp_path / "train_state.pt"
    expected_model, expected = _fit(data)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        _fit(data, StopAt(path, epoch, step))
    assert path.exists() and signal.getsignal(signal.SIGINT) is handler  # Ctrl-C handed back
    model, history = _fit(data, resumable.StateFile(path, SETTINGS))
    for name, value in expected_model.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name
    assert _untimed(history) == _untimed(expected) and history["sittings"] == 2
    assert [r["epoch"] for r in history["epochs"]] == [0, 1, 2, 3]
    elapsed = [r["elapsed_seconds"] for r in history["epochs"]]
    assert elapsed == sorted(elapsed) and all(r["train_seconds"] > 0 for r in history["epochs"][1:])


def test_a_resumed_run_with_another_dropout_generator_ends_elsewhere(data, tmp_path):
    """The negative control: the comparison above sees even the state of the generator that draws
    dropout."""
    path = tmp_path / "train_state.pt"
    expected_model, _ = _fit(data)
    with pytest.raises(KeyboardInterrupt):
        _fit(data, StopAt(path, 2, 3))
    state = torch.load(path, weights_only=True)
    state["torch_rng"] = torch.Generator().manual_seed(99).get_state()
    torch.save(state, path)
    model, _ = _fit(data, resumable.StateFile(path, SETTINGS))
    assert not torch.equal(
        model.state_dict()["fc2.weight"], expected_model.state_dict()["fc2.weight"]
    )


def test_a_second_ctrl_c_stops_at_once_keeping_the_last_save(data, tmp_path):
    path = tmp_path / "train_state.pt"
    expected_model, expected = _fit(data)

    class CtrlCTwice(StopAt):
        def after_step(self, run, position):
            if (position.epoch, position.progress.step) == self.at:
                os.kill(os.getpid(), signal.SIGINT)
            super().after_step(run, position)

    # two Ctrl-Cs: the second comes before the stop's own save
    with pytest.raises(KeyboardInterrupt, match="stopped at once.*holds the run as last saved"):
        _fit(data, CtrlCTwice(path, 2, 3))
    model, history = _fit(data, resumable.StateFile(path, SETTINGS))  # from the end of epoch 1
    assert torch.equal(model.state_dict()["fc2.weight"], expected_model.state_dict()["fc2.weight"])
    assert _untimed(history) == _untimed(expected)


def test_a_ctrl_c_in_a_fresh_runs_first_evaluation_stops_at_once(data, tmp_path):
    """Nothing is trained yet, so nothing waits for a batch: the first Ctrl-C stops there."""
    steps = []

    class Count(resumable.StateFile):
        def after_step(self, run, position):
            steps.append(position.progress.step)
            super().after_step(run, position)

    def ctrl_c_at_epoch_0(record):
        if record["epoch"] == 0:
            os.kill(os.getpid(), signal.SIGINT)

    path = tmp_path / "train_state.pt"
    with pytest.raises(KeyboardInterrupt) as stop:
        _fit(data, Count(path, SETTINGS), on_epoch=ctrl_c_at_epoch_0)
    assert steps == [] and not path.exists() and "saved the run" not in str(stop.value)
    _, history = _fit(data, resumable.StateFile(path, SETTINGS))  # the folder is free again
    assert "sittings" not in history and len(history["epochs"]) == 4  # a fresh run


def test_a_ctrl_c_ignored_before_stays_ignored(data, tmp_path):
    seen = []

    class Watch(resumable.StateFile):
        def after_step(self, run, position):
            seen.append(signal.getsignal(signal.SIGINT))
            super().after_step(run, position)

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a shell's background job
    try:
        _fit(data, Watch(tmp_path / "train_state.pt", SETTINGS))
        assert set(seen) == {signal.SIG_IGN} and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_run_of_other_settings_is_kept_and_named_and_a_damaged_file_starts_afresh(
    data, tmp_path, capsys
):
    path = tmp_path / "train_state.pt"
    with pytest.raises(KeyboardInterrupt):
        _fit(data, StopAt(path, 2, 3))
    saved = path.read_bytes()
    other = {**SETTINGS, "epochs": 5, "recipe": {"lr": 1}}
    with pytest.raises(
        UserError, match=r"other settings \(epochs 3 saved, 5 now; recipe\).*delete the file"
    ):
        _fit(data, resumable.StateFile(path, other))
    assert path.read_bytes() == saved  # hours of training are not dropped because a flag changed
    state = torch.load(path, weights_only=True)
    torch.save({**state, "format": resumable.FORMAT_VERSION + 1}, path)
    with pytest.raises(UserError, match="another version of this code"):
        _fit(data, resumable.StateFile(path, SETTINGS))
    path.write_bytes(b"not a checkpoint")
    _, history = _fit(data, resumable.StateFile(path, SETTINGS))
    assert "could not be read" in capsys.readouterr().out
    assert [r["epoch"] for r in history["epochs"]] == [0, 1, 2, 3]


def test_saves_on_its_timer_and_after_each_epoch(data, tmp_path):
    path = tmp_path / "train_state.pt"
    state = resumable.StateFile(path, SETTINGS, every_s=3600)
    saves = []
    state.save = lambda run, position: saves.append(
        (position.epoch, position.progress and position.progress.step)
    )
    _fit(data, state)
    assert saves == [(2, None), (3, None), (4, None)]  # the timer never came due; each epoch's end
    state = resumable.StateFile(path, SETTINGS, every_s=0.0)
    saves = []
    state.save = lambda run, position: saves.append(position.epoch)
    _fit(data, state)
    assert len(saves) == 3 * 5 + 3  # 5 batches of 64 in each of 3 epochs, and each epoch's end


def test_a_second_run_into_the_same_folder_stops_until_the_first_has_ended(data, tmp_path):
    """Another process holds the folder's lock, as a run training there would: this run stops in
    one line and leaves the saved run alone; once that process has died (no release of its own),
    training goes ahead."""
    path = tmp_path / "train_state.pt"
    with pytest.raises(KeyboardInterrupt):
        _fit(data, StopAt(path, 2, 3))
    saved = path.read_bytes()
    lock = str(tmp_path / resumable.LOCK_NAME)
    hold = (
        f"import filelock, time; lock = filelock.FileLock({lock!r}); lock.acquire(); "
        "print('held', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(
            UserError, match=f"another run is training into {tmp_path} right now.*--out-dir"
        ):
            _fit(data, resumable.StateFile(path, SETTINGS))
        assert path.read_bytes() == saved
    finally:
        holder.kill()
        holder.wait()
    _, history = _fit(data, resumable.StateFile(path, SETTINGS))
    assert history["sittings"] == 2 and [r["epoch"] for r in history["epochs"]] == [0, 1, 2, 3]
