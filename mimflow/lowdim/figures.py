"""Per-run figures of low-dimensional runs (spec 5): reconstruction and model-sample ("grid") plots.

Pure drawing: the arrays come from mimflow.lowdim.figure_data (which runs the model and the KSG);
nothing here samples or touches a model. Each figure has two panels, x space over z space.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # jobs have no display

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse

X_LIM, Z_LIM = 2.0, 3.0  # axis half-widths of the x and z panels


@dataclass(frozen=True)
class DensityGrid:
    """The backdrop of the x panel: P(x1, x2) of the data on a grid, for contours; or, for data without a
    known density (one's own vectors), data points drawn in grey on axes sized to them (half-width lim)."""

    xx: np.ndarray | None
    yy: np.ndarray | None
    density: np.ndarray | None
    data_points: np.ndarray | None = None  # in the panel's coordinates (projected, if there is a projection)
    lim: float = X_LIM
    # For one's own vectors of more than two dims: x is drawn on the test split's first two principal axes,
    # (x - centre) @ axes, axes of shape (x_dim, 2); None: the first two dims of x.
    centre: np.ndarray | None = None
    axes: np.ndarray | None = None

    def view(self, points: np.ndarray) -> np.ndarray:
        """Points of x space in the panel's two coordinates."""
        if self.axes is None:
            return points[:, :2]
        return (points - self.centre) @ self.axes


@dataclass(frozen=True)
class Reconstruction:
    """Reconstructions x~ ~ p(x|z), z ~ q(z|x), of the first points shown, their q(z|x), and the stats."""

    x_recon: np.ndarray  # (n_show, x_dim)
    q_loc: np.ndarray  # (n_show, z_dim)
    q_scale: np.ndarray  # (n_show, z_dim)
    mi_ksg: float
    x_recon_err: float

    @property
    def stats(self) -> dict[str, float]:
        return {"MI_ksg": self.mi_ksg, "x_recon_err": self.x_recon_err}


@dataclass(frozen=True)
class ModelSamples:
    """Model samples z ~ p(z), x ~ p(x|z), and q(z|x) at those x."""

    x: np.ndarray  # (n_show, x_dim)
    q_loc: np.ndarray  # (n_show, z_dim)
    q_scale: np.ndarray  # (n_show, z_dim)


@dataclass(frozen=True)
class RunFigureArrays:
    """Everything reconstruction.png and grid.png of one run draw."""

    density: DensityGrid
    prior_scale: float
    reconstruction: Reconstruction
    samples: ModelSamples


@dataclass(frozen=True)
class AnimationArrays:
    """One reconstruction per recorded epoch, all on the same points."""

    density: DensityGrid
    prior_scale: float
    epochs: list[int]
    frames: list[Reconstruction]


def _two_panels(dpi: int, title: str | None, x_lim: float = X_LIM):
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(3, 6), dpi=dpi)
    top.set_xlim(-x_lim, x_lim), top.set_ylim(-x_lim, x_lim)
    bottom.set_xlim(-Z_LIM, Z_LIM), bottom.set_ylim(-Z_LIM, Z_LIM)
    for ax in (top, bottom):
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    top.set_title("x space", fontsize=8)
    bottom.set_title("z space", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=8)
    return fig, top, bottom


def _x_panel(ax, density: DensityGrid, points: np.ndarray) -> None:
    """P(x) contours (black), or data points (grey) where the density is unknown, and the first two dims of
    `points` (red)."""
    if density.density is not None:
        ax.contour(density.xx, density.yy, density.density, levels=5, colors="k", linewidths=2, alpha=0.75)
    else:
        ax.plot(density.data_points[:, 0], density.data_points[:, 1], ".", color="0.6", ms=3, alpha=0.5)
    shown = density.view(points)
    ax.plot(shown[:, 0], shown[:, 1], "r.", ms=6, alpha=0.75)
    if density.axes is not None:
        ax.set_title("x space: first two principal axes of the test data", fontsize=8)


def _z_panel(ax, q_loc: np.ndarray, q_scale: np.ndarray, prior_scale: float) -> None:
    """q(z|x) 1-std ellipses (green) and the prior's 1-std circle (dashed)."""
    for (cx, cy), (sx, sy) in zip(q_loc[:, :2], q_scale[:, :2]):
        ax.add_patch(Ellipse((cx, cy), 2 * max(sx, 0.01), 2 * max(sy, 0.01), fill=False, color="g", lw=0.8,
                             alpha=0.6))
    ax.add_patch(Circle((0, 0), prior_scale, fill=False, ls="--", color="k", lw=5))


def reconstruction_figure(reconstruction: Reconstruction, density: DensityGrid, prior_scale: float,
                          dpi: int = 150, title: str | None = None) -> Figure:
    """Top: P(x) contours and reconstructions x~ (red), MI and error. Bottom: q(z|x) ellipses, prior circle."""
    fig, top, bottom = _two_panels(dpi, title, density.lim)
    _x_panel(top, density, reconstruction.x_recon)
    top.text(0.03, 0.97, f"MI = {reconstruction.mi_ksg:.2g}", transform=top.transAxes, va="top", fontsize=12,
             fontweight="bold")
    top.text(0.03, 0.03, f"RMSE = {reconstruction.x_recon_err:.2g}", transform=top.transAxes, va="bottom",
             fontsize=12, fontweight="bold")
    _z_panel(bottom, reconstruction.q_loc, reconstruction.q_scale, prior_scale)
    fig.tight_layout()
    return fig


def samples_figure(samples: ModelSamples, density: DensityGrid, prior_scale: float, dpi: int = 150,
                   title: str | None = None) -> Figure:
    """Model samples x ~ p(x|z) (red, over P(x)); their q(z|x) ellipses over P(z) contours."""
    fig, top, bottom = _two_panels(dpi, title, density.lim)
    _x_panel(top, density, samples.x)
    grid = np.linspace(-Z_LIM, Z_LIM, 121)
    zz1, zz2 = np.meshgrid(grid, grid)
    bottom.contour(zz1, zz2, np.exp(-0.5 * (zz1 ** 2 + zz2 ** 2)), levels=5, colors="0.5", linewidths=1)
    _z_panel(bottom, samples.q_loc, samples.q_scale, prior_scale)
    fig.tight_layout()
    return fig


def run_figures(arrays: RunFigureArrays, dpi: int = 150, title: str | None = None) -> tuple[Figure, Figure]:
    """The run's reconstruction figure and its model-sample ("grid") figure."""
    return (reconstruction_figure(arrays.reconstruction, arrays.density, arrays.prior_scale, dpi, title),
            samples_figure(arrays.samples, arrays.density, arrays.prior_scale, dpi, title))
