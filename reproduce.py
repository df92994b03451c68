"""Reproduce the whole report with one command: every task in order, then REPORT.md.

    python reproduce.py                 # the full report: about 16 minutes on a 2-core laptop CPU
    python reproduce.py --quick         # the same steps on small data and tiny grids: a few minutes
    python reproduce.py --keep-going    # a failing task is marked in the report, the run goes on
    python reproduce.py --only task2 task3   # rerun some steps; the report keeps the others

Runs each task script as its own process writing to --out-dir/<step>/ (with the default
--out-dir, the very folders the scripts read their models from by default), passing on
--seed, --device and --data-dir: Task 1 first on every core, as Tasks 2 and 3 read its model,
then the rest --lanes at a time, longest first, on cores / lanes threads each (docs/speed.md).
Writes --out-dir/steps.json (each step's status and time, after every step), --out-dir/REPORT.md:
Figs 1-19 under the report's headings, the printed outputs as text, the paper's numbers beside
ours, and the same laid out for print as REPORT.pdf.
"""

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from recognition import cli, files, report, report_pdf, training
from recognition.errors import UsageError
from recognition.paths import OUT_DIR, ROOT

RECORD_NAME = "steps.json"  # each step's status and time, rewritten as each step ends


@dataclass
class Step:
    name: str
    title: str
    script: str
    args: list = field(default_factory=list)
    quick: list = field(default_factory=list)  # extra flags for --quick
    needs: tuple = ()  # the steps whose model it reads: they run first
    minutes: float = 0.5  # about how long it takes on one core: the longest start first


QUICK_MNIST = ["--epochs", "1", "--train-limit", "3000", "--test-limit", "1000"]
QUICK_TASK4 = [
    *["--epochs", "1", "2", "--dropout", "0.3", "0.5", "--hidden", "20", "60"],
    *["--train-limit", "2000", "--test-limit", "1000"],
]
QUICK_TRANSFORMER = [*QUICK_MNIST, "--map-points", "500"]
QUICK_GABOR = [*QUICK_MNIST, "--repeats", "2"]  # two seeds: the least that gives a spread
FIVE = ["--letters", "alpha", "beta", "gamma", "delta", "epsilon"]
# The report's protocol for Task 3: the course's GreekTransform on the course-sized letter set
# (task3_greek.py's own defaults are the photo pipeline and the many-writers set).
COURSE = [
    *("--head", "last"),
    *("--pipeline", "course"),
    *("--train-dir", str(ROOT / "data" / "greek_train")),
    *("--test-dir", str(ROOT / "data" / "greek_test")),
]
IMPROVED_MNIST = ["--recipe", "adamw-onecycle", "--dropout", "0.1"]


def steps(out):
    """The runs, in report order; step names are the scripts' own default output folders.
    `minutes`: about how long each takes in a full run's lane (the README's task table)."""
    model = str(out / "task1" / "model.pth")  # Task 1's model, read by Tasks 2 and 3
    on_task1 = {"needs": ("task1",), "minutes": 0.2}
    return [
        Step(
            "task1",
            "Task 1: MNIST, the report's protocol",
            "task1_train_mnist.py",
            [],
            QUICK_MNIST,
            minutes=0.6,
        ),
        Step(
            "task1_improved",
            "Task 1: MNIST, improved recipe",
            "task1_train_mnist.py",
            IMPROVED_MNIST,
            QUICK_MNIST,
            minutes=0.9,
        ),
        Step(
            "task1_transformer",
            "The network with transformer layers (the current course)",
            "task1_train_mnist.py",
            ["--arch", "transformer"],
            QUICK_TRANSFORMER,
            minutes=7.5,
        ),
        Step(
            "task2",
            "Task 2: examine the network",
            "task2_examine.py",
            ["--model", model],
            ["--test-limit", "1000"],
            **on_task1,
        ),
        Step(
            "task3",
            "Task 3: Greek letters (alpha, beta, gamma)",
            "task3_greek.py",
            ["--model", model, *COURSE],
            ["--epochs", "5"],
            **on_task1,
        ),
        Step(
            "task3_greek5",
            "Extension 1: five Greek letters",
            "task3_greek.py",
            ["--model", model, *COURSE, *FIVE],
            ["--epochs", "5"],
            **on_task1,
        ),
        Step(
            "task3_sweep",
            "Extension 2: epochs x batch size",
            "task3_greek.py",
            ["--model", model, *COURSE, "--sweep"],
            ["--epochs", "3", "--batch-size", "5", "15"],
            **on_task1,
        ),
        Step(
            "task4",
            "Task 4: FashionMNIST experiment, report recipe",
            "task4_experiment.py",
            [],
            QUICK_TASK4,
            minutes=9,
        ),
        Step(
            "task4_improved",
            "Task 4: FashionMNIST experiment, improved recipe",
            "task4_experiment.py",
            ["--recipe", "adamw-decay"],
            QUICK_TASK4,
            minutes=12,
        ),
        Step("alexnet", "Extension 3: AlexNet's first layers", "ext_alexnet.py", [], []),
        Step(
            "ext_gabor",
            "Extension 4: a Gabor first layer",
            "ext_gabor.py",
            [],
            QUICK_GABOR,
            minutes=2.5,
        ),
    ]


def sample_photo():
    """A colour photo that ships with matplotlib, for the AlexNet extension offline."""
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def chosen_steps(out, only):
    """The steps named in `only` (None: all), in report order; UsageError for an unknown name."""
    every = steps(out)
    if only is None:
        return every
    unknown = [name for name in only if name not in {s.name for s in every}]
    if unknown:
        raise UsageError(
            f"no step named {' or '.join(unknown)}; steps: {' '.join(s.name for s in every)}"
        )
    return [s for s in every if s.name in only]


def run_step(step, flags, progress, t0, threads=None):
    """Run one task script with `flags` after its own, streaming its output with a `progress`
    prefix ('3/11') and the time since `t0`; `threads`: its torch threads (None: as this process
    has them).  Returns (returncode, last output line)."""
    cmd = [sys.executable, "-u", str(ROOT / step.script), *flags]
    env = None if threads is None else {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    last = ""
    for line in proc.stdout:
        line = line.rstrip()
        last = line or last
        print(
            f"[{progress} {step.name} {report.clock(time.perf_counter() - t0)}] {line}", flush=True
        )
    return proc.wait(), last


def run_with_fallback(step, flags, progress, t0, threads=None):
    """run_step, and for AlexNet whose weights or CIFAR-10 cannot be had (exit 2), once more
    offline.  Returns (returncode, last output line, a note on the fallback or None)."""
    code, last = run_step(step, flags, progress, t0, threads)
    if code != 2 or step.name != "alexnet":
        return code, last, None
    print(
        "   AlexNet weights or CIFAR-10 not available; running offline with untrained weights",
        flush=True,
    )
    offline = ["--random-weights", "--image", str(sample_photo())]
    code, offline_last = run_step(step, [*flags, *offline], progress, t0, threads)
    return code, offline_last, f"offline mode: {last.removeprefix('error: ')}"


def in_order(plan):
    """(the steps others need, which run first, in report order; the rest, longest first)."""
    needed = {name for step in plan for name in step.needs}
    first = [step for step in plan if step.name in needed]
    rest = sorted((step for step in plan if step.name not in needed), key=lambda s: -s.minutes)
    return first, rest


class Runner:
    """Runs steps and records each in `results` and steps.json as it ends, from any thread; after
    a step fails it starts no other, unless `keep_going`."""

    def __init__(self, plan, out, passed_on, quick, results, keep_going):
        self.out, self.passed_on, self.quick, self.results = out, passed_on, quick, results
        self.keep_going, self.stopped = keep_going, False
        self.progress = {step.name: f"{i}/{len(plan)}" for i, step in enumerate(plan, 1)}
        self.report_order = [step.name for step in steps(out)]
        self.lock = threading.Lock()
        self.t0 = time.perf_counter()

    def so_far(self):
        return report.clock(time.perf_counter() - self.t0)

    def run(self, step, threads=None):
        """Run `step` on `threads` torch threads (None: this process's); returns its exit code,
        or None where an earlier failure stopped the run before it."""
        if self.stopped:
            return None
        progress = self.progress[step.name]
        print(f"== [{progress}] {step.title}  ({self.so_far()} so far)", flush=True)
        flags = [
            *("--out-dir", str(self.out / step.name)),
            *self.passed_on,
            *step.args,
            *(step.quick if self.quick else []),
        ]
        started = time.perf_counter()
        code, last, note = run_with_fallback(step, flags, progress, self.t0, threads)
        seconds = time.perf_counter() - started
        status = "ok" if code == 0 else f"failed (exit {code}): {last}"
        print(f"-- [{progress}] {step.name} {status}, {report.clock(seconds)}", flush=True)
        with self.lock:
            self.stopped = self.stopped or (code != 0 and not self.keep_going)
            self.results[step.name] = {
                "title": step.title,
                "returncode": code,
                "seconds": seconds,
                "note": note,
                "error": last if code else None,
            }
            ordered = sorted(self.results.items(), key=lambda kv: self._rank(kv[0]))
            self.results.clear()
            self.results.update(ordered)
            files.write_json(self.results, self.out / RECORD_NAME)
        return code

    def _rank(self, name):
        return (
            self.report_order.index(name) if name in self.report_order else len(self.report_order)
        )


def run_steps(plan, runner, lanes):
    """Run `plan`: the steps others need first, one at a time on every core (so that their
    numbers are those of a run on its own), then the rest `lanes` at a time, longest first, each
    on cores / lanes threads.  Returns the steps that failed."""
    first, rest = in_order(plan)
    codes = {step.name: runner.run(step) for step in first}
    threads = max(1, training.usable_cores() // lanes)
    pool = ThreadPoolExecutor(lanes)
    try:
        codes.update(zip((s.name for s in rest), pool.map(runner.run, rest, [threads] * len(rest))))
    finally:  # on Ctrl-C too: start nothing new; the steps running stop on their own Ctrl-C
        pool.shutdown(wait=True, cancel_futures=True)
    return [step for step in plan if codes[step.name]]


def default_lanes(device):
    """Steps side by side: two on a CPU of two cores or more, where two one-thread processes
    train this small network faster than one of two threads; one on a GPU."""
    if cli.device(device).type != "cpu":
        return 1
    return min(2, training.usable_cores())


def parse_args(argv=None):
    p = cli.parser(__doc__, None, show=False, out_help=f"{OUT_DIR.relative_to(ROOT)}/")
    p.set_defaults(out_dir=OUT_DIR)
    p.add_argument(
        "--quick", action="store_true", help="small data, few epochs, tiny grids (default: off)"
    )
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="on a failing task, mark it in the report and go on (default: stop)",
    )
    p.add_argument(
        "--lanes",
        type=cli.positive_int,
        default=None,
        help="steps run side by side, each on cores / N threads (default: 2 on a CPU of two "
        "cores or more, 1 on a GPU)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="STEP",
        help="run only these steps, by name (default: all); REPORT.md uses what is in --out-dir",
    )
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out, quick = args.out_dir, args.quick
    passed_on = ["--data-dir", str(args.data_dir), "--seed", str(args.seed)]
    passed_on += ["--device", args.device]
    plan = chosen_steps(out, args.only)
    out.mkdir(parents=True, exist_ok=True)
    # With --only, the other steps' results of an earlier run in --out-dir stay in the report.
    record = out / RECORD_NAME
    results = json.loads(record.read_text()) if args.only and record.is_file() else {}
    lanes = args.lanes or default_lanes(args.device)
    runner = Runner(plan, out, passed_on, quick, results, args.keep_going)
    failed = run_steps(plan, runner, lanes)
    wall = time.perf_counter() - runner.t0
    path = report.write(out, results, quick, wall)
    if failed and not args.keep_going:
        raise UsageError(
            f"{failed[0].script} failed; see its output above (or rerun with --keep-going)"
        )
    pdf = report_pdf.write(path)
    print(f"wrote {path} and {pdf.name}  (total {report.clock(wall)})")


if __name__ == "__main__":
    cli.run(main)
