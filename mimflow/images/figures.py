"""Figures of the image runs (spec 6.5): sample and reconstruction grids, t-SNE of the latents, pseudo-inputs,
the histogram of the per-image test NLL.

Pure drawing: arrays in, a matplotlib Figure out (the t-SNE itself is mimflow.images.evaluate.tsne_embedding).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # jobs have no display

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..registry import image_root


def as_images(rows: np.ndarray, dataset: str) -> np.ndarray:
    """(n, 784) -> (n, 28, 28); OMNIGLOT rows are stored in the original's Fortran order."""
    order = "F" if image_root(dataset) == "omniglot" else "C"
    return np.stack([r.reshape(28, 28, order=order) for r in np.asarray(rows)])


def image_grid(images: np.ndarray, columns: int = 8, title: str | None = None,
               row_labels: list[str] | None = None, dpi: int = 100) -> Figure:
    n = len(images)
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 0.9 + (0.4 if title else 0)), dpi=dpi,
                             squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if index < n:
            ax.imshow(images[index], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    if row_labels:
        for r, label in enumerate(row_labels[:rows]):
            axes[r, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    top = 1.0
    if title:
        wrapped = textwrap.fill(title, 10 * columns)
        fig.suptitle(wrapped, fontsize=8)
        top = 1.0 - 0.17 * (wrapped.count("\n") + 1) / fig.get_figheight()
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, top))
    return fig


def real_recon_grid(real: np.ndarray, recon: np.ndarray, title: str | None = None) -> Figure:
    """Alternating rows of 8 real test images and their 8 reconstructions."""
    n = min(len(real), len(recon))
    columns = min(8, n)
    rows, labels = [], []
    for start in range(0, n - n % columns, columns):
        rows += [real[start:start + columns], recon[start:start + columns]]
        labels += ["real", "recon."]
    return image_grid(np.concatenate(rows), columns=columns, title=title, row_labels=labels)


def latent_scatter(embedding: np.ndarray, labels: np.ndarray, title: str | None = None, dpi: int = 120) -> Figure:
    """A 2-D embedding (t-SNE) of test latents, one colour per class, with a legend."""
    classes = np.unique(labels)
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(6, 5), dpi=dpi)
    for index, cls in enumerate(classes):
        mask = labels == cls
        ax.scatter(embedding[mask, 0], embedding[mask, 1], s=2, color=cmap(index / max(len(classes), 1)),
                   label=str(cls))
    ax.set_xticks([]), ax.set_yticks([])
    if len(classes) <= 20:
        ax.legend(markerscale=4, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), title="class")
    if title:
        ax.set_title(textwrap.fill(title, 70), fontsize=9)
    fig.tight_layout()
    return fig


def nll_histogram(nll: np.ndarray, title: str | None = None, dpi: int = 100) -> Figure:
    """The original's histogram_test.png: 100 bins of the per-image importance-sampled test NLL, as a density."""
    nll = np.asarray(nll, dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=dpi)
    ax.hist(nll[np.isfinite(nll)], bins=100, density=True, facecolor="blue", alpha=0.5)
    ax.set_xlabel("test NLL per image (nats)")
    ax.set_ylabel("density")
    ax.grid(True)
    if title:
        ax.set_title(textwrap.fill(title, 70), fontsize=9)
    fig.tight_layout()
    return fig


SHOWCASE_COLUMNS = ("samples", "test images and reconstructions", "t-SNE of the test latents")


def showcase_figure(panels: list[list[np.ndarray]], row_labels: list[str], title: str, dpi: int = 150) -> Figure:
    """The seed README's picture of one dataset: one row per model (its label beside it), one titled column
    each for samples, reconstructions and the t-SNE of the latents; panels[row][column] are the rendered
    per-run figures (RGB(A) arrays), shown as they are."""
    rows, columns = len(panels), len(SHOWCASE_COLUMNS)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 4.0 * rows + 0.5), dpi=dpi, squeeze=False)
    for r, row in enumerate(panels):
        for c, panel in enumerate(row):
            ax = axes[r, c]
            ax.imshow(panel, interpolation="lanczos")
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if r == 0:
                ax.set_title(SHOWCASE_COLUMNS[c], fontsize=11)
        axes[r, 0].set_ylabel(textwrap.fill(row_labels[r], 28), fontsize=10)
    fig.suptitle(textwrap.fill(title, 120), fontsize=12)
    fig.tight_layout(pad=0.4, rect=(0, 0, 1, 0.97))
    return fig


def clustering_trajectory_figure(runs: list[dict], warmup: int, title: str, dpi: int = 120) -> Figure:
    """Clustering along training, one column of panels per measure (validation KNN accuracy, NMI of k-means,
    active units of q(z|x), and the validation loss that selects the best epoch), every run a colour.

    runs: dicts with `label`, `log` (a train_log.csv as a pandas DataFrame, clustering columns included) and
    `best_epoch`. The epoch where beta reaches 1 (the warm-up's end) is a grey line, each run's best epoch a
    dotted line of its colour. KNN5 is drawn solid, KNN1 dotted and KNN10 dashed.
    """
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), dpi=dpi)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, run in enumerate(runs):
        colour, log = colours[index % len(colours)], run["log"]
        scored = log.dropna(subset=["val_NMI"])
        for k, style in ((5, "-"), (1, ":"), (10, "--")):
            axes[0].plot(scored["epoch"], scored[f"val_KNN{k}"], style, color=colour, marker="." if k == 5 else None,
                         label=run["label"] if k == 5 else None)
        axes[1].plot(scored["epoch"], scored["val_NMI"], "-", marker=".", color=colour)
        axes[2].plot(scored["epoch"], scored["active_units_z1"] + scored["active_units_z2"], "-", marker=".",
                     color=colour)
        axes[3].plot(log["epoch"], log["val_loss"], "-", color=colour)
        for ax in axes:
            ax.axvline(run["best_epoch"], color=colour, linestyle=":", linewidth=1)
    for ax, ylabel in zip(axes, ("validation KNN accuracy (k = 5; 1 dotted, 10 dashed)", "validation NMI (k-means)",
                                 "active units of q(z|x) (z1 + z2)", "validation loss (nats)")):
        ax.axvline(warmup, color="0.6", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize=7, loc="best")
    axes[3].text(warmup, 1.0, " beta = 1", transform=axes[3].get_xaxis_transform(), fontsize=7, va="top",
                 color="0.4")
    fig.suptitle("\n".join(textwrap.wrap(title + " (dotted verticals: best epoch)", 140)), fontsize=9)
    fig.tight_layout()
    return fig
