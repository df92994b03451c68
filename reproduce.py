"""Reproduce the whole report with one command: every task in order, then REPORT.md.

    python reproduce.py                 # the full report, about 13 minutes on a 2-core laptop CPU
    python reproduce.py --quick         # the same structure on small data and a tiny grid, a few minutes
    python reproduce.py --keep-going    # a failing task is marked in the report instead of stopping the run

Runs each task script as its own process writing to --out-dir/<step>/ (with the default
--out-dir, the very folders the scripts read their models from by default), passing on
--seed, --device and --data-dir, then writes --out-dir/REPORT.md: Figs 1-19 under the
report's headings, the printed outputs as text, the paper's numbers beside ours.
"""

import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from recognition import cli, files
from recognition.errors import UsageError
from recognition.paths import OUT_DIR, ROOT


@dataclass
class Step:
    name: str
    title: str
    script: str
    args: list = field(default_factory=list)
    quick: list = field(default_factory=list)  # extra flags for --quick


QUICK_MNIST = ["--epochs", "1", "--train-limit", "3000", "--test-limit", "1000"]
QUICK_TASK4 = [
    "--epochs",
    "1",
    "2",
    "--dropout",
    "0.3",
    "0.5",
    "--hidden",
    "20",
    "60",
    "--train-limit",
    "2000",
    "--test-limit",
    "1000",
]
FIVE = ["--letters", "alpha", "beta", "gamma", "delta", "epsilon"]
# The report's protocol for Task 3: the course's GreekTransform on the course-sized letter set
# (task3_greek.py's own defaults are the photo pipeline and the many-writers set).
COURSE = [
    "--pipeline",
    "course",
    "--train-dir",
    str(ROOT / "data" / "greek_train"),
    "--test-dir",
    str(ROOT / "data" / "greek_test"),
]
IMPROVED_MNIST = ["--recipe", "adamw-onecycle", "--dropout", "0.1"]
QUICK_TRANSFORMER = [
    "--epochs",
    "1",
    "--train-limit",
    "3000",
    "--test-limit",
    "1000",
    "--map-points",
    "500",
]
QUICK_GABOR = [*QUICK_MNIST, "--repeats", "2"]  # two seeds: the least that gives a spread


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


def run_step(step, i, n, args, t0, extra=()):
    """Run one task script, streaming its output with a progress prefix. Returns (returncode, last output line)."""
    cmd = [
        sys.executable,
        "-u",
        str(ROOT / step.script),
        "--out-dir",
        str(args.out_dir / step.name),
        "--data-dir",
        str(args.data_dir),
        "--seed",
        str(args.seed),
        "--device",
        args.device,
        *step.args,
        *(step.quick if args.quick else []),
        *extra,
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    last = ""
    for line in proc.stdout:
        line = line.rstrip()
        last = line or last
        print(f"[{i}/{n} {step.name} {_clock(time.perf_counter() - t0)}] {line}", flush=True)
    return proc.wait(), last


def _clock(seconds):
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def main(argv=None):
    p = cli.parser(__doc__, None, show=False, out_help="outputs/")
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
    args = p.parse_args(argv)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    plan = [s for s in steps(out) if args.only is None or s.name in args.only]
    if args.only and not plan:
        raise UsageError(
            f"no step named {' or '.join(args.only)}; steps: {' '.join(s.name for s in steps(out))}"
        )
    # With --only, the other steps' results of an earlier run in --out-dir stay in the report.
    record = out / "steps.json"
    results = json.loads(record.read_text()) if args.only and record.is_file() else {}
    t0 = time.perf_counter()
    for i, step in enumerate(plan, 1):
        print(
            f"== [{i}/{len(plan)}] {step.title}  ({_clock(time.perf_counter() - t0)} so far)",
            flush=True,
        )
        ts = time.perf_counter()
        code, last = run_step(step, i, len(plan), args, t0)
        note = None
        if code == 2 and step.name == "alexnet":
            note = f"offline mode: {last.removeprefix('error: ')}"
            print(
                "   AlexNet weights or CIFAR-10 not available; running offline with untrained weights",
                flush=True,
            )
            offline = ["--random-weights", "--image", str(sample_photo())]
            code, last = run_step(step, i, len(plan), args, t0, extra=offline)
        results[step.name] = {
            "title": step.title,
            "returncode": code,
            "seconds": time.perf_counter() - ts,
            "note": note,
            "error": last if code else None,
        }
        files.write_json(results, record)
        if code != 0:
            print(f"!! {step.name} failed (exit {code}): {last}", file=sys.stderr, flush=True)
            if not args.keep_going:
                write_report(out, results, args)
                raise UsageError(
                    f"{step.script} failed; see its output above (or rerun with --keep-going)"
                )
    path = write_report(out, results, args)
    print(f"wrote {path}  (total {_clock(time.perf_counter() - t0)})")


# ---------------------------------------------------------------- REPORT.md

# (figure number, step whose out-dir holds it, caption); text figures are shown as code blocks.
FIGURES = {
    "Task 1: build and train a network to recognise digits": [
        (1, "task1", "The first six MNIST test digits with their labels."),
        (2, "task1", "The network, drawn: two convolution layers, two fully connected layers."),
        (3, "task1", "The network as PyTorch prints it."),
        (
            4,
            "task1",
            "The photos of handwritten digits as taken "
            "(stand-ins drawn by tools/make_handwritten_digits.py).",
        ),
        (
            5,
            "task1",
            "Training loss (per logged batch) and test loss against training examples seen; "
            "accuracy per epoch.",
        ),
        (
            6,
            "task1",
            "The reloaded network's ten outputs (log-probabilities) for the first ten test digits.",
        ),
        (7, "task1", "Predictions of the reloaded network for the first nine test digits."),
        (8, "task1", "The handwritten digits after preprocessing, with the network's predictions."),
    ],
    "Task 2: examine the network": [
        (9, "task2", "The ten 5x5 filters of the first convolution layer."),
        (
            10,
            "task2",
            "Each filter and the first training digit filtered by it with OpenCV filter2D.",
        ),
    ],
    "Task 3: transfer learning on Greek letters": [
        (11, "task3", "Predictions on the Greek test letters (alpha, beta, gamma)."),
        (12, "task3", "Training error per epoch, with the test error beside it."),
        (
            13,
            "task3",
            "The network with its last layer replaced (three outputs), as PyTorch prints it.",
        ),
    ],
    "Task 4: design your own experiment (FashionMNIST)": [
        (14, "task4", "Training and test loss of the best variation."),
        (15, "task4", "The best variation's network, drawn with its layer sizes."),
    ],
    "Extensions": [
        (16, "task3_greek5", "Extension 1: predictions on five Greek letters."),
        (
            17,
            "task3_sweep",
            "Extension 2: train and test loss for each epochs x batch size setting.",
        ),
        (
            18,
            "alexnet",
            "Extension 3: AlexNet's first convolution layer, 10 of its filters and their responses.",
        ),
        (
            19,
            "alexnet",
            "Extension 3: AlexNet's second convolution layer, 10 of its filters and their responses.",
        ),
    ],
}
EXTRA = [  # (step, file, caption): figures beyond the report, shown after its own
    (
        "task1_improved",
        "fig05_loss_curves.png",
        "Task 1 with the improved recipe (AdamW, one-cycle, augmentation).",
    ),
    (
        "task2",
        "extra_gradcam.png",
        "Grad-CAM: where conv2 found evidence, for digits the net gets right and wrong.",
    ),
    ("task3", "confusion_matrix.png", "Task 3: confusion matrix on the three-letter test set."),
    (
        "task3_greek5",
        "confusion_matrix.png",
        "Extension 1: confusion matrix on the five-letter test set.",
    ),
    (
        "task4",
        "accuracy_vs_dimension.png",
        "Task 4: test accuracy against each dimension, the others averaged.",
    ),
    (
        "task4",
        "heatmaps_dropout_hidden.png",
        "Task 4: dropout x hidden units, one heat map per epoch count.",
    ),
    ("task4", "parallel_coordinates.png", "Task 4: every variation, one line each."),
    (
        "task4_improved",
        "accuracy_vs_dimension.png",
        "Task 4 with the improved recipe: accuracy per dimension.",
    ),
]


def _find(out, step, number):
    hits = sorted((out / step).glob(f"fig{number:02d}_*")) if (out / step).is_dir() else []
    return hits[0] if hits else None


def _metrics(out, step):
    path = out / step / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _pct(x):
    return "—" if x is None else f"{100 * x:.2f} %"


def paper_vs_measured(out):
    """Rows (quantity, report, measured) from the runs' metrics.json files."""
    t1, t1i, tt = (
        _metrics(out, "task1"),
        _metrics(out, "task1_improved"),
        _metrics(out, "task1_transformer"),
    )
    t3, t5 = _metrics(out, "task3"), _metrics(out, "task3_greek5")
    t4, t4i = _metrics(out, "task4"), _metrics(out, "task4_improved")

    def count(m):
        return (
            f"{m['test_correct']}/{m['test_n']} ({_pct(m['test_accuracy'])})"
            if "test_correct" in m
            else "—"
        )

    def best(m):
        b = m.get("best")
        if not b:
            return "—"
        spread = f" ± {100 * b['accuracy_std']:.2f}" if b.get("seeds", 1) > 1 else ""
        return f"{_pct(b.get('accuracy_mean'))}{spread} (L={b['epochs']}, M={b['dropout']}, N={b['hidden']})"

    epochs = t1.get("recipe", {}) and len(t1.get("history", {}).get("epochs", [])) - 1
    gabor = _metrics(out, "ext_gabor").get("summary")
    return [
        (f"MNIST test accuracy after {epochs or 5} epochs", "9799/10000 (97.99 %)", count(t1)),
        ("MNIST test loss", "0.0604", f"{t1['test_loss']:.4f}" if "test_loss" in t1 else "—"),
        ("first 10 test digits correct", "10/10", f"{t1.get('first_ten_correct', '—')}/10"),
        ("handwritten digits correct", "all (10/10)", _pct(t1.get("handwritten_accuracy"))),
        ("MNIST, improved recipe (same Net)", "—", count(t1i)),
        (
            "MNIST, transformer layers (the current course)",
            "— (course reproductions of the template: 98.7–98.95 % after 15 epochs)",
            count(tt),
        ),
        (
            "Greek letters, 3 (test set)",
            "all correct after 20 epochs",
            _pct(t3.get("test_accuracy")),
        ),
        ("Greek letters, 5 (test set)", "all correct", _pct(t5.get("test_accuracy"))),
        ("FashionMNIST best variation", "86 % (L=6, M=0.6, N=60)", best(t4)),
        ("FashionMNIST best, improved recipe", "—", best(t4i)),
        (
            "MNIST, Gabor conv1 (frozen) vs learned",
            "— (a public reproduction: 98.23 % vs 97.93 %, one seed)",
            f"{_mean_sd(gabor['gabor'])} vs {_mean_sd(gabor['learned'])}" if gabor else "—",
        ),
    ]


def _mean_sd(s):
    """'98.31 ± 0.05 % (3 seeds)' from a {'mean', 'sd', 'n'} of accuracies."""
    sd = f" ± {100 * s['sd']:.2f}" if s.get("sd") is not None else ""
    return f"{100 * s['mean']:.2f}{sd} % ({s['n']} seed{'s' if s['n'] > 1 else ''})"


def _figure(out, step, name, caption):
    """A figure beyond the report's numbering, with its caption, or nothing if its step did not write it."""
    return (
        [f"![{caption}]({step}/{name})", "", f"*{caption}*", ""]
        if (out / step / name).is_file()
        else []
    )


def task4_sections(out):
    """Task 4 as the report sets it out: A. the plan (the grid), B. the predictions, C. the results."""
    runs = [
        (step, m)
        for step in ("task4", "task4_improved")
        if (m := _metrics(out, step)).get("hypotheses")
    ]
    if not runs:
        return ["*Task 4 wrote no metrics.json.*", ""]
    g, m = runs[0][1]["grid"], runs[0][1]
    lines = [
        "### A. The plan",
        "",
        f"Net on FashionMNIST ({m['train_n']} training, {m['test_n']} test images), every combination of "
        f"epochs L ∈ {{{', '.join(map(str, g['epochs']))}}} × dropout M ∈ "
        f"{{{', '.join(f'{d:g}' for d in g['dropout'])}}} × hidden units N ∈ {{{', '.join(map(str, g['hidden']))}}}"
        f" = {len(g['epochs']) * len(g['dropout']) * len(g['hidden'])} variations, seed(s) "
        f"{', '.join(map(str, g['seeds']))}; each recipe below runs the same grid.",
        "",
        "### B. The predictions",
        "",
    ]
    lines += [
        f"{i}. **{dim}**: {v['prediction']}."
        for i, (dim, v) in enumerate(m["hypotheses"].items(), 1)
    ]
    lines += [
        "",
        "### C. The results",
        "",
        "Each prediction against the outcome: the change in test accuracy from the dimension's smallest to "
        "its largest value, paired over every setting of the other dimensions (and seed), ± its standard "
        "error; a change within twice its standard error is inconclusive.",
        "",
        "| recipe | dimension | change (points) | pairs | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step, m in runs:
        for dim, v in m["hypotheses"].items():
            change = (
                "—"
                if v["change_points"] is None
                else f"{v['change_points']:+.2f} ± {v['standard_error']:.2f}"
            )
            lines.append(f"| {m['recipe']} | {dim} | {change} | {v['pairs']} | {v['verdict']} |")
    return lines + ["", f"Best variation, recipe {runs[0][1]['recipe']}: Figs 14–15 below.", ""]


# (step, what ran): the rows of the transformer table; task1_template is not a step (hours on a CPU) but is
# shown when its folder holds a run: python task1_train_mnist.py --template
TRANSFORMER_ROWS = [
    ("task1", "Net (CNN), the report's recipe"),
    ("task1_improved", "Net (CNN), improved recipe"),
    ("task1_transformer", "NetTransformer, fast setting"),
    ("task1_template", "NetTransformer, the course template's defaults"),
]


def _wall_time(m):
    """A Task 1 run's wall time; for a run trained in several sittings, its training and evaluation in all."""
    if m.get("sittings", 1) == 1:
        return f"{m['wall_time_s']:.0f} s"
    return f"{m['history']['epochs'][-1]['elapsed_seconds']:.0f} s of training and evaluation, {m['sittings']} sittings"


def transformer_section(out):
    """The current course's transformer beside the CNN: accuracy, epochs, training and wall time, parameters."""
    lines = [
        "| network | test accuracy | epochs | training time | wall time | parameters |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for step, what in TRANSFORMER_ROWS:
        m = _metrics(out, step)
        if "test_accuracy" in m and "train_seconds" in m:
            lines.append(
                f"| {what} | {_pct(m['test_accuracy'])} | {m['epochs']} | {m['train_seconds']:.0f} s | "
                f"{_wall_time(m)} | {m['parameters']:,} |"
            )
    if not _metrics(out, "task1_template"):
        lines += [
            "",
            "*The template's own 15 epochs are not a step of this run: on a 2-core CPU they take hours "
            "(see the README). `python task1_train_mnist.py --template` adds them to this table; "
            "stopped with Ctrl-C, the same command carries them on.*",
        ]
    lines += [""]
    lines += _figure(
        out,
        "task1_transformer",
        "fig02_network_diagram.png",
        "The transformer, drawn with its sizes.",
    )
    return lines + _figure(
        out,
        "task1_transformer",
        "extra_attention.png",
        "What the transformer attends to: attention rollout over its patches for the first test "
        "digit of each class (a wrong answer in red).",
    )


def gabor_section(out):
    """Extension 4: the Gabor conv1 against the learned one, mean ± sd over seeds, and its figures."""
    m = _metrics(out, "ext_gabor")
    if "summary" not in m:
        return ["*ext_gabor.py wrote no metrics.json.*", ""]
    s = m["summary"]
    lines = [
        f"MNIST, {m['train_n']} training and {m['test_n']} test images, {m['epochs']} epoch(s) of the "
        f"report's recipe; conv1 either 10 fixed Gabor kernels (frozen, zero bias) or learned; seeds "
        f"{', '.join(map(str, m['seeds']))}, the same start for the other layers and the same batches per seed.",
        "",
        "| conv1 | test accuracy, mean ± sd | per seed |",
        "| --- | --- | --- |",
    ]
    for c in ("gabor", "learned"):
        lines.append(
            f"| {c} | {_mean_sd(s[c])} | {', '.join(f'{100 * a:.2f}' for a in s[c]['accuracies'])} |"
        )
    spread = (
        ""
        if s["spread"] is None
        else f" against a seed-to-seed sd of up to {100 * s['spread']:.2f}"
    )
    paired = (
        ""
        if s.get("paired_sd") is None
        else f" Seed by seed (the same start and batches): {', '.join(f'{100 * d:+.2f}' for d in s['paired_differences'])}"
        f" points, sd {100 * s['paired_sd']:.2f}."
    )
    lines += [
        "",
        f"Difference (Gabor − learned): {100 * s['difference']:+.2f} points{spread}: {s['verdict']}.{paired}",
        "",
    ]
    lines += _figure(
        out,
        "ext_gabor",
        "gabor_bank_responses.png",
        "The Gabor bank in conv1 and the first training digit filtered by each kernel (as Fig 10).",
    )
    return lines + _figure(
        out,
        "ext_gabor",
        "learned_vs_gabor.png",
        "The learned conv1 filters of the first seed, each beside its closest Gabor kernel.",
    )


def errors_section(out):
    """What the network gets wrong (Task 2) and how its fc1 features lie (Tasks 1 and 3)."""
    m, lines = _metrics(out, "task2"), []
    if "per_class_accuracy" in m:
        n = sum(map(sum, m["confusion"]))
        lines += [
            f"Per-class accuracy of Task 1's network on {n} MNIST test digits:",
            "",
            "| digit | " + " | ".join(map(str, range(10))) + " |",
            "| --- " * 11 + "|",
            "| accuracy (%) | "
            + " | ".join(f"{100 * a:.1f}" for a in m["per_class_accuracy"])
            + " |",
            "",
            "Most confused pairs: "
            + ", ".join(
                f"{p['true']} read as {p['predicted']} ({p['count']}×)" for p in m["confused_pairs"]
            )
            + ".",
            "",
        ]
    lines += _figure(
        out,
        "task2",
        "extra_confusion_matrix.png",
        "MNIST test confusion matrix (rows: true digit).",
    )
    lines += _figure(
        out,
        "task2",
        "extra_confused_pairs.png",
        "The most confused pairs, a row each: example digits with the network's probabilities.",
    )
    for step, what in (
        ("task1", "the MNIST test digits"),
        ("task3", "the Greek letters, training and test"),
    ):
        e = _metrics(out, step).get("embedding_map")
        if e:
            lines += _figure(
                out,
                step,
                "extra_embedding_map.png",
                f"fc1's features of {what} ({e['points']} points, {e['misclassified']} misclassified "
                f"ringed) by PCA and t-SNE (perplexity {e['perplexity']:.3g}, random state "
                f"{e['random_state']}; t-SNE {e['seconds']['t-SNE']:.1f} s).",
            )
    return lines


def write_report(out, results, args):
    import torch
    import torchvision

    lines = ["# Recognition using Deep Networks — reproduced", ""]
    mode = (
        "quick mode (`--quick`: few epochs, small subsets, tiny grids)"
        if args.quick
        else "full run"
    )
    device = _metrics(out, "task1").get("device", "cpu")
    total = sum(r["seconds"] for r in results.values())
    lines += [
        f"Written by `reproduce.py` on {datetime.now():%Y-%m-%d %H:%M}, {mode}; total wall time "
        f"{_clock(total)}. Python {platform.python_version()}, torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}, device {device}, {platform.machine()}.",
        "",
    ]
    lines += [
        "## The report's numbers beside ours",
        "",
        "| quantity | report | measured |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {q} | {r} | {m} |" for q, r, m in paper_vs_measured(out)]
    lines += [
        "",
        "Task 3 and its extensions run the report's protocol: the course's GreekTransform "
        "(`--pipeline course`) on the course-sized letters `data/greek_train` and `data/greek_test`.",
    ]
    lines += ["", "| step | status | wall time |", "| --- | --- | --- |"]
    for name, r in results.items():
        status = (
            "ok" if r["returncode"] == 0 else f"**failed** (exit {r['returncode']}): {r['error']}"
        )
        if r["note"]:
            status += f" — {r['note']}"
        lines.append(f"| {r['title']} | {status} | {r['seconds']:.0f} s |")
    lines.append("")
    for heading, figures in FIGURES.items():
        lines += [f"## {heading}", ""]
        if heading.startswith("Task 4"):
            lines += task4_sections(out)
        for number, step, caption in figures:
            path = _find(out, step, number)
            if path is None:
                lines += [f"**Fig {number}** — missing: {step} did not write it.", ""]
            elif path.suffix == ".txt":
                lines += [
                    f"**Fig {number}.** {caption}",
                    "",
                    "```",
                    path.read_text().rstrip(),
                    "```",
                    "",
                ]
            else:
                lines += [
                    f"![Fig {number}]({path.relative_to(out).as_posix()})",
                    "",
                    f"**Fig {number}.** {caption}",
                    "",
                ]
        if heading.startswith("Extensions") and results.get("alexnet", {}).get("note"):
            lines += [
                f"*AlexNet ran in its {results['alexnet']['note']}. Its filters are untrained, so Figs "
                "18–19 show the method, not ImageNet's learned features.*",
                "",
            ]
    lines += ["## Extension 4: a Gabor first layer", "", *gabor_section(out)]
    lines += [
        "## The network with transformer layers (the current course)",
        "",
        *transformer_section(out),
    ]
    lines += [
        "## What the network gets wrong, and how it sees the inputs",
        "",
        *errors_section(out),
    ]
    lines += ["## Beyond the report", ""]
    for step, name, caption in EXTRA:
        if (out / step / name).is_file():
            lines += [f"![{caption}]({step}/{name})", "", f"*{caption}*", ""]
    return files.write_text("\n".join(lines) + "\n", out / "REPORT.md")


if __name__ == "__main__":
    cli.run(main)
