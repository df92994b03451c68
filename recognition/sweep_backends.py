"""Where a sweep's runs execute: worker processes of this machine, or Ray tasks on a cluster.

Both backends take the same arguments and call `on_done(job, result)` in the calling process as
each run ends, so the caller alone writes the results (Ray's workers need no shared file system):

    run_local(jobs, raw, on_done, prepare, train, workers=2, threads=1, device="cpu")
    run_ray(jobs, raw, on_done, prepare, train, threads=1, address=None, cpus=2, device="cpu")

`raw` is the data as uint8 tensors; each worker turns it into inputs on the device once with
`prepare(raw, device)`, and each job runs as `train(inputs, job, device)`.  `prepare` and `train`
must be module-level functions, so that they pickle by name.  Ray is imported only by run_ray:
the local backend needs no Ray.
"""

import multiprocessing
import os
import signal
import socket

import torch

from recognition import paths
from recognition.errors import UsageError, first_line

RAY_PIN = "ray==2.60.0"  # the version requirements.txt pins
# Ray reports usage to its makers and starts a dashboard unless told not to; a sweep needs neither.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
CONNECT_TIMEOUT_S = 10  # how long the head may take to answer before --ray-address counts as wrong
MAX_RETRIES = 3  # how often Ray reruns a run whose worker or node died
# What a cluster's other nodes need not get of this repository (Ray ships the rest as the code).
SHIP_EXCLUDES = [".git", ".venv", "data", "outputs", "__pycache__", ".pytest_cache", "*.pth"]


# ---- local worker processes

# Filled once per worker process by _worker_init, so that each job does not prepare the data again.
_WORKER = {}


def _worker_init(raw, prepare, train, threads, device):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops the pool
    torch.set_num_threads(threads)
    _WORKER.update(inputs=prepare(raw, device), train=train, device=device)


def _worker_run(job):
    return job, _WORKER["train"](_WORKER["inputs"], job, _WORKER["device"])


def run_local(jobs, raw, on_done, prepare, train, workers, threads, device="cpu"):
    """Run every job on `device` and call on_done(job, result) in this process as each ends.

    workers=1 runs the jobs in this process; otherwise a pool of processes, which get `raw`
    through shared memory, each training on `device`.  They are spawned, not forked: a fork of a
    process that has started CUDA cannot use CUDA, while each spawned worker starts its own CUDA
    context (so each takes GPU memory of its own).  On Ctrl-C or an error the pool is stopped at
    once (terminated), so no worker outlives the run.
    """
    if workers == 1:
        torch.set_num_threads(threads)
        inputs = prepare(raw, device)
        for job in jobs:
            on_done(job, train(inputs, job, device))
        return
    pool = multiprocessing.get_context("spawn").Pool(
        workers, initializer=_worker_init, initargs=(raw, prepare, train, threads, device)
    )
    try:
        for job, result in pool.imap_unordered(_worker_run, jobs):
            on_done(job, result)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


# ---- Ray


def import_ray():
    """The ray module, or a one-line UsageError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--backend ray needs Ray: pip install {RAY_PIN}") from None
    return ray


def check_ray(address=None):
    """Before any work: a one-line UsageError if Ray is missing or nothing answers at `address`."""
    import_ray()
    if address is not None:
        check_reachable(address)


def _ray_run(raw, prepare, train, threads, device, job):
    """One run inside a Ray worker; `raw` arrives from the object store as numpy arrays."""
    torch.set_num_threads(threads)
    # torch.tensor copies: what the object store hands out is read-only
    inputs = prepare(tuple((torch.tensor(x), torch.tensor(y)) for x, y in raw), device)
    return train(inputs, job, device)


def check_reachable(address):
    """A one-line UsageError unless something answers at a 'host:port' address within
    CONNECT_TIMEOUT_S (ray.init would wait for it for ever); 'auto' is left to Ray, which fails at
    once when it finds none."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection(
            (host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S
        ).close()
    except ValueError:
        raise UsageError(
            f"--ray-address {address}: expected 'auto' or HOST:PORT, e.g. 10.0.0.5:6379"
        ) from None
    except OSError as e:
        raise UsageError(
            f"no Ray cluster at --ray-address {address}: {e.strerror or first_line(e)}"
        ) from None


def start_ray(ray, address=None, cpus=None):
    """Join the cluster at `address` ('auto': the one on this machine), or with no address start a
    Ray instance of `cpus` CPUs here; returns whether this call started or joined it (and so must
    shut it down).  A Ray already initialised in this process (a test's, say) is used as it is."""
    if ray.is_initialized():
        return False
    options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is None:
        ray.init(num_cpus=cpus, **options)
        return True
    check_reachable(address)
    # The code goes along, so the other nodes need only the same Python packages, not this folder.
    try:
        ray.init(
            address=address,
            runtime_env={"working_dir": str(paths.ROOT), "excludes": SHIP_EXCLUDES},
            **{k: v for k, v in options.items() if k != "include_dashboard"},
        )
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as e:
        raise UsageError(f"no Ray cluster at --ray-address {address}: {first_line(e)}") from None
    return True


def _on_cuda(device):
    return str(device).startswith("cuda")


def submit(
    ray,
    jobs,
    raw_ref,
    prepare,
    train,
    threads,
    device="cpu",
    gpus_per_run=0.0,
    max_retries=MAX_RETRIES,
):
    """{ObjectRef: job} of one Ray task per job, each asking for `threads` CPUs (and a GPU share
    on cuda)."""
    task = ray.remote(_ray_run).options(
        num_cpus=threads,
        num_gpus=gpus_per_run if _on_cuda(device) else 0,
        max_retries=max_retries,
        retry_exceptions=False,
    )
    return {task.remote(raw_ref, prepare, train, threads, str(device), job): job for job in jobs}


def _why(error):
    """One line for a Ray error: the run's own exception where it raised one (Ray's text wraps it
    in a traceback), else Ray's first line (a worker that died, a node lost)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {first_line(cause)}"
    return first_line(error)


def collect(ray, pending, on_done):
    """Call on_done(job, result) as each task ends, in the order they end; a run that failed for
    good (its error, or its worker dead more often than its retries) becomes one UsageError line."""
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        job = pending.pop(ref)
        try:
            result = ray.get(ref)
        except ray.exceptions.RayError as e:
            raise UsageError(f"run {job} failed on Ray: {_why(e)}") from None
        on_done(job, result)


def run_ray(
    jobs,
    raw,
    on_done,
    prepare,
    train,
    threads,
    address=None,
    cpus=None,
    device="cpu",
    gpus_per_run=0.0,
    max_retries=MAX_RETRIES,
):
    """Run every job as one Ray task on `device` and call on_done(job, result) in this process as
    each ends.

    The data goes into Ray's object store once; every task gets a reference to it.  A task whose
    worker (or node) dies is rerun, up to `max_retries` times.  On Ctrl-C or an error the tasks
    still running are left to Ray: a driver that leaves (ray.shutdown) ends its job, and Ray stops
    that job's workers on every node; a Ray instance this call started is shut down with them.
    """
    ray = import_ray()
    owned = start_ray(ray, address, cpus)
    try:
        if _on_cuda(device) and ray.cluster_resources().get("GPU", 0) < gpus_per_run:
            resources = ray.cluster_resources()
            raise UsageError(
                f"--device {device}: the Ray cluster has no GPU (resources: {resources})"
            )
        raw_ref = ray.put(tuple((x.numpy(), y.numpy()) for x, y in raw))
        pending = submit(
            ray, jobs, raw_ref, prepare, train, threads, device, gpus_per_run, max_retries
        )
        collect(ray, pending, on_done)
    finally:
        if owned:
            ray.shutdown()
