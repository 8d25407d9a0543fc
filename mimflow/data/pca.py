"""PCA Fashion-MNIST (spec 1.5): `pca-fashion-mnist<k>`, k principal components of the raw pixels.

fit "per_split" (the original): each split gets its own sklearn PCA (mean-centred, no whitening)
fitted on its own raw images / 255, so train and test coordinates live in different bases.
fit "train": one basis, fitted on the training images, projects both splits.
Training images are augmented (RandomAffine with p = 0.5) and dequantised afresh every pass before
projection; test images are only scaled to [0, 1].
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import torch

from .augment import AffineAugment, dequantize, random_affine

PCA_NAME = re.compile(r"^pca-fashion-mnist(?P<k>[0-9]+)$")
PCA_FITS = ("per_split", "train")


def pca_components(name: str) -> int:
    match = PCA_NAME.match(name)
    if match is None:
        raise ValueError(f"dataset {name!r} is not pca-fashion-mnist<k>")
    return int(match["k"])


def fit_pca(images_uint8: torch.Tensor, n_components: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """sklearn PCA on flattened images / data.max(); returns mean, components (k, 784), explained fraction."""
    from sklearn.decomposition import PCA

    x = images_uint8.reshape(len(images_uint8), -1).numpy().astype(np.float64)
    x /= x.max()
    pca = PCA(n_components=n_components, svd_solver="full").fit(x)
    return (torch.tensor(pca.mean_, dtype=torch.float32), torch.tensor(pca.components_, dtype=torch.float32),
            float(pca.explained_variance_ratio_.sum()))


def build_pca_dataset(raw: dict[str, torch.Tensor], n_components: int, fit: str) -> dict:
    """The tensors a PCA run needs: raw train images (augmented at train time) and projected test points."""
    if fit not in PCA_FITS:
        raise ValueError(f"pca_fit {fit!r} is not one of {list(PCA_FITS)}")
    train_mean, train_basis, train_explained = fit_pca(raw["train_images"], n_components)
    if fit == "per_split":
        test_mean, test_basis, test_explained = fit_pca(raw["test_images"], n_components)
    else:
        test_mean, test_basis, test_explained = train_mean, train_basis, train_explained
    test = raw["test_images"].reshape(len(raw["test_images"]), -1).to(torch.float32) / 255.0
    return {
        "train_images": raw["train_images"].clone(), "train_labels": raw["train_labels"].clone(),
        "train_mean": train_mean, "train_basis": train_basis,
        "test_x": (test - test_mean) @ test_basis.T, "test_labels": raw["test_labels"].clone(),
        "fit": fit, "explained_variance": {"train": train_explained, "test": test_explained},
    }


@dataclass(frozen=True)
class PCASource:
    """A low-dimensional data stream over a built PCA dataset (drop_last passes in shuffled order)."""

    data: dict = field(repr=False)
    batch_size: int = 128
    augment: AffineAugment = AffineAugment()

    @property
    def x_dim(self) -> int:
        return self.data["train_basis"].shape[0]

    def _pass_size(self, n: int) -> int:
        return (n // self.batch_size) * self.batch_size

    def train_pass(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.data["train_images"], self.data["train_labels"]
        order = torch.randperm(len(images), generator=generator)[: self._pass_size(len(images))]
        batch = random_affine(images[order], self.augment, generator)
        pixels = dequantize(batch, generator).reshape(len(order), -1)
        return (pixels - self.data["train_mean"]) @ self.data["train_basis"].T, labels[order]

    def test_pass(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, labels = self.data["test_x"], self.data["test_labels"]
        order = torch.randperm(len(x), generator=generator)[: self._pass_size(len(x))]
        return x[order], labels[order]

    def true_log_prob(self, x: torch.Tensor) -> None:
        return None  # no known density for real data
