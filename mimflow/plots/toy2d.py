"""Per-run figures of 2-D toy data (spec 5): reconstruction and model-sample ("grid") plots.

Like the original's vis_model_toy2d, each figure draws its own 10,000 fresh points and recomputes
the annotated MI (KSG on the first 3,000) and reconstruction error on them. For data with more than
two dims (toy4_20) the first two dims are drawn, with the *marginal* P(x1, x2) as contours (the
original evaluated the 20-D density on a zero-padded grid, which is ~0 everywhere for toy4_20).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Circle, Ellipse

from ..data.toy import GaussianMixture
from ..metrics import ksg_mutual_information, mean_l2_error
from ..models.lowdim import LowdimModel, decoder_path, encoder_path

X_LIM, Z_LIM = 2.0, 3.0


def marginal_2d(mixture: GaussianMixture) -> GaussianMixture:
    return GaussianMixture(mixture.means[:, :2], mixture.stds[:, :2], mixture.weights)


def _density_contours(ax, mixture: GaussianMixture, levels: int = 5) -> None:
    grid = np.arange(-X_LIM, X_LIM, 0.1)
    xx, yy = np.meshgrid(grid, grid)
    points = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32)
    density = marginal_2d(mixture).log_prob(points).exp().numpy().reshape(xx.shape)
    ax.contour(xx, yy, density, levels=levels, colors="k", linewidths=2, alpha=0.75)


def _ellipses(ax, loc: np.ndarray, scale: np.ndarray, color: str = "g") -> None:
    for (cx, cy), (sx, sy) in zip(loc[:, :2], scale[:, :2]):
        ax.add_patch(Ellipse((cx, cy), 2 * max(sx, 0.01), 2 * max(sy, 0.01), fill=False, color=color, lw=0.8,
                             alpha=0.6))


def _prior_circle(ax, model: LowdimModel) -> None:
    ax.add_patch(Circle((0, 0), model.prior_scale, fill=False, ls="--", color="k", lw=5))


def _two_panels(dpi: int, title: str | None):
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(3, 6), dpi=dpi)
    top.set_xlim(-X_LIM, X_LIM), top.set_ylim(-X_LIM, X_LIM)
    bottom.set_xlim(-Z_LIM, Z_LIM), bottom.set_ylim(-Z_LIM, Z_LIM)
    for ax in (top, bottom):
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    top.set_title("x space", fontsize=8)
    bottom.set_title("z space", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=8)
    return fig, top, bottom


def _finish(fig, path: str | Path) -> None:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


@torch.no_grad()
def reconstruction_figure(model: LowdimModel, mixture: GaussianMixture, generator: torch.Generator,
                          path: str | Path, dpi: int = 150, n_points: int = 10000, n_show: int = 200,
                          ksg_points: int = 3000, title: str | None = None) -> dict[str, float]:
    """Top: P(x) contours and reconstructions x~ (red). Bottom: q(z|x) 1-std ellipses, prior circle."""
    x, _ = mixture.sample(n_points, generator)
    path_terms = encoder_path(model, x, generator)
    q_loc, q_scale = model.encoder(x[:n_show])
    stats = {
        "MI_ksg": ksg_mutual_information(x[:ksg_points].numpy(), path_terms.z[:ksg_points].numpy()),
        "x_recon_err": mean_l2_error(x.numpy(), path_terms.x_recon.numpy()),
    }
    fig, top, bottom = _two_panels(dpi, title)
    _density_contours(top, mixture)
    recon = path_terms.x_recon[:n_show].numpy()
    top.plot(recon[:, 0], recon[:, 1], "r.", ms=6, alpha=0.75)
    top.text(0.03, 0.97, f"MI = {stats['MI_ksg']:.2g}", transform=top.transAxes, va="top", fontsize=12,
             fontweight="bold")
    top.text(0.03, 0.03, f"RMSE = {stats['x_recon_err']:.2g}", transform=top.transAxes, va="bottom",
             fontsize=12, fontweight="bold")
    _ellipses(bottom, q_loc.numpy(), q_scale.numpy())
    _prior_circle(bottom, model)
    _finish(fig, path)
    return stats


@torch.no_grad()
def samples_figure(model: LowdimModel, mixture: GaussianMixture, generator: torch.Generator,
                   path: str | Path, dpi: int = 150, n_show: int = 200, title: str | None = None) -> None:
    """Model samples: z ~ p(z), x ~ p(x|z) (red, over P(x)); re-encoded q(z|x) ellipses over P(z)."""
    z = torch.randn(n_show, model.config.z_dim, generator=generator) * model.prior_scale
    x = decoder_path(model, z, generator).x
    q_loc, q_scale = model.encoder(x)
    fig, top, bottom = _two_panels(dpi, title)
    _density_contours(top, mixture)
    top.plot(x[:, 0].numpy(), x[:, 1].numpy(), "r.", ms=6, alpha=0.75)
    grid = np.linspace(-Z_LIM, Z_LIM, 121)
    zz1, zz2 = np.meshgrid(grid, grid)
    bottom.contour(zz1, zz2, np.exp(-0.5 * (zz1 ** 2 + zz2 ** 2)), levels=5, colors="0.5", linewidths=1)
    _ellipses(bottom, q_loc.numpy(), q_scale.numpy())
    _prior_circle(bottom, model)
    _finish(fig, path)
