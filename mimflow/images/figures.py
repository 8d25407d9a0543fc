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
