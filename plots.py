"""Every kind of figure the task scripts draw, each drawn by one function.

Each function takes numbers and arrays, draws one matplotlib figure, writes it
with `save` and returns the path; nothing here opens a window unless asked to.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # render to files; `save(..., show=True)` switches to a window when one is wanted
import matplotlib.pyplot as plt  # noqa: E402
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
    fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols, 2.35 * rows), squeeze=False)
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
    trained = epochs[1:] or epochs  # epoch 0 is the untrained net: ~10 %, off the scale
    ax2.plot([e["epoch"] for e in trained], [100 * e["test_accuracy"] for e in trained], "o-", color="tab:red",
             label="test")
    if "train_accuracy" in epochs[0]:
        ax2.plot([e["epoch"] for e in trained], [100 * e["train_accuracy"] for e in trained], "o--",
                 color="tab:green", label="train")
    lo = min(100 * e["test_accuracy"] for e in trained)
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy after each epoch",
            ylim=(max(0, lo - 1), 100))
    ax2.xaxis.get_major_locator().set_params(integer=True)
    ax2.legend()
    fig.tight_layout()
    return save(fig, path, show)
