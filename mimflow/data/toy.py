"""Synthetic Gaussian-mixture datasets of the low-dimensional experiments (spec 1.1-1.4).

The original draws every item afresh from P(x), so train and test sets are infinite streams.
Here a whole epoch is drawn as one tensor batch from an explicit generator.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from .bitmaps import TEXT_BITMAPS

TOY_NAME = re.compile(r"^toy(?P<modes>[A-Za-z0-9]+?)(?:_(?P<dim>[0-9]+))?$")


@dataclass(frozen=True)
class GaussianMixture:
    """Diagonal Gaussian mixture P(x) = sum_k w_k N(x; mu_k, diag(sigma_k^2))."""

    means: torch.Tensor  # (K, d)
    stds: torch.Tensor  # (K, d)
    weights: torch.Tensor  # (K,)

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw n points and their component labels."""
        labels = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return self.means[labels] + self.stds[labels] * noise, labels

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log P(x) in nats, summed over dimensions; shape (n,)."""
        diff = (x[:, None, :] - self.means[None]) / self.stds[None]
        comp = -0.5 * diff.pow(2).sum(-1) - self.stds.log().sum(-1)[None] - 0.5 * self.dim * math.log(2 * math.pi)
        return torch.logsumexp(comp + self.weights.log()[None], dim=1)


def ring_mixture(k: int, dim: int) -> GaussianMixture:
    """The integer branch of the original factory: k ring modes plus one at the origin.

    The angles use the updated count K = k + 1 (so toy4 has modes at 0/72/144/216 degrees), and
    dims >= 2 keep the linspace(-10K, 10K) fill of the original (toy4_20's +-50 offsets).
    """
    n = k + 1
    means = torch.linspace(-10.0 * n, 10.0 * n, n * dim).view(n, dim)
    keep = min(2, dim)
    means[:1, :keep] = 0.0
    angles = np.arange(k, dtype=np.float64) / n * 2 * np.pi
    ring = torch.tensor(np.stack([np.cos(angles), np.sin(angles)]), dtype=torch.float32).t()
    means[1:, :keep] = ring[:, :keep]
    stds = torch.full_like(means, 0.25 * 5 / n)
    return GaussianMixture(means, stds, torch.full((n,), 1.0 / n))


def text_mixture(text: str) -> GaussianMixture:
    """One mode per lit pixel of the text's bitmap (toyMIM, toyVAE, toyAE)."""
    if text not in TEXT_BITMAPS:
        raise ValueError(f"no bitmap for text {text!r}; allowed: {sorted(TEXT_BITMAPS)}")
    image = np.array([[c == "#" for c in row] for row in TEXT_BITMAPS[text]])  # (H, W), row 0 on top
    mask = np.fliplr(image.T)  # axis 0 = column (x), axis 1 = row counted from the bottom (y)
    shape = np.array(mask.shape, dtype=np.float64)
    pixels = np.stack(np.nonzero(mask), axis=1)
    means = torch.tensor((pixels / shape - 0.45) * 3.6, dtype=torch.float32)
    stds = torch.tensor(1.0 / shape, dtype=torch.float32).expand_as(means).clone()
    n = means.shape[0]
    return GaussianMixture(means, stds, torch.full((n,), 1.0 / n))


def toy_mixture(name: str) -> GaussianMixture:
    """Parse a dataset name the way the original does: toy<k>[_<dim>] or toy<TEXT>."""
    match = TOY_NAME.match(name)
    if match is None:
        raise ValueError(f"dataset {name!r} is not a toy dataset; expected toy<k>[_<dim>] or toy<TEXT>")
    modes, dim = match["modes"], int(match["dim"] or 2)
    if modes.isdigit():
        return ring_mixture(int(modes), dim)
    if match["dim"] is not None:
        raise ValueError(f"dataset {name!r}: text datasets are 2-D and take no _<dim> suffix")
    return text_mixture(modes)


@dataclass(frozen=True)
class ToySource:
    """An infinite toy data stream: every pass is a fresh draw, as in the original's DistDataset.

    ``samples_per_pass`` mirrors DataLoader(n=10000, batch 128, drop_last) = 9,984 points.
    """

    mixture: GaussianMixture
    samples_per_pass: int

    @property
    def x_dim(self) -> int:
        return self.mixture.dim

    def train_pass(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mixture.sample(self.samples_per_pass, generator)

    def test_pass(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mixture.sample(self.samples_per_pass, generator)

    def true_log_prob(self, x: torch.Tensor) -> torch.Tensor | None:
        return self.mixture.log_prob(x)
