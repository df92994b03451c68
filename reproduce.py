"""Reproduce the whole report with one command: every task in order, then REPORT.md.

    python reproduce.py                 # the full report: about 13 minutes on a 2-core laptop CPU
    python reproduce.py --quick         # the same steps on small data and tiny grids: a few minutes
    python reproduce.py --keep-going    # a failing task is marked in the report, the run goes on
    python reproduce.py --only task2 task3   # rerun some steps; the report keeps the others

Runs each task script as its own process writing to --out-dir/<step>/ (with the default
--out-dir, the very folders the scripts read their models from by default), passing on
--seed, --device and --data-dir.  Writes --out-dir/steps.json (each step's status and time,
after every step), --out-dir/REPORT.md: Figs 1-19 under the report's headings, the printed
outputs as text, the paper's numbers beside ours, and the same laid out for print as REPORT.pdf.
"""

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from recognition import cli, files, report, report_pdf
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
    """The runs, in report order; step names are the scripts' own default output folders."""
    model = str(out / "task1" / "model.pth")  # Task 1's model, read by Tasks 2 and 3
    return [
        Step(
            "task1", "Task 1: MNIST, the report's protocol", "task1_train_mnist.py", [], QUICK_MNIST
        ),
        Step(
            "task1_improved",
            "Task 1: MNIST, improved recipe",
            "task1_train_mnist.py",
            IMPROVED_MNIST,
            QUICK_MNIST,
        ),
        Step(
            "task1_transformer",
            "The network with transformer layers (the current course)",
            "task1_train_mnist.py",
            ["--arch", "transformer"],
            QUICK_TRANSFORMER,
        ),
        Step(
            "task2",
            "Task 2: examine the network",
            "task2_examine.py",
            ["--model", model],
            ["--test-limit", "1000"],
        ),
        Step(
            "task3",
            "Task 3: Greek letters (alpha, beta, gamma)",
            "task3_greek.py",
            ["--model", model, *COURSE],
            ["--epochs", "5"],
        ),
        Step(
            "task3_greek5",
            "Extension 1: five Greek letters",
            "task3_greek.py",
            ["--model", model, *COURSE, *FIVE],
            ["--epochs", "5"],
        ),
        Step(
            "task3_sweep",
            "Extension 2: epochs x batch size",
            "task3_greek.py",
            ["--model", model, *COURSE, "--sweep"],
            ["--epochs", "3", "--batch-size", "5", "15"],
        ),
        Step(
            "task4",
            "Task 4: FashionMNIST experiment, report recipe",
            "task4_experiment.py",
            [],
            QUICK_TASK4,
        ),
        Step(
            "task4_improved",
            "Task 4: FashionMNIST experiment, improved recipe",
            "task4_experiment.py",
            ["--recipe", "adamw-decay"],
            QUICK_TASK4,
        ),
        Step("alexnet", "Extension 3: AlexNet's first layers", "ext_alexnet.py", [], []),
        Step("ext_gabor", "Extension 4: a Gabor first layer", "ext_gabor.py", [], QUICK_GABOR),
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


def run_step(step, flags, progress, t0):
    """Run one task script with `flags` after its own, streaming its output with a `progress`
    prefix ('3/11') and the time since `t0`.  Returns (returncode, last output line)."""
    cmd = [sys.executable, "-u", str(ROOT / step.script), *flags]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    last = ""
    for line in proc.stdout:
        line = line.rstrip()
        last = line or last
        print(
            f"[{progress} {step.name} {report.clock(time.perf_counter() - t0)}] {line}", flush=True
        )
    return proc.wait(), last


def run_with_fallback(step, flags, progress, t0):
    """run_step, and for AlexNet whose weights or CIFAR-10 cannot be had (exit 2), once more
    offline.  Returns (returncode, last output line, a note on the fallback or None)."""
    code, last = run_step(step, flags, progress, t0)
    if code != 2 or step.name != "alexnet":
        return code, last, None
    print(
        "   AlexNet weights or CIFAR-10 not available; running offline with untrained weights",
        flush=True,
    )
    offline = ["--random-weights", "--image", str(sample_photo())]
    code, offline_last = run_step(step, [*flags, *offline], progress, t0)
    return code, offline_last, f"offline mode: {last.removeprefix('error: ')}"


def run_steps(plan, out, passed_on, quick, keep_going, results):
    """Run `plan` in order, recording each step in `results` and steps.json as it ends; a failing
    step stops the run (UsageError) unless `keep_going`.  `passed_on`: flags every script gets."""
    t0 = time.perf_counter()
    for i, step in enumerate(plan, 1):
        progress = f"{i}/{len(plan)}"
        print(
            f"== [{progress}] {step.title}  ({report.clock(time.perf_counter() - t0)} so far)",
            flush=True,
        )
        flags = [
            *("--out-dir", str(out / step.name)),
            *passed_on,
            *step.args,
            *(step.quick if quick else []),
        ]
        started = time.perf_counter()
        code, last, note = run_with_fallback(step, flags, progress, t0)
        results[step.name] = {
            "title": step.title,
            "returncode": code,
            "seconds": time.perf_counter() - started,
            "note": note,
            "error": last if code else None,
        }
        files.write_json(results, out / RECORD_NAME)
        if code != 0:
            print(f"!! {step.name} failed (exit {code}): {last}", file=sys.stderr, flush=True)
            if not keep_going:
                report.write(out, results, quick)
                raise UsageError(
                    f"{step.script} failed; see its output above (or rerun with --keep-going)"
                )
    return time.perf_counter() - t0


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
    seconds = run_steps(plan, out, passed_on, quick, args.keep_going, results)
    path = report.write(out, results, quick)
    pdf = report_pdf.write(path)
    print(f"wrote {path} and {pdf.name}  (total {report.clock(seconds)})")


if __name__ == "__main__":
    cli.run(main)
