"""PCA Fashion-MNIST (spec 1.5): `pca-fashion-mnist<k>`, k principal components of the raw pixels.

fit "per_split" (the original): each split gets its own sklearn PCA (mean-centred, no whitening)
fitted on its own raw images / 255, so train and test coordinates live in different bases.
fit "train": one basis, fitted on the training images, projects both splits.
Training images are augmented (RandomAffine with p = 0.5, geometry per the `affine_geometry` switch)
and dequantised afresh every pass before projection; test images are only scaled to [0, 1].

Component signs (fidelity switch `pca_sign`). A principal axis has no sign of its own; each fit picks one,
and with per-split fits that choice decides which test coordinates are mirrored against the train basis.
* "sklearn-0.21" (the original's scikit-learn 0.21.3): PCA(n_components=20) with svd_solver "auto" picks
  the randomized solver for a 60,000 x 784 (and 10,000 x 784) matrix (max dim > 500 and 20 < 0.8 * 784).
  randomized_svd (n_iter 7, 10 oversamples, LU power iterations, no transpose since rows > columns) ends
  with svd_flip(U, Vt) and its default u_based_decision=True: in each column of U the entry of largest
  magnitude is made positive. U's column j is the data's scores on component j divided by the singular
  value, so the sign makes the sample with the largest |score| on that component score positively.
* "sklearn-1.9" (scikit-learn 1.9, full SVD): svd_flip(u_based_decision=False), the largest-magnitude
  entry of each component (a pixel loading) is made positive.
We fit the exact components (full SVD) and then apply the convention (align_signs). 0.21's randomized
components are an approximation of these, started from the unseeded global NumPy RNG in the original,
so the exact ones are the reproducible limit of what it computed; the sign rule itself is deterministic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..core.settings import check_choice
from ..names import AFFINE_GEOMETRIES, PCA_SIGNS
from .augment import AffineAugment, dequantize_noise_, random_affine

PCA_NAME = re.compile(r"^pca-fashion-mnist(?P<k>[0-9]+)$")
PCA_FITS = ("per_split", "train")


def pca_components(name: str) -> int:
    match = PCA_NAME.match(name)
    if match is None:
        raise ValueError(f"dataset {name!r} is not pca-fashion-mnist<k>")
    return int(match["k"])


def align_signs(components: np.ndarray, scores: np.ndarray, convention: str) -> np.ndarray:
    """Per-component signs (+1/-1, shape (k,)) that put PCA components in a scikit-learn sign convention.

    components: (k, d) principal axes in any signs; scores: (n, k) the fitted data's coordinates on them,
    (X - mean) @ components.T. "sklearn-0.21": svd_flip on U (U = scores / singular values), the score of
    largest magnitude in each column becomes positive (the first such sample on ties). "sklearn-1.9":
    svd_flip on Vt, the loading of largest magnitude in each component becomes positive. The result does
    not depend on the signs given. A zero deciding entry (sklearn would zero the component) keeps +1.
    """
    check_choice("pca_sign", convention, PCA_SIGNS)
    if convention == "sklearn-0.21":
        deciding = scores[np.argmax(np.abs(scores), axis=0), np.arange(scores.shape[1])]
    else:
        deciding = components[np.arange(components.shape[0]), np.argmax(np.abs(components), axis=1)]
    return np.where(deciding < 0, -1.0, 1.0)


def fit_pca(images_uint8: torch.Tensor, n_components: int,
            sign: str = PCA_SIGNS[0]) -> tuple[torch.Tensor, torch.Tensor, float]:
    """PCA on flattened images / data.max() (mean-centred, no whitening, exact SVD), component signs in
    the given convention; returns mean, components (k, 784), explained fraction."""
    from sklearn.decomposition import PCA

    x = images_uint8.reshape(len(images_uint8), -1).numpy().astype(np.float64)
    x /= x.max()
    pca = PCA(n_components=n_components, svd_solver="full").fit(x)
    components = pca.components_ * align_signs(pca.components_, pca.transform(x), sign)[:, None]
    return (torch.tensor(pca.mean_, dtype=torch.float32), torch.tensor(components, dtype=torch.float32),
            float(pca.explained_variance_ratio_.sum()))


def build_pca_dataset(raw: dict[str, torch.Tensor], n_components: int, fit: str, pca_sign: str = PCA_SIGNS[0],
                      affine_geometry: str = AFFINE_GEOMETRIES[0]) -> dict:
    """The tensors a PCA run needs: raw train images (augmented at train time) and projected test points.

    The file records the switches it was built with (fit, pca_sign, affine_geometry); runs check them.
    """
    if fit not in PCA_FITS:
        raise ValueError(f"pca_fit {fit!r} is not one of {list(PCA_FITS)}")
    check_choice("pca_sign", pca_sign, PCA_SIGNS)
    check_choice("affine_geometry", affine_geometry, AFFINE_GEOMETRIES)
    train_mean, train_basis, train_explained = fit_pca(raw["train_images"], n_components, pca_sign)
    if fit == "per_split":
        test_mean, test_basis, test_explained = fit_pca(raw["test_images"], n_components, pca_sign)
    else:
        test_mean, test_basis, test_explained = train_mean, train_basis, train_explained
    test = raw["test_images"].reshape(len(raw["test_images"]), -1).to(torch.float32) / 255.0
    return {
        "train_images": raw["train_images"].clone(), "train_labels": raw["train_labels"].clone(),
        "train_mean": train_mean, "train_basis": train_basis,
        "test_x": (test - test_mean) @ test_basis.T, "test_labels": raw["test_labels"].clone(),
        "fit": fit, "pca_sign": pca_sign, "affine_geometry": affine_geometry,
        "explained_variance": {"train": train_explained, "test": test_explained},
    }


def project_dequantized(images_uint8: torch.Tensor, generator: torch.Generator, mean: torch.Tensor,
                        basis: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """PCA coordinates of dequantised images: (dequantize(images) - mean) @ basis.T, chunk by chunk.

    The same numbers as the whole-pass expression on one thread, as training jobs run (the uniforms are
    drawn in the same order; each row's sums are the same for row blocks of 16 or more, and a pass of 59,904
    rows is 58 blocks of 1,024 and one of 512; tests/unit/test_pca_fidelity.py checks it), but each chunk's noise, pixels and
    centred values stay in cache instead of passing through memory six times as 188 MB arrays. Images on
    a GPU (mean and basis there too): the noise is drawn from the CPU generator, as on the CPU, and the
    rest runs on the GPU (the same elementwise results; the projection rounds as the GPU's matmul does).
    """
    n, device = len(images_uint8), images_uint8.device
    flat = images_uint8.reshape(n, -1)
    out = torch.empty(n, basis.shape[0], dtype=torch.float32, device=device)
    noise = torch.empty(min(chunk, n), flat.shape[1], dtype=torch.float32)
    basis_t = basis.T
    for start in range(0, n, chunk):
        rows = flat[start:start + chunk]
        part = noise[: len(rows)].uniform_(0.0, 1.0, generator=generator).to(device)  # the same tensor on a CPU
        dequantize_noise_(part, rows)
        part -= mean
        torch.matmul(part, basis_t, out=out[start:start + len(rows)])
    return out


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

    def on_device(self, device: torch.device | str) -> "PCASource":
        """This stream with its training pass augmented and projected on `device` (a GPU), from the same
        random draws of the run's CPU generator; the test pass stays as it is."""
        moved = {key: self.data[key].to(device) for key in ("train_images", "train_mean", "train_basis")}
        return replace(self, data={**self.data, **moved})

    def train_pass(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.data["train_images"], self.data["train_labels"]
        order = torch.randperm(len(images), generator=generator)[: self._pass_size(len(images))]
        batch = random_affine(images[order.to(images.device)], self.augment, generator)
        return project_dequantized(batch, generator, self.data["train_mean"], self.data["train_basis"]), labels[order]

    def test_pass(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, labels = self.data["test_x"], self.data["test_labels"]
        order = torch.randperm(len(x), generator=generator)[: self._pass_size(len(x))]
        return x[order], labels[order]

    def true_log_prob(self, x: torch.Tensor) -> None:
        return None  # no known density for real data
