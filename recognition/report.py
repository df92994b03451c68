"""REPORT.md: what reproduce.py's steps wrote in --out-dir, set out as the report is.

`write(out, results, quick)` reads each step's metrics.json and figures under `out/<step>/` and
writes `out/REPORT.md`: the paper's numbers beside ours, the table of steps (status, wall time),
Figs 1-19 under the report's headings (text figures as code blocks), Task 4's plan, predictions
and verdicts, the Gabor and transformer comparisons, the errors the network makes, and the
figures beyond the report.  A step that wrote nothing leaves a "missing" line, never a failure.
"""

import json
import platform
from datetime import datetime

import torch
import torchvision

from recognition import files

REPORT_NAME = "REPORT.md"


def clock(seconds):
    """'m:ss' of a duration in seconds."""
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


# (figure number, step whose out-dir holds it, caption); text figures are shown as code blocks.
FIGURES = {
    "Task 1: build and train a network to recognise digits": [
        (1, "task1", "The first six MNIST test digits with their labels."),
        (2, "task1", "The network, drawn: two convolution layers, two fully connected layers."),
        (3, "task1", "The network as PyTorch prints it."),
        (
            4,
            "task1",
            (
                "The photos of handwritten digits as taken "
                "(stand-ins drawn by tools/make_handwritten_digits.py)."
            ),
        ),
        (
            5,
            "task1",
            (
                "Training loss (per logged batch) and test loss against training examples seen; "
                "accuracy per epoch."
            ),
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
            (
                "Extension 3: AlexNet's first convolution layer, 10 of its filters and their "
                "responses."
            ),
        ),
        (
            19,
            "alexnet",
            (
                "Extension 3: AlexNet's second convolution layer, 10 of its filters and their "
                "responses."
            ),
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
        where = f"L={b['epochs']}, M={b['dropout']}, N={b['hidden']}"
        return f"{_pct(b.get('accuracy_mean'))}{spread} ({where})"

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
    """A figure beyond the report's numbering, with its caption, or nothing if its step did not
    write it."""
    return (
        [f"![{caption}]({step}/{name})", "", f"*{caption}*", ""]
        if (out / step / name).is_file()
        else []
    )


def task4_sections(out):
    """Task 4 as the report sets it out: A. the plan (the grid), B. the predictions, C. the
    results."""
    runs = [
        (step, m)
        for step in ("task4", "task4_improved")
        if (m := _metrics(out, step)).get("hypotheses")
    ]
    if not runs:
        return ["*Task 4 wrote no metrics.json.*", ""]
    g, m = runs[0][1]["grid"], runs[0][1]
    epochs, hidden, seeds = (", ".join(map(str, g[key])) for key in ("epochs", "hidden", "seeds"))
    dropout = ", ".join(f"{d:g}" for d in g["dropout"])
    variations = len(g["epochs"]) * len(g["dropout"]) * len(g["hidden"])
    lines = [
        "### A. The plan",
        "",
        (
            f"Net on FashionMNIST ({m['train_n']} training, {m['test_n']} test images), every "
            f"combination of epochs L ∈ {{{epochs}}} × dropout M ∈ {{{dropout}}} × hidden units "
            f"N ∈ {{{hidden}}} = {variations} variations, seed(s) {seeds}; each recipe below runs "
            "the same grid."
        ),
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
        (
            "Each prediction against the outcome: the change in test accuracy from the "
            "dimension's smallest to its largest value, paired over every setting of the other "
            "dimensions (and seed), ± its standard error; a change within twice its standard "
            "error is inconclusive."
        ),
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


# (step, what ran): the rows of the transformer table; task1_template is not a step (hours on a
# CPU) but is shown when its folder holds a run: python task1_train_mnist.py --template
TRANSFORMER_ROWS = [
    ("task1", "Net (CNN), the report's recipe"),
    ("task1_improved", "Net (CNN), improved recipe"),
    ("task1_transformer", "NetTransformer, fast setting"),
    ("task1_template", "NetTransformer, the course template's defaults"),
]


def _wall_time(m):
    """A Task 1 run's wall time; for a run trained in several sittings, its training and
    evaluation in all."""
    if m.get("sittings", 1) == 1:
        return f"{m['wall_time_s']:.0f} s"
    seconds = m["history"]["epochs"][-1]["elapsed_seconds"]
    return f"{seconds:.0f} s of training and evaluation, {m['sittings']} sittings"


def transformer_section(out):
    """The current course's transformer beside the CNN: accuracy, epochs, training and wall time,
    parameters."""
    lines = [
        "| network | test accuracy | epochs | training time | wall time | parameters |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for step, what in TRANSFORMER_ROWS:
        m = _metrics(out, step)
        if "test_accuracy" in m and "train_seconds" in m:
            cells = [what, _pct(m["test_accuracy"]), m["epochs"], f"{m['train_seconds']:.0f} s"]
            cells += [_wall_time(m), f"{m['parameters']:,}"]
            lines.append(_row(cells))
    if not _metrics(out, "task1_template"):
        lines += [
            "",
            (
                "*The template's own 15 epochs are not a step of this run: on a 2-core CPU they "
                "take hours (see the README). `python task1_train_mnist.py --template` adds them "
                "to this table; stopped with Ctrl-C, the same command carries them on.*"
            ),
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
    """Extension 4: the Gabor conv1 against the learned one, mean ± sd over seeds, and its
    figures."""
    m = _metrics(out, "ext_gabor")
    if "summary" not in m:
        return ["*ext_gabor.py wrote no metrics.json.*", ""]
    s = m["summary"]
    lines = [
        (
            f"MNIST, {m['train_n']} training and {m['test_n']} test images, {m['epochs']} "
            "epoch(s) of the report's recipe; conv1 either 10 fixed Gabor kernels (frozen, zero "
            f"bias) or learned; seeds {', '.join(map(str, m['seeds']))}, the same start for the "
            "other layers and the same batches per seed."
        ),
        "",
        "| conv1 | test accuracy, mean ± sd | per seed |",
        "| --- | --- | --- |",
    ]
    for c in ("gabor", "learned"):
        per_seed = ", ".join(f"{100 * a:.2f}" for a in s[c]["accuracies"])
        lines.append(_row([c, _mean_sd(s[c]), per_seed]))
    spread = (
        ""
        if s["spread"] is None
        else f" against a seed-to-seed sd of up to {100 * s['spread']:.2f}"
    )
    paired = ""
    if s.get("paired_sd") is not None:
        differences = ", ".join(f"{100 * d:+.2f}" for d in s["paired_differences"])
        paired = (
            f" Seed by seed (the same start and batches): {differences} points, "
            f"sd {100 * s['paired_sd']:.2f}."
        )
    difference = f"{100 * s['difference']:+.2f} points{spread}: {s['verdict']}.{paired}"
    lines += ["", f"Difference (Gabor − learned): {difference}", ""]
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
                f"fc1's features of {what} ({e['points']} points, {e['misclassified']} "
                f"misclassified ringed) by PCA and t-SNE (perplexity {e['perplexity']:.3g}, "
                f"random state {e['random_state']}; t-SNE {e['seconds']['t-SNE']:.1f} s).",
            )
    return lines


def _row(cells):
    """One row of a Markdown table."""
    return "| " + " | ".join(map(str, cells)) + " |"


def write(out, results, quick, wall=None):
    """Write out/REPORT.md from what the steps wrote there; `results`: steps.json's records, by
    step; `quick`: whether the run was --quick; `wall`: the run's wall time in seconds (None:
    the steps' times added up).  Returns the report's path."""
    lines = [
        "# Recognition using Deep Networks — reproduced",
        "",
        *_provenance(out, results, quick, wall),
        *_numbers_and_steps(out, results),
    ]
    for heading, figures in FIGURES.items():
        lines += [f"## {heading}", ""]
        if heading.startswith("Task 4"):
            lines += task4_sections(out)
        for number, step, caption in figures:
            lines += _numbered_figure(out, step, number, caption)
        if heading.startswith("Extensions") and results.get("alexnet", {}).get("note"):
            lines += [
                (
                    f"*AlexNet ran in its {results['alexnet']['note']}. Its filters are "
                    "untrained, so Figs 18–19 show the method, not ImageNet's learned features.*"
                ),
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
        lines += _figure(out, step, name, caption)
    return files.write_text("\n".join(lines) + "\n", out / REPORT_NAME)


def _provenance(out, results, quick, wall):
    """When, how and on what the run was made."""
    mode = "quick mode (`--quick`: few epochs, small subsets, tiny grids)" if quick else "full run"
    device = _metrics(out, "task1").get("device", "cpu")
    steps = sum(r["seconds"] for r in results.values())
    took = f"wall time {clock(steps if wall is None else wall)}"
    if wall is not None and steps > 1.05 * wall:  # side by side, or steps of an earlier run
        took += f" (the steps' times add up to {clock(steps)})"
    return [
        (
            f"Written by `reproduce.py` on {datetime.now():%Y-%m-%d %H:%M}, {mode}; {took}. "
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"torchvision {torchvision.__version__}, device {device}, {platform.machine()}."
        ),
        "",
    ]


def _numbers_and_steps(out, results):
    """The paper's numbers beside ours, then each step's status and wall time."""
    lines = [
        "## The report's numbers beside ours",
        "",
        "| quantity | report | measured |",
        "| --- | --- | --- |",
        *(_row(row) for row in paper_vs_measured(out)),
        "",
        (
            "Task 3 and its extensions run the report's protocol: the course's GreekTransform "
            "(`--pipeline course`) on the course-sized letters `data/greek_train` and "
            "`data/greek_test`."
        ),
        "",
        "| step | status | wall time |",
        "| --- | --- | --- |",
    ]
    for r in results.values():
        status = (
            "ok" if r["returncode"] == 0 else f"**failed** (exit {r['returncode']}): {r['error']}"
        )
        if r["note"]:
            status += f" — {r['note']}"
        lines.append(_row([r["title"], status, f"{r['seconds']:.0f} s"]))
    return [*lines, ""]


def _numbered_figure(out, step, number, caption):
    """Fig `number` of the report from `step`'s folder: an image, a text figure as a code block,
    or a line saying it is missing."""
    path = _find(out, step, number)
    if path is None:
        return [f"**Fig {number}** — missing: {step} did not write it.", ""]
    if path.suffix == ".txt":
        return [f"**Fig {number}.** {caption}", "", "```", path.read_text().rstrip(), "```", ""]
    link = f"![Fig {number}]({path.relative_to(out).as_posix()})"
    return [link, "", f"**Fig {number}.** {caption}", ""]
