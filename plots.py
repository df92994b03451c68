"""Every kind of figure the task scripts draw, each drawn by one function.

Each function takes numbers and arrays, draws one matplotlib figure, writes it
with `save` and returns the path; nothing here opens a window unless asked to.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # render to files; `save(..., show=True)` switches to a window when one is wanted
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402


def save(fig, path, show=False):
    """Write `fig` to `path` (folders made as needed), optionally show it, and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    if show:
        plt.show()
    plt.close(fig)
    return path


def image_grid(images, titles, path, rows=None, cols=None, suptitle=None, cmap="gray", show=False,
               title_colors=None):
    """Images (N, H, W) in a rows x cols grid, each with its title (Figs 1, 7, 8, 11, 16)."""
    n = len(images)
    cols = cols or min(n, 5)
    rows = rows or -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.1 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(np.asarray(images[i]), cmap=cmap, interpolation="none")
            color = title_colors[i] if title_colors is not None else "black"
            ax.set_title(titles[i], fontsize=10, color=color)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return save(fig, path, show)


def loss_curves(history, path, title="Training and test loss", show=False):
    """Fig 5: train loss (logged during training) and test loss against examples seen; accuracy per epoch."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    seen, loss = zip(*history["train_log"]) if history["train_log"] else ((), ())
    ax.plot(seen, loss, color="tab:blue", lw=0.8, label="train loss (per logged batch)")
    epochs = history["epochs"]
    ax.scatter([e["seen"] for e in epochs], [e["test_loss"] for e in epochs], color="tab:red", zorder=3,
               label="test loss")
    if "train_eval_loss" in epochs[0]:
        ax.plot([e["seen"] for e in epochs], [e["train_eval_loss"] for e in epochs], "o--", color="tab:green",
                ms=4, label="train loss (whole set, eval mode)")
    ax.set(xlabel="number of training examples seen", ylabel="negative log likelihood loss", title=title)
    ax.legend()
    ax2.plot([e["epoch"] for e in epochs], [100 * e["test_accuracy"] for e in epochs], "o-", color="tab:red",
             label="test")
    if "train_accuracy" in epochs[0]:
        ax2.plot([e["epoch"] for e in epochs], [100 * e["train_accuracy"] for e in epochs], "o--",
                 color="tab:green", label="train")
    lo = min(100 * e["test_accuracy"] for e in epochs[1:]) if len(epochs) > 1 else 0
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy after each epoch", ylim=(max(0, lo - 2), 100))
    ax2.legend()
    fig.tight_layout()
    return save(fig, path, show)


# ---- task 3: Greek letters (transfer learning)

def error_curves(history, path, title="Training and test error", show=False):
    """Fig 12: loss and error rate on the training set, with the test set beside it, after each epoch."""
    epochs = history["epochs"]
    ep = [e["epoch"] for e in epochs]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax.plot(ep, [e["train_eval_loss"] for e in epochs], "o-", color="tab:blue", ms=4, label="training set")
    ax.plot(ep, [e["test_loss"] for e in epochs], "s--", color="tab:red", ms=4, label="test set")
    ax.set(xlabel="epoch", ylabel="negative log likelihood loss", title="Loss")
    ax.legend()
    ax2.plot(ep, [100 * (1 - e["train_accuracy"]) for e in epochs], "o-", color="tab:blue", ms=4,
             label="training set")
    ax2.plot(ep, [100 * (1 - e["test_accuracy"]) for e in epochs], "s--", color="tab:red", ms=4, label="test set")
    ax2.set(xlabel="epoch", ylabel="error (% misclassified)", title="Error rate", ylim=(-3, 103))
    ax2.legend()
    for a in (ax, ax2):
        a.grid(alpha=0.3)
        a.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path, show)


def confusion_matrix(counts, class_names, path, title="Confusion matrix", show=False):
    """counts[true, predicted] as a heat map with the count in each cell."""
    counts = np.asarray(counts)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.1 * k + 2, 1.1 * k + 1.5))
    ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(1, counts.max()))
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xticks(range(k), class_names, rotation=30)
    ax.set_yticks(range(k), class_names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    return save(fig, path, show)


def sweep_curves(runs, path, title="Train and test loss against examples seen", show=False):
    """Fig 17: one colour per run; training loss (solid) and test loss (dashed) against examples seen.

    `runs` = [(label, history from training.fit), ...]; a star marks each run's lowest test loss,
    after which the test loss rises while the training loss keeps falling: overfitting.
    """
    fig, ax = plt.subplots(figsize=(9, 5))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(runs)))
    for (label, history), c in zip(runs, colors):
        epochs = history["epochs"][1:]  # from the end of epoch 1: the log axis has no 0
        seen = [e["seen"] for e in epochs]
        test = [e["test_loss"] for e in epochs]
        ax.plot(seen, [e["train_eval_loss"] for e in epochs], "-", color=c, lw=1.5, label=f"{label}: train")
        ax.plot(seen, test, "--", color=c, lw=1.5, label=f"{label}: test")
        best = int(np.argmin(test))
        ax.plot(seen[best], test[best], "*", color=c, ms=14, mec="black")
    ax.plot([], [], "*", color="gray", ms=12, mec="black", label="lowest test loss")
    ax.set(xscale="log", yscale="log", xlabel="number of training examples seen (log scale)",
           ylabel="negative log likelihood loss (log scale)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return save(fig, path, show)
