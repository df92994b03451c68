"""Task 4's sweep backends: local worker processes, and Ray (against a local Ray of 2 CPUs
started here and shut down at the end).

Synthetic uint8 data stands in for FashionMNIST (t4.load_raw patched in the driver): Ray's workers
get their data from Ray's object store, so none of these tests needs the dataset.
"""

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ctrl_c_after_first_run

import task4_experiment as t4
from recognition import paths, sweep_backends
from recognition.errors import UsageError

try:
    import ray
except ImportError:  # the local backend's tests still run
    ray = None

# A real Ray: seconds per test.
needs_ray = pytest.mark.skipif(ray is None, reason=f"needs {sweep_backends.RAY_PIN}")

GRID = ["--epochs", "1", "2", "--dropout", "0.3", "0.5", "--hidden", "8", "16", "--threads", "1"]
N_TRAIN, N_TEST = 256, 64


def synthetic_raw(n=N_TRAIN, n_test=N_TEST, seed=0):
    """What load_raw returns, made up: ((uint8 (n, 28, 28), int64 labels), (the same, test))."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n + n_test, 28, 28), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n + n_test,), generator=g)
    return (x[:n], y[:n]), (x[n:], y[n:])


def without_seconds(rows):
    return sorted(tuple((k, v) for k, v in r.items() if k != "elapsed_seconds") for r in rows)


@pytest.fixture(scope="module")
def local_ray():
    """One Ray instance for the module (starting one takes seconds); no Ray process outlives it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    # Ray's workers cannot import this file (tests/ is not on their path): its stand-in runs go
    # by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(t4, "load_raw", lambda *a, **k: synthetic_raw())


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory):
    """The reference: the grid's rows from the local backend, one process, one thread."""
    out = tmp_path_factory.mktemp("local")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(t4, "load_raw", lambda *a, **k: synthetic_raw())
        t4.main(GRID + ["--workers", "1", "--out-dir", str(out)])
    return t4.read_rows(out / t4.CSV_NAME)


# ---- the local backend


def device_of_inputs(inputs, job, device):
    """A stand-in run: the device its data are on, and the one it was told to train on."""
    return job["n"], str(inputs[0][0].device), str(device)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


# Two workers are two processes of their own: seconds, so `slow`.
@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("device", ["meta", pytest.param("cuda", marks=CUDA)])
def test_local_workers_train_on_the_device_they_are_given(workers, device):
    # "meta", a device that is not the CPU, so that a worker which ignored it would show here
    results = []
    sweep_backends.run_local(
        [{"n": k} for k in range(3)],
        synthetic_raw(),
        lambda job, r: results.append(r),
        prepare=t4.to_inputs,
        train=device_of_inputs,
        workers=workers,
        threads=1,
        device=device,
    )
    want = "cuda:0" if device == "cuda" else device
    assert sorted(results) == [(k, want, device) for k in range(3)]


# ---- Ray


@pytest.mark.slow
@needs_ray
def test_ray_gives_the_rows_of_the_local_backend(local_ray, local_rows, fake_data, tmp_path):
    metrics = t4.main(GRID + ["--backend", "ray", "--out-dir", str(tmp_path)])
    rows = t4.read_rows(tmp_path / t4.CSV_NAME)
    assert metrics["backend"] == "ray" and metrics["runs_trained"] == 4 and len(rows) == 8
    assert without_seconds(rows) == without_seconds(local_rows)
    assert len({r["test_loss"] for r in rows}) > 1  # the runs differ, so equal tables say something


def data_sum_and_pid(inputs, job, device):
    """A stand-in run: what the worker got (the sum of its training images) and where it ran."""
    return float(inputs[0][0].sum()), os.getpid()


@pytest.mark.slow
@needs_ray
def test_the_data_is_put_in_the_object_store_once(local_ray, monkeypatch):
    puts = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **k: puts.append(value) or real_put(value, **k))
    raw, results = synthetic_raw(), []
    sweep_backends.run_ray(
        [{"n": k} for k in range(4)],
        raw,
        lambda job, r: results.append(r),
        prepare=t4.to_inputs,
        train=data_sum_and_pid,
        threads=1,
    )
    expected = float(t4.to_inputs(raw, "cpu")[0][0].sum())
    assert len(puts) == 1 and len(results) == 4
    assert all(s == expected for s, _ in results)
    assert os.getpid() not in {pid for _, pid in results}  # they ran in Ray's workers, not here


def killed_on_first_try(inputs, job, device, marker, victim):
    """A run whose worker dies (SIGKILL, as the OOM killer or a lost node would) after one epoch,
    the first time the `victim` job runs; its retry trains normally."""
    if job["hidden"] == victim and not os.path.exists(marker):
        t4.train_job(inputs, {**job, "eval_epochs": (1,)}, device)
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return t4.train_job(inputs, job, device)


@pytest.mark.slow
@needs_ray
def test_a_worker_killed_mid_run_is_retried_without_losing_or_doubling_rows(
    local_ray, local_rows, tmp_path
):
    raw, csv_path, marker = synthetic_raw(), tmp_path / t4.CSV_NAME, tmp_path / "killed"
    grid = t4.Grid.of(epochs=(1, 2), dropouts=(0.3, 0.5), hiddens=(8, 16), seed=1, repeats=1)
    jobs, _ = t4.plan_jobs(grid, "report", (N_TRAIN, N_TEST), set())
    t4.start_csv(csv_path)
    train = functools.partial(killed_on_first_try, marker=str(marker), victim=16)
    t4.run_sweep(
        jobs,
        raw,
        csv_path,
        set(),
        functools.partial(sweep_backends.run_ray, prepare=t4.to_inputs, train=train, threads=1),
    )
    rows = t4.read_rows(csv_path)
    assert marker.exists()  # a worker did die
    assert len(rows) == len({t4.row_key(r) for r in rows}) == 8
    assert without_seconds(rows) == without_seconds(local_rows)


def dies(inputs, job, device):
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
@needs_ray
def test_a_run_whose_worker_dies_past_its_retries_is_one_error_line(local_ray):
    with pytest.raises(UsageError, match="failed on Ray") as e:
        sweep_backends.run_ray(
            [{"n": 1}],
            synthetic_raw(),
            lambda job, r: None,
            prepare=t4.to_inputs,
            train=dies,
            threads=1,
            max_retries=0,
        )
    assert "\n" not in str(e.value)


# ---- Ctrl-C and resume, in a process of its own that starts (and must stop) its own Ray

# Run from tests/, so that `-c` code imports this file (and conftest) as the tests do.
DRIVER = (
    "import sys; from recognition import cli; import task4_experiment as t4, "
    "test_sweep_backends as s; t4.load_raw = lambda *a, **k: s.synthetic_raw(1000); "
    "cli.run(lambda: t4.main(sys.argv[1:]))"
)
CUT_GRID = [
    "--epochs",
    "1",
    "2",
    "--dropout",
    "0.3",
    "0.5",
    "0.7",
    "--hidden",
    "8",
    "16",
    "32",
    "--threads",
    "1",
]


def ray_processes_of(session_pid):
    """Ray's processes (gcs_server, raylet, workers) of the Ray session that the driver of pid
    `session_pid` began."""
    found = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ")
        except OSError:
            continue
        if f"_{session_pid}/" in cmd or f"_{session_pid} " in cmd:
            found.append((int(p), cmd[:120]))
    return found


@pytest.mark.slow
@needs_ray
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
def test_ctrl_c_stops_ray_and_a_resume_gives_the_same_table(local_ray, monkeypatch, tmp_path):
    args = [
        sys.executable,
        "-c",
        DRIVER,
        *CUT_GRID,
        "--backend",
        "ray",
        "--workers",
        "2",
        "--out-dir",
        str(tmp_path),
    ]
    csv_path = tmp_path / t4.CSV_NAME
    proc, err = ctrl_c_after_first_run(args, csv_path, cwd=paths.ROOT / "tests")
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err[-2000:]
    deadline = time.monotonic() + 15
    while ray_processes_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not ray_processes_of(proc.pid), "Ray processes of the interrupted run still alive"
    rows = t4.read_rows(csv_path)
    assert 2 <= len(rows) < 18 and len(rows) % 2 == 0  # whole runs only, each two whole rows
    monkeypatch.setattr(t4, "load_raw", lambda *a, **k: synthetic_raw(1000))
    again = t4.main(CUT_GRID + ["--backend", "ray", "--out-dir", str(tmp_path)])
    assert again["runs_trained"] == 9 - len(rows) // 2
    resumed = t4.read_rows(csv_path)
    assert len(resumed) == len({t4.row_key(r) for r in resumed}) == 18
    reference = tmp_path / "local"
    t4.main(CUT_GRID + ["--workers", "1", "--out-dir", str(reference)])
    assert without_seconds(resumed) == without_seconds(t4.read_rows(reference / t4.CSV_NAME))


# ---- bad input


def test_no_ray_installed_is_one_line_saying_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(
        sys.modules, "ray", None
    )  # what `import ray` meets when Ray is not installed
    with pytest.raises(UsageError, match=f"pip install {sweep_backends.RAY_PIN}"):
        t4.main(
            GRID
            + ["--backend", "ray", "--data-dir", str(tmp_path / "none"), "--out-dir", str(tmp_path)]
        )
    assert not (tmp_path / t4.CSV_NAME).exists()  # refused before any work


def test_the_pin_is_the_one_in_requirements():
    assert sweep_backends.RAY_PIN in (paths.ROOT / "requirements.txt").read_text().split()


@pytest.mark.slow
@needs_ray
def test_an_address_where_no_ray_runs_is_one_error_line_within_30_s(tmp_path):
    t0 = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "task4_experiment.py",
            "--backend",
            "ray",
            "--ray-address",
            "127.0.0.1:1",
            "--out-dir",
            str(tmp_path),
        ],
        check=False,
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - t0 < 30
    assert done.returncode == 2 and done.stderr.startswith(
        "error: no Ray cluster at --ray-address 127.0.0.1:1"
    )
    assert len(done.stderr.strip().splitlines()) == 1
