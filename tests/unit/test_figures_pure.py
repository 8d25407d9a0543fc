"""Spec 5: the low-dimensional figures draw given arrays (nothing else); their arrays are a function of the seed."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from mimflow.core.io import save_figure
from mimflow.data.toy import toy_mixture
from mimflow.lowdim import figure_data
from mimflow.lowdim.figure_data import (
    DensityGrid,
    ModelSamples,
    Reconstruction,
    RunFigureArrays,
    animation_arrays,
    run_figure_arrays,
)
from mimflow.lowdim.figures import run_figures
from mimflow.lowdim.model import LowdimModel, LowdimModelConfig
from mimflow.lowdim.stats_figure import stats_figure
from mimflow.registry import model_color, model_label

PLOTS = {"run_points": 500, "run_show_points": 40, "run_ksg_points": 300}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def summary_table() -> pd.DataFrame:
    """2 models x 3 mid_dims, rows out of order, one std missing (a single seed)."""
    return pd.DataFrame({
        "model": ["mim", "mim", "mim", "vae", "vae", "vae"],
        "mid_dim": [50, 5, 20, 5, 20, 50],
        "z_dim": [2] * 6,
        "MI_ksg_mean": [2.0, 1.0, 1.5, 0.5, 0.7, 0.9],
        "MI_ksg_std": [np.nan, 0.1, 0.2, 0.1, 0.3, 0.1],
        "MI_ksg_count": [1, 3, 3, 3, 3, 3],
    })


def test_stats_figure_draws_the_table_means_per_model():
    fig = stats_figure(summary_table(), "MI_ksg", "toy2d")
    ax = fig.axes[0]
    assert len(ax.containers) == 2
    drawn = {}
    for container in ax.containers:
        line = container.lines[0]
        drawn[container.get_label()] = (list(line.get_xdata()), list(line.get_ydata()), line.get_color())
    assert drawn == {
        model_label("mim"): ([5, 20, 50], [1.0, 1.5, 2.0], model_color("mim")),
        model_label("vae"): ([5, 20, 50], [0.5, 0.7, 0.9], model_color("vae")),
    }
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MIM", "VAE"]
    # error bars span mean +- std, a missing std drawn as 0
    segments = ax.containers[0].lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segments], [(0.9, 1.1), (1.3, 1.7), (2.0, 2.0)])
    assert ax.get_xlabel() == "hidden units (mid_dim)"
    assert "1–3 seeds" in ax.get_title()


def published_table() -> pd.DataFrame:
    """Published points (reference/published/published_points.csv columns): toy2d MI_ksg of both models,
    bars both visible, one end visible, hidden; plus points of another metric, experiment and model."""
    nan = np.nan
    return pd.DataFrame({
        "figure": ["f"] * 6,
        "experiment": ["toy2d", "toy2d", "toy2d", "toy2d", "toy2d_entropy", "toy2d"],
        "metric": ["MI_ksg", "MI_ksg", "MI_ksg", "H_q_x", "MI_ksg", "MI_ksg"],
        "model": ["mim", "vae", "mim", "mim", "mim-minusH", "ae"],
        "x_name": ["mid_dim"] * 6,
        "x": [5, 5, 100, 5, 5, 5],
        "published_mean": [1.2, 0.4, 2.5, 9.0, 9.0, 9.0],
        "bar_top": [1.5, 0.6, nan, nan, nan, nan],
        "bar_bot": [0.8, nan, nan, nan, nan, nan],
        "y_range": [3.0] * 6,
        "half_bar": [0.35, 0.2, 0.09, 0.1, 0.1, 0.1],
    })


def test_stats_figure_draws_the_published_points_of_its_experiment_and_metric():
    fig = stats_figure(summary_table(), "MI_ksg", "toy2d", published=published_table())
    ax = fig.axes[0]
    assert len(ax.containers) == 3
    ours = [c for c in ax.containers if c.get_label() != "published"]
    assert [list(c.lines[0].get_ydata()) for c in ours] == [[1.0, 1.5, 2.0], [0.5, 0.7, 0.9]]  # unchanged
    (published,) = [c for c in ax.containers if c.get_label() == "published"]
    marker = published.lines[0]
    assert list(marker.get_xdata()) == [5, 5, 100] and list(marker.get_ydata()) == [1.2, 0.4, 2.5]
    assert marker.get_markerfacecolor() == "none" and marker.get_markeredgecolor() == "grey"
    # bars reach the visible ends only: both, the top alone, none
    segments = published.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segments], [(0.8, 1.5), (0.4, 0.6), (2.5, 2.5)])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MIM", "VAE", "published"]
    low, high = ax.get_ylim()
    assert low < 0.4 and high > 2.5  # the axis covers the published points
    assert [int(t) for t in ax.get_xticks()] == [5, 20, 50, 100]


def test_stats_figure_draws_no_published_points_where_the_paper_has_none():
    other_metric = summary_table().rename(columns={f"MI_ksg_{s}": f"x_recon_err_{s}" for s in ("mean", "std", "count")})
    for summary, metric, experiment in ((summary_table(), "MI_ksg", "toy2d_entropy"),
                                        (other_metric, "x_recon_err", "toy2d")):
        ax = stats_figure(summary, metric, experiment, published=published_table()).axes[0]
        assert len(ax.containers) == 2
        assert "published" not in [t.get_text() for t in ax.get_legend().get_texts()]


def test_stats_figure_rejects_a_missing_metric():
    with pytest.raises(ValueError, match="H_q_x"):
        stats_figure(summary_table(), "H_q_x", "toy2d")


def synthetic_arrays() -> RunFigureArrays:
    rng = np.random.default_rng(0)
    grid = np.arange(-2.0, 2.0, 0.1)
    xx, yy = np.meshgrid(grid, grid)
    density = DensityGrid(xx, yy, np.exp(-(xx ** 2 + yy ** 2)))
    recon = Reconstruction(x_recon=rng.normal(size=(7, 2)), q_loc=rng.normal(size=(7, 2)),
                           q_scale=rng.uniform(0.1, 0.5, size=(7, 2)), mi_ksg=1.234, x_recon_err=0.0456)
    samples = ModelSamples(x=rng.normal(size=(5, 2)), q_loc=rng.normal(size=(5, 2)), q_scale=np.full((5, 2), 0.2))
    return RunFigureArrays(density, 1.5, recon, samples)


def test_run_figures_draws_the_given_arrays_without_a_model(monkeypatch, tmp_path):
    def no_model(*args, **kwargs):
        raise AssertionError("a figure ran the model")

    monkeypatch.setattr(figure_data, "encoder_path", no_model)
    monkeypatch.setattr(figure_data, "decoder_path", no_model)
    arrays = synthetic_arrays()
    reconstruction, grid = run_figures(arrays, dpi=50, title="MIM, toy4")

    top, bottom = reconstruction.axes
    (points,) = top.lines
    np.testing.assert_array_equal(np.column_stack(points.get_data()), arrays.reconstruction.x_recon)
    assert [t.get_text() for t in top.texts] == ["MI = 1.2", "RMSE = 0.046"]
    assert len(bottom.patches) == 7 + 1  # one ellipse per shown point, and the prior circle
    assert bottom.patches[-1].radius == 1.5
    assert reconstruction.get_suptitle() == "MIM, toy4"

    top, bottom = grid.axes
    (points,) = top.lines
    np.testing.assert_array_equal(np.column_stack(points.get_data()), arrays.samples.x)
    assert len(bottom.patches) == 5 + 1

    save_figure(grid, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary left behind


def tiny_model() -> LowdimModel:
    torch.manual_seed(0)
    return LowdimModel(LowdimModelConfig(x_dim=2, z_dim=2, mid_dim=8)).eval()


def assert_same_arrays(a, b):
    for name in ("x_recon", "q_loc", "q_scale"):
        np.testing.assert_array_equal(getattr(a.reconstruction, name), getattr(b.reconstruction, name))
    for name in ("x", "q_loc", "q_scale"):
        np.testing.assert_array_equal(getattr(a.samples, name), getattr(b.samples, name))
    assert a.reconstruction.stats == b.reconstruction.stats
    np.testing.assert_array_equal(a.density.density, b.density.density)


def test_run_figure_arrays_are_a_function_of_the_seed():
    model, mixture = tiny_model(), toy_mixture("toy4")
    first = run_figure_arrays(model, mixture, PLOTS, seed=11)
    assert_same_arrays(first, run_figure_arrays(model, mixture, PLOTS, seed=11))
    assert first.reconstruction.x_recon.shape == (40, 2) and first.samples.x.shape == (40, 2)
    assert np.isfinite(first.reconstruction.mi_ksg) and first.reconstruction.x_recon_err > 0
    other = run_figure_arrays(model, mixture, PLOTS, seed=12)
    assert not np.array_equal(first.reconstruction.x_recon, other.reconstruction.x_recon)
    assert not np.array_equal(first.samples.x, other.samples.x)


def test_animation_frames_share_their_points_and_follow_the_states():
    model, mixture = tiny_model(), toy_mixture("toy4")
    state = {name: value.clone() for name, value in model.state_dict().items()}
    shifted = {name: value + 0.5 for name, value in state.items()}
    arrays = animation_arrays(model, [state, state, shifted], [1, 2, 3], mixture, PLOTS, seed=5)
    assert arrays.epochs == [1, 2, 3]
    first, second, third = arrays.frames
    np.testing.assert_array_equal(first.x_recon, second.x_recon)  # same weights, same points: same frame
    assert not np.array_equal(first.x_recon, third.x_recon)
    reference = run_figure_arrays(tiny_model(), mixture, PLOTS, seed=5).reconstruction
    np.testing.assert_array_equal(first.x_recon, reference.x_recon)


def test_vectors_of_more_than_two_dims_are_drawn_on_their_first_principal_axes(tmp_path):
    """One's own 5-D vectors whose spread lies in dims 3 and 4: the x panel shows the test split on its
    first two principal axes (found whatever the SVD's sign), not dims 0-1, and the model's points through
    the same projection."""
    from mimflow.data.vectors import VectorSource
    from mimflow.lowdim.figure_data import data_backdrop, principal_axes

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)) * np.array([0.01, 0.01, 0.01, 3.0, 1.0]) + 2.0
    arrays = {"x_train": torch.tensor(x, dtype=torch.float32), "y_train": torch.zeros(300, dtype=torch.int64),
              "x_test": torch.tensor(x, dtype=torch.float32), "y_test": torch.zeros(300, dtype=torch.int64)}
    backdrop = data_backdrop(VectorSource(arrays, batch_size=100))
    assert backdrop.axes.shape == (5, 2)
    np.testing.assert_allclose(np.abs(backdrop.axes[3:, :]), np.eye(2), atol=0.02)  # dims 3 then 4
    assert (backdrop.axes[np.abs(backdrop.axes).argmax(0), [0, 1]] > 0).all()
    centre, axes = principal_axes(-x)  # the same data mirrored: the same axes up to the mirror, signs fixed
    np.testing.assert_allclose(np.abs(axes), np.abs(backdrop.axes), atol=1e-6)
    assert backdrop.data_points.shape == (300, 2) and abs(backdrop.data_points.mean(0)).max() < 1e-6
    np.testing.assert_allclose(backdrop.view(x[:3]), (x[:3] - backdrop.centre) @ backdrop.axes)
    assert 3.0 < backdrop.lim < 12.0  # sized to the projected spread, not to dims 0-1
    recon = Reconstruction(x_recon=x[:10], q_loc=np.zeros((10, 2)), q_scale=np.ones((10, 2)), mi_ksg=1.0,
                           x_recon_err=0.5)
    samples = ModelSamples(x=x[:10], q_loc=np.zeros((10, 2)), q_scale=np.ones((10, 2)))
    reconstruction, grid = run_figures(RunFigureArrays(backdrop, 1.0, recon, samples), dpi=40, title="5-D")
    assert reconstruction.axes[0].get_title() == "x space: first two principal axes of the test data"
    shown = reconstruction.axes[0].lines[-1].get_xydata()
    np.testing.assert_allclose(shown, backdrop.view(x[:10]), rtol=1e-6)
