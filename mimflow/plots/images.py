"""Figures of the image runs (spec 6.5): sample and reconstruction grids, t-SNE of the latents, pseudo-inputs."""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import style  # noqa: F401  (selects the Agg backend)


def as_images(rows: np.ndarray, dataset: str) -> np.ndarray:
    """(n, 784) -> (n, 28, 28); OMNIGLOT rows are stored in the original's Fortran order."""
    order = "F" if dataset == "omniglot" else "C"
    return np.stack([r.reshape(28, 28, order=order) for r in np.asarray(rows)])


def image_grid(images: np.ndarray, path: str | Path, columns: int = 8, title: str | None = None,
               row_labels: list[str] | None = None, dpi: int = 100) -> None:
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
    fig.savefig(path)
    plt.close(fig)


def real_recon_grid(real: np.ndarray, recon: np.ndarray, path: str | Path, title: str | None = None) -> None:
    """Alternating rows of 8 real test images and their 8 reconstructions."""
    n = min(len(real), len(recon))
    columns = min(8, n)
    rows, labels = [], []
    for start in range(0, n - n % columns, columns):
        rows += [real[start:start + columns], recon[start:start + columns]]
        labels += ["real", "recon."]
    image_grid(np.concatenate(rows), path, columns=columns, title=title, row_labels=labels)


def latent_tsne(z: np.ndarray, labels: np.ndarray, path: str | Path, seed: int, title: str | None = None,
                dpi: int = 120) -> None:
    """t-SNE (sklearn defaults, perplexity capped below n) of test latents, one colour per class, with a legend."""
    from sklearn.manifold import TSNE

    perplexity = min(30.0, max(2.0, (len(z) - 1) / 3))
    embedding = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(z)
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
    fig.savefig(path)
    plt.close(fig)
