"""Every kind of figure the task scripts draw, each drawn by one function.

Each function takes numbers and arrays, draws one matplotlib figure, writes it
atomically with `save` and returns the path.  Figures render to files (Agg); with
`show=True` a figure stays open, and `show_windows` opens every such figure at the
end of the run, once `use_windows` has found a display.
"""

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # render to files; use_windows() switches to a window backend for --show
import matplotlib.pyplot as plt
import matplotlib.rcsetup
import matplotlib.ticker
import numpy as np

from recognition import files

FILE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def use_windows():
    """Switch to a backend that opens windows ($MPLBACKEND, or the first that works here).

    Returns whether one was found; without a display, says so in one warning line and the
    run goes on writing its figures to files.
    """
    wanted = os.environ.get("MPLBACKEND") or matplotlib.rcsetup._auto_backend_sentinel
    try:
        plt.switch_backend(wanted)
    except (ImportError, ValueError, RuntimeError) as e:
        plt.switch_backend("Agg")
        warnings.warn(f"--show: cannot open windows ({e}); figures are written to files only")
        return False
    if matplotlib.get_backend().lower() in FILE_BACKENDS:
        warnings.warn(
            "--show: no display available, so the figures are written to files but not shown"
        )
        return False
    return True


def show_windows():
    """Open the figures that were saved with show=True and wait until their windows are closed."""
    if plt.get_fignums() and matplotlib.get_backend().lower() not in FILE_BACKENDS:
        plt.show()


def save(fig, path, show=False):
    """Write `fig` to `path` atomically (folders made as needed); keep it open if `show`.

    A figure kept open is shown by show_windows at the end of the run.
    """
    path = Path(path)
    with files.atomic_path(path) as tmp:
        # PNG compression level 1: the same pixels, encoded about 4x faster than the default 6
        fig.savefig(
            tmp,
            format=path.suffix.lstrip(".") or "png",
            dpi=120,
            bbox_inches="tight",
            pil_kwargs={"compress_level": 1} if path.suffix.lower() == ".png" else None,
        )
    if not show:
        plt.close(fig)
    return path


def image_grid(
    images,
    titles,
    path,
    rows=None,
    cols=None,
    suptitle=None,
    show=False,
    title_colors=None,
    overlays=None,
):
    """Grey images (N, H, W) in a rows x cols grid, each with its title (Figs 1, 4, 7, 8, 11, 16).

    None in `images` leaves a cell empty.

    `overlays` (N, H, W) in [0, 1], if given, are laid over the images as heat maps (Grad-CAM).
    """
    n = len(images)
    cols = cols or min(n, 5)
    rows = rows or -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols, 2.35 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        # hidden anyway; without ticks the tight bounding box is found faster
        ax.set(xticks=[], yticks=[])
        if i >= n or images[i] is None:  # None: an empty cell, to keep rows aligned
            continue
        ax.imshow(np.asarray(images[i]), cmap="gray", interpolation="none")
        if overlays is not None:
            m = np.clip(np.asarray(overlays[i], dtype=np.float32), 0, 1)
            heat = plt.get_cmap("jet")(m)
            heat[..., 3] = 0.75 * np.sqrt(m)  # no evidence = transparent: the image stays visible
            ax.imshow(heat, interpolation="bilinear")
        color = title_colors[i] if title_colors is not None else "black"
        ax.set_title(titles[i], fontsize=10 if overlays is None else 9, color=color)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return save(fig, path, show)


def loss_curves(history, path, title="Training and test loss", show=False):
    """Fig 5: train and test loss against examples seen (train: as logged); accuracy by epoch."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    seen, loss = zip(*history["train_log"]) if history["train_log"] else ((), ())
    ax.plot(seen, loss, color="tab:blue", lw=0.8, label="train loss (per logged batch)")
    epochs = history["epochs"]
    ax.scatter(
        [e["seen"] for e in epochs],
        [e["test_loss"] for e in epochs],
        color="tab:red",
        zorder=3,
        label="test loss",
    )
    if "train_eval_loss" in epochs[0]:
        ax.plot(
            [e["seen"] for e in epochs],
            [e["train_eval_loss"] for e in epochs],
            "o--",
            color="tab:green",
            ms=4,
            label="train loss (eval mode, up to 10 000 training images)",
        )
    ax.set(
        xlabel="number of training examples seen",
        ylabel="negative log likelihood loss",
        title=title,
    )
    ax.legend()
    trained = epochs[1:] or epochs  # epoch 0 is the untrained net: ~10 %, off the scale
    ax2.plot(
        [e["epoch"] for e in trained],
        [100 * e["test_accuracy"] for e in trained],
        "o-",
        color="tab:red",
        label="test",
    )
    if "train_accuracy" in epochs[0]:
        ax2.plot(
            [e["epoch"] for e in trained],
            [100 * e["train_accuracy"] for e in trained],
            "o--",
            color="tab:green",
            label="train",
        )
    lo = min(100 * e["test_accuracy"] for e in trained)
    ax2.set(
        xlabel="epoch",
        ylabel="accuracy (%)",
        title="Accuracy after each epoch",
        ylim=(max(0, lo - 1), 100),
    )
    ax2.xaxis.get_major_locator().set_params(integer=True)
    ax2.legend()
    fig.tight_layout()
    return save(fig, path, show)


# ---- task 2 and the AlexNet extension: filters, their responses, where a network looks


def _filter_image(ax, f, vmax):
    """Draw a filter: (kh, kw) weights blue-white-red, centred at 0; (kh, kw, 3) ones in colour."""
    f = np.asarray(f, dtype=np.float32)
    if f.ndim == 3:  # a colour filter: stretch its weights to [0, 1], so 0.5 grey is "weight 0-ish"
        lo, hi = float(f.min()), float(f.max())
        ax.imshow((f - lo) / max(hi - lo, 1e-12), interpolation="nearest")
        return None
    return ax.imshow(f, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")


def _weight_scale(filters):
    """One symmetric colour range for all single-channel filters, so that their weights compare."""
    gray = [np.abs(np.asarray(f)).max() for f in filters if np.asarray(f).ndim == 2]
    return max(gray) if gray else 1.0


def filter_grid(filters, titles, path, cols=None, suptitle=None, show=False):
    """Filters in a grid, each titled (Fig 9; all 64 first-layer AlexNet filters).

    filters: a list of (kh, kw) weight arrays (drawn red > 0, blue < 0, one scale for all,
    with a colour bar) or (kh, kw, 3) colour filters (each stretched to [0, 1]).
    """
    n = len(filters)
    cols = cols or min(n, 4)
    rows = -(-n // cols)
    vmax = _weight_scale(filters)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols + 0.8, 1.9 * rows), squeeze=False)
    mappable = None
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            mappable = _filter_image(ax, filters[i], vmax) or mappable
            if titles:
                ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    if mappable is not None:
        fig.colorbar(mappable, ax=axes.ravel().tolist(), shrink=0.8, label="weight")
    return save(fig, path, show)


def filter_response_grid(
    filters,
    responses,
    path,
    filter_titles=None,
    cols=5,
    source=None,
    source_title=None,
    suptitle=None,
    show=False,
):
    """Each filter drawn above its response to one image (Figs 10, 18, 19).

    For 10 filters in 5 columns this is the report's layout: 4 rows of 5.
    filters: (kh, kw) or (kh, kw, 3) arrays as in `filter_grid`; responses: (H, W) arrays,
    each drawn in grey on its own scale (white = strongest positive response).
    `source`, an (H, W) or (H, W, 3) image, is drawn at the left: the image the filters saw.
    """
    n = len(filters)
    pair_rows = -(-n // cols)
    extra = 1 if source is not None else 0
    vmax = _weight_scale(filters)
    fig = plt.figure(figsize=(1.9 * (cols + extra) + 0.3, 2.0 * 2 * pair_rows))
    grid = fig.add_gridspec(2 * pair_rows, cols + extra)
    if source is not None:
        ax = fig.add_subplot(grid[0:2, 0])
        src = np.asarray(source)
        ax.imshow(src, cmap="gray" if src.ndim == 2 else None, interpolation="nearest")
        ax.set_title(source_title or "input", fontsize=9)
        ax.axis("off")
    for i in range(n):
        r, c = 2 * (i // cols), extra + i % cols
        ax = fig.add_subplot(grid[r, c])
        _filter_image(ax, filters[i], vmax)
        ax.set_title(filter_titles[i] if filter_titles else f"filter {i}", fontsize=9)
        ax.axis("off")
        ax = fig.add_subplot(grid[r + 1, c])
        ax.imshow(np.asarray(responses[i]), cmap="gray", interpolation="nearest")
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return save(fig, path, show)


# ---- task 3: Greek letters (transfer learning)


def error_curves(history, path, title="Training and test error", show=False):
    """Fig 12: loss and error rate on the training and the test set after each epoch."""
    epochs = history["epochs"]
    ep = [e["epoch"] for e in epochs]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax.plot(
        ep,
        [e["train_eval_loss"] for e in epochs],
        "o-",
        color="tab:blue",
        ms=4,
        label="training set",
    )
    ax.plot(ep, [e["test_loss"] for e in epochs], "s--", color="tab:red", ms=4, label="test set")
    ax.set(xlabel="epoch", ylabel="negative log likelihood loss", title="Loss")
    ax.legend()
    ax2.plot(
        ep,
        [100 * (1 - e["train_accuracy"]) for e in epochs],
        "o-",
        color="tab:blue",
        ms=4,
        label="training set",
    )
    ax2.plot(
        ep,
        [100 * (1 - e["test_accuracy"]) for e in epochs],
        "s--",
        color="tab:red",
        ms=4,
        label="test set",
    )
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
            ax.text(
                j,
                i,
                str(counts[i, j]),
                ha="center",
                va="center",
                color="white" if counts[i, j] > counts.max() / 2 else "black",
            )
    ax.set_xticks(range(k), class_names, rotation=30)
    ax.set_yticks(range(k), class_names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    return save(fig, path, show)


def sweep_curves(runs, path, title="Train and test loss against examples seen", show=False):
    """Fig 17: a colour per run; training loss (solid) and test loss (dashed) against examples seen.

    `runs` = [(label, history from training.fit), ...]; a star marks each run's lowest test loss,
    after which the test loss rises while the training loss keeps falling: overfitting.
    """
    fig, ax = plt.subplots(figsize=(9, 5))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(runs)))
    for (label, history), c in zip(runs, colors):
        epochs = history["epochs"][1:]  # from the end of epoch 1: the log axis has no 0
        seen = [e["seen"] for e in epochs]
        test = [e["test_loss"] for e in epochs]
        ax.plot(
            seen,
            [e["train_eval_loss"] for e in epochs],
            "-",
            color=c,
            lw=1.5,
            label=f"{label}: train",
        )
        ax.plot(seen, test, "--", color=c, lw=1.5, label=f"{label}: test")
        best = int(np.argmin(test))
        ax.plot(seen[best], test[best], "*", color=c, ms=14, mec="black")
    ax.plot([], [], "*", color="gray", ms=12, mec="black", label="lowest test loss")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="number of training examples seen (log scale)",
        ylabel="negative log likelihood loss (log scale)",
        title=title,
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return save(fig, path, show)


# ---- task 4: FashionMNIST sweep


def network_diagram(layers, path, title="The network", show=False):
    """Fig 15: the network as a row of boxes, one per layer, each labelled with its output size.

    `layers` is a list of (name, detail, shape) with shape the layer's output without the batch
    dimension, e.g. ("conv1", "10 filters 5x5", (10, 24, 24)); box heights grow with the size.
    """
    n = len(layers)
    fig, ax = plt.subplots(figsize=(1.55 * n + 0.6, 4.2))
    sizes = [float(np.prod(shape)) for _, _, shape in layers]
    big = max(sizes)
    colors = {
        "conv": "#4c72b0",
        "pool": "#55a868",
        "drop": "#c44e52",
        "fc": "#8172b2",
        "flat": "#937860",
        "patch": "#4c72b0",
        "embed": "#64b5cd",
        "enc": "#dd8452",
    }
    for i, ((name, detail, shape), size) in enumerate(zip(layers, sizes)):
        h = 0.6 + 2.4 * np.sqrt(size / big)  # area-like scaling keeps the 10-unit output visible
        kind = next((k for k in colors if name.startswith(k)), None)
        color = colors.get(kind, "#8c8c8c")
        ax.add_patch(
            matplotlib.patches.FancyBboxPatch(
                (i - 0.38, -h / 2),
                0.76,
                h,
                boxstyle="round,pad=0.02",
                fc=color,
                ec="black",
                alpha=0.85,
            )
        )
        shape_text = " x ".join(str(s) for s in shape)
        ax.text(i, h / 2 + 0.15, name, ha="center", va="bottom", fontsize=10, weight="bold")
        ax.text(i, -h / 2 - 0.15, f"{shape_text}\n{detail}", ha="center", va="top", fontsize=8.5)
        if i:
            ax.annotate(
                "", xy=(i - 0.4, 0), xytext=(i - 0.6, 0), arrowprops={"arrowstyle": "->", "lw": 1.2}
            )
    ax.set(xlim=(-0.6, n - 0.4), ylim=(-3.2, 2.4), title=title)
    ax.axis("off")
    fig.tight_layout()
    return save(fig, path, show)


def accuracy_vs_dimension(panels, path, title="Test accuracy against each dimension", show=False):
    """A panel per dimension: mean test accuracy (%) against its values, other dimensions averaged.

    `panels` is a list of (label, xs, means, stds) with accuracies as fractions; `stds` None for
    no error bars.
    """
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels), 3.8), sharey=True, squeeze=False
    )
    for ax, (label, xs, means, stds) in zip(axes[0], panels):
        means = 100 * np.asarray(means, dtype=float)
        err = None if stds is None else 100 * np.asarray(stds, dtype=float)
        ax.errorbar(xs, means, yerr=err, fmt="o-", capsize=4, color="tab:blue")
        for x, m in zip(xs, means):
            ax.annotate(
                f"{m:.2f}",
                (x, m),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
            )
        ax.set(xlabel=label, xticks=list(xs))
        ax.margins(x=0.08, y=0.15)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path, show)


def heatmaps(
    grids,
    row_values,
    col_values,
    titles,
    path,
    row_label="",
    col_label="",
    suptitle=None,
    show=False,
):
    """An annotated heatmap per grid (accuracies as fractions, rows x cols), one colour scale."""
    grids = [100 * np.asarray(g, dtype=float) for g in grids]
    vmin, vmax = min(np.nanmin(g) for g in grids), max(np.nanmax(g) for g in grids)
    fig, axes = plt.subplots(
        1,
        len(grids),
        figsize=(0.75 * len(col_values) * len(grids) + 2.2, 0.6 * len(row_values) + 1.8),
        squeeze=False,
        layout="constrained",
    )
    for ax, grid, title in zip(axes[0], grids, titles):
        im = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
        for r in range(grid.shape[0]):
            for c in range(grid.shape[1]):
                light = grid[r, c] < vmin + 0.6 * (vmax - vmin)
                ax.text(
                    c,
                    r,
                    f"{grid[r, c]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if light else "black",
                )
        ax.set(
            xticks=range(len(col_values)),
            xticklabels=col_values,
            yticks=range(len(row_values)),
            yticklabels=row_values,
            xlabel=col_label,
            title=title,
        )
    axes[0][0].set_ylabel(row_label)
    fig.colorbar(im, ax=list(axes[0]), label="test accuracy (%)", shrink=0.9)
    if suptitle:
        fig.suptitle(suptitle)
    return save(fig, path, show)


def parallel_coordinates(names, table, path, title="All variations", show=False):
    """Parallel coordinates: a line per row of `table` (rows x len(names)), coloured by the last.

    Each axis is scaled to its own range and labelled with its values (at most 6 ticks).
    """
    table = np.asarray(table, dtype=float)
    lo, hi = table.min(0), table.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = (table - lo) / span
    fig, ax = plt.subplots(figsize=(2.4 * len(names) + 1, 4.6))
    cmap = plt.get_cmap("viridis")
    color = scaled[:, -1]
    for i in np.argsort(color):  # best lines drawn last, on top
        ax.plot(range(len(names)), scaled[i], color=cmap(color[i]), lw=1.4, alpha=0.85)
    for j, name in enumerate(names):
        ax.axvline(j, color="black", lw=0.8)
        values = np.unique(table[:, j])
        ticks = values if len(values) <= 6 else np.linspace(lo[j], hi[j], 6)
        for v in ticks:
            y = (v - lo[j]) / span[j]
            text = f"{100 * v:.1f}%" if j == len(names) - 1 else f"{v:g}"
            ax.text(
                j + 0.03,
                y,
                text,
                fontsize=8,
                va="center",
                bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 1},
            )
    ax.set(
        xticks=range(len(names)),
        xticklabels=names,
        yticks=[],
        xlim=(-0.2, len(names) - 0.6),
        title=title,
    )
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    sm = matplotlib.cm.ScalarMappable(
        cmap=cmap, norm=matplotlib.colors.Normalize(100 * lo[-1], 100 * hi[-1])
    )
    fig.colorbar(sm, ax=ax, label=f"{names[-1]} (%)")
    return save(fig, path, show)


# ---- what the network learned: feature maps (Tasks 1 and 3)


def embedding_map(
    maps,
    labels,
    class_names,
    path,
    groups=None,
    marked=None,
    marked_label="misclassified",
    title=None,
    show=False,
):
    """2-D maps of the same points side by side (PCA, t-SNE), coloured by class.

    maps: {method name: (N, 2)}; labels: (N,) class indices.
    groups: [(name, bool mask (N,), marker)] drawn with their own markers (default: one group of
    dots); marked: a bool mask (N,) of points ringed in black (misclassified ones).
    """
    labels = np.asarray(labels)
    groups = groups or [("", np.ones(len(labels), bool), "o")]
    colors = plt.get_cmap("tab10")(np.arange(len(class_names)) % 10)
    size = 6 if len(labels) > 3000 else 12 if len(labels) > 300 else 40
    fig, axes = plt.subplots(1, len(maps), figsize=(6.2 * len(maps), 5.8), squeeze=False)
    for ax, (method, xy) in zip(axes[0], maps.items()):
        xy = np.asarray(xy)
        for name, mask, marker in groups:
            ax.scatter(
                xy[mask, 0],
                xy[mask, 1],
                c=colors[labels[mask]],
                s=size,
                marker=marker,
                alpha=0.75,
                linewidths=0,
            )
        if marked is not None and np.any(marked):
            ax.scatter(
                xy[marked, 0],
                xy[marked, 1],
                s=size * 5,
                facecolors="none",
                edgecolors="black",
                linewidths=1.0,
            )
        ax.set(title=method, xticks=[], yticks=[])
    handles = [
        matplotlib.lines.Line2D([], [], marker="o", ls="", color=colors[i], label=c)
        for i, c in enumerate(class_names)
    ]
    handles += [
        matplotlib.lines.Line2D([], [], marker=m, ls="", color="gray", label=n)
        for n, _, m in groups
        if n
    ]
    if marked is not None and np.any(marked):
        handles.append(
            matplotlib.lines.Line2D(
                [],
                [],
                marker="o",
                ls="",
                mfc="none",
                mec="black",
                label=f"{marked_label} ({int(np.sum(marked))})",
            )
        )
    fig.legend(handles=handles, loc="center right", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    return save(fig, path, show)


def sheet_figure(
    photo, boxes, size, titles, inputs, path, title_colors=None, suptitle=None, show=False
):
    """A sheet read whole: the photo (RGB) with each character's box (x, y, w, h, in a photo of
    `size` (width, height): the full photo where `photo` is it scaled down) and title (its
    prediction and probability), and the 28x28 inputs below in reading order, numbered as the
    boxes are (Task 1 part G on one photo, fig08_handwritten_sheet.png)."""
    colors = title_colors or ["tab:blue"] * len(boxes)
    scale = photo.shape[1] / size[0]
    boxes = [[v * scale for v in box] for box in boxes]
    cols = min(10, len(inputs))
    rows = -(-len(inputs) // cols)
    h, w = photo.shape[:2]
    photo_height = 7.0 * h / w
    fig = plt.figure(figsize=(7.0, photo_height + 0.9 * rows + 0.4))
    grid = fig.add_gridspec(1 + rows, cols, height_ratios=[photo_height] + [0.9] * rows)
    ax = fig.add_subplot(grid[0, :])
    ax.imshow(photo, interpolation="antialiased")
    ax.set(xticks=[], yticks=[])
    for i, ((x, y, bw, bh), title, color) in enumerate(zip(boxes, titles, colors)):
        ax.add_patch(plt.Rectangle((x, y), bw, bh, fill=False, edgecolor=color, linewidth=1.5))
        ax.text(
            x,
            y,
            f"{i + 1}: {title}",
            color="white",
            fontsize=7,
            va="bottom",
            bbox={"facecolor": color, "edgecolor": "none", "pad": 1, "alpha": 0.85},
        )
    for i, (x, title, color) in enumerate(zip(inputs, titles, colors)):
        cell = fig.add_subplot(grid[1 + i // cols, i % cols])
        cell.imshow(np.asarray(x), cmap="gray", vmin=0, vmax=1, interpolation="none")
        cell.set(xticks=[], yticks=[])
        cell.set_title(f"{i + 1}: {title.split()[0]}", fontsize=8, color=color)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return save(fig, path, show)
