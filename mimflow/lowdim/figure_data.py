"""What the per-run figures and animation frames draw (spec 5), computed apart from the drawing.

Like the original's vis_model_toy2d, each figure draws its own fresh points and recomputes the
annotated MI (KSG on the first `ksg_points`) and reconstruction error on them. For data with more
than two dims (toy4_20) the first two dims are drawn, with the *marginal* P(x1, x2) as contours (the
original evaluated the 20-D density on a zero-padded grid, which is ~0 everywhere for toy4_20).
Every draw goes through one explicit generator, in a fixed order, so a figure is a function of its seed.
Data without a known density (one's own vectors) draw their points from the test split instead, and the x
panel shows those points where a toy run shows P(x) contours.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..core.metrics import ksg_mutual_information, mean_l2_error
from ..data.toy import GaussianMixture, toy_mixture
from ..datasets import dataset_family
from .figures import (
    X_LIM,
    AnimationArrays,
    DensityGrid,
    ModelSamples,
    Reconstruction,
    RunFigureArrays,
)
from .model import LowdimModel, decoder_path, encoder_path, load_lowdim_model
from .settings import LowdimRunConfig


def load_lowdim_run(path: str | Path, data_path: str | Path | None = None):
    """A run's model (eval mode), its settings, what its figures draw points from, and the checkpoint dict.

    The points come from the data's P(x) (a GaussianMixture, for families with a known density) or from its
    data stream's test split (a stream with `sample(n, generator)`, such as one's own vectors)."""
    model, state = load_lowdim_model(path)
    cfg = LowdimRunConfig.from_dict(state["run_config"])
    if dataset_family(cfg.dataset).density:
        return model, cfg, toy_mixture(cfg.dataset), state
    from .data import lowdim_source

    source = lowdim_source(cfg, data_path)
    if not hasattr(source, "sample"):
        raise ValueError(f"dataset {cfg.dataset}: its data stream has no sample(n, generator), so per-run figures "
                         "cannot draw it; allowed: figures: [stats] for this experiment")
    return model, cfg, source, state


def marginal_2d(mixture: GaussianMixture) -> GaussianMixture:
    return GaussianMixture(mixture.means[:, :2], mixture.stds[:, :2], mixture.weights)


def density_grid(mixture, plane: str = "zero_padded") -> DensityGrid:
    """P(x) on a grid over dims 0-1 of the x panel (fidelity.density_plane; the same for 2-D data):
    "zero_padded" evaluates the full density at (x0, x1, 0, ..., 0), as the original drew it;
    "marginal" evaluates the marginal of dims 0-1. Data without a density: their test points instead."""
    if not isinstance(mixture, GaussianMixture):
        return data_backdrop(mixture)
    grid = np.arange(-X_LIM, X_LIM, 0.1)
    xx, yy = np.meshgrid(grid, grid)
    points = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32)
    if plane == "zero_padded":
        padded = torch.cat([points, points.new_zeros(len(points), mixture.dim - 2)], dim=1)
        density = mixture.log_prob(padded).exp()
    else:
        density = marginal_2d(mixture).log_prob(points).exp()
    return DensityGrid(xx, yy, density.numpy().reshape(xx.shape))


def data_backdrop(source, n_points: int = 2000) -> DensityGrid:
    """Up to n_points test vectors (from a fixed generator) and axes that hold 99% of them: dims 0-1 of 2-D
    data; for more dims, the points on the first two principal axes of those test vectors."""
    x, _ = source.sample(n_points, torch.Generator().manual_seed(0))
    x = x.numpy().astype(np.float64)
    centre = axes = None
    if x.shape[1] > 2:
        centre, axes = principal_axes(x)
    backdrop = DensityGrid(None, None, None, centre=centre, axes=axes)
    shown = backdrop.view(x)
    lim = float(np.quantile(np.abs(shown), 0.99)) * 1.15 or X_LIM
    return DensityGrid(None, None, None, data_points=shown, lim=lim, centre=centre, axes=axes)


def principal_axes(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The mean of x and its first k principal axes as columns (x_dim, k), each signed so that its largest
    loading is positive (the same picture whatever the SVD's sign)."""
    centre = x.mean(0)
    _, _, vt = np.linalg.svd(x - centre, full_matrices=False)
    axes = vt[:k].T
    signs = np.sign(axes[np.abs(axes).argmax(0), np.arange(k)])
    return centre, axes * signs


@torch.no_grad()
def reconstruction_arrays(model: LowdimModel, mixture, generator: torch.Generator,
                          n_points: int, n_show: int, ksg_points: int) -> Reconstruction:
    """Draws n_points fresh points, then z ~ q(z|x) and x~ ~ p(x|z) for each, from `generator` in that order."""
    x, _ = mixture.sample(n_points, generator)
    path_terms = encoder_path(model, x, generator)
    q_loc, q_scale = model.encoder(x[:n_show])
    return Reconstruction(
        x_recon=path_terms.x_recon[:n_show].numpy(), q_loc=q_loc.numpy(), q_scale=q_scale.numpy(),
        mi_ksg=ksg_mutual_information(x[:ksg_points].numpy(), path_terms.z[:ksg_points].numpy()),
        x_recon_err=mean_l2_error(x.numpy(), path_terms.x_recon.numpy()))


@torch.no_grad()
def sample_arrays(model: LowdimModel, generator: torch.Generator, n_show: int) -> ModelSamples:
    """z ~ p(z) then x ~ p(x|z), from `generator` in that order; q(z|x) at those x."""
    z = torch.randn(n_show, model.config.z_dim, generator=generator) * model.prior_scale
    x = decoder_path(model, z, generator).x
    q_loc, q_scale = model.encoder(x)
    return ModelSamples(x=x.numpy(), q_loc=q_loc.numpy(), q_scale=q_scale.numpy())


def run_figure_arrays(model: LowdimModel, mixture, plots: Mapping, seed: int,
                      density_plane: str = "zero_padded") -> RunFigureArrays:
    """Reconstructions from generator `seed`, model samples from generator `seed + 1`.

    `plots` holds run_points, run_show_points and run_ksg_points (config.yaml, plots).
    """
    reconstruction = reconstruction_arrays(model, mixture, torch.Generator().manual_seed(seed),
                                           plots["run_points"], plots["run_show_points"], plots["run_ksg_points"])
    samples = sample_arrays(model, torch.Generator().manual_seed(seed + 1), plots["run_show_points"])
    return RunFigureArrays(density_grid(mixture, density_plane), model.prior_scale, reconstruction, samples)


def animation_arrays(model: LowdimModel, states: list[dict], epochs: list[int], mixture,
                     plots: Mapping, seed: int, density_plane: str = "zero_padded") -> AnimationArrays:
    """One reconstruction per recorded epoch (loaded into `model` in turn), each from a fresh generator
    `seed`, so every frame shows the same points and the animation does not flicker."""
    recorded = list(zip(epochs, states))
    frames = []
    for _, state in recorded:
        model.load_state_dict(state)
        frames.append(reconstruction_arrays(model, mixture, torch.Generator().manual_seed(seed),
                                            plots["run_points"], plots["run_show_points"], plots["run_ksg_points"]))
    return AnimationArrays(density_grid(mixture, density_plane), model.prior_scale, [epoch for epoch, _ in recorded], frames)
