"""Spec 1.1-1.4: the toy Gaussian mixtures and their sampling."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mimflow.data.toy import toy_mixture
from mimflow.datasets import samples_per_pass
from mimflow.lowdim.data import lowdim_source
from mimflow.lowdim.settings import LowdimRunConfig


def _deg(a: float) -> tuple[float, float]:
    return math.cos(math.radians(a)), math.sin(math.radians(a))


TOY4_MEANS = [(0.0, 0.0), (1.0, 0.0), _deg(72), _deg(144), _deg(216)]


def test_toy4_components():
    gmm = toy_mixture("toy4")
    assert gmm.n_components == 5 and gmm.dim == 2
    torch.testing.assert_close(gmm.means, torch.tensor(TOY4_MEANS, dtype=torch.float32), atol=1e-6, rtol=0)
    torch.testing.assert_close(gmm.stds, torch.full((5, 2), 0.25))
    torch.testing.assert_close(gmm.weights, torch.full((5,), 0.2))


def test_toy4_20_components():
    gmm = toy_mixture("toy4_20")
    assert gmm.n_components == 5 and gmm.dim == 20
    fill = np.linspace(-50, 50, 100).reshape(5, 20)
    np.testing.assert_allclose(gmm.means[:, 2:].numpy(), fill[:, 2:], atol=1e-4)
    np.testing.assert_allclose(gmm.means[:, :2].numpy(), np.array(TOY4_MEANS), atol=1e-6)
    assert gmm.means[0, 2].item() == pytest.approx(-47.98, abs=1e-2)
    assert gmm.means[0, 19].item() == pytest.approx(-30.81, abs=1e-2)
    assert gmm.means[4, 2].item() == pytest.approx(32.83, abs=1e-2)
    assert gmm.means[4, 19].item() == pytest.approx(50.0, abs=1e-4)
    torch.testing.assert_close(gmm.stds, torch.full((5, 20), 0.25))
    torch.testing.assert_close(gmm.weights, torch.full((5,), 0.2))


@pytest.mark.parametrize("name, count, stds", [
    ("toyMIM", 60, (1 / 18, 1 / 11)),
    ("toyVAE", 64, (1 / 18, 1 / 11)),
    ("toyAE", 46, (1 / 12, 1 / 11)),
])
def test_text_mixtures(name, count, stds):
    gmm = toy_mixture(name)
    assert gmm.n_components == count and gmm.dim == 2
    torch.testing.assert_close(gmm.stds, torch.tensor([stds], dtype=torch.float32).expand(count, 2))
    torch.testing.assert_close(gmm.weights, torch.full((count,), 1.0 / count))
    lo, hi = gmm.means.min(0).values, gmm.means.max(0).values
    assert lo[0].item() == pytest.approx(-1.62, abs=1e-5)  # first column is lit in every word
    assert -0.97 <= lo[1].item() and hi[1].item() <= 0.68 and hi[0].item() <= 1.59
    assert lo[1].item() == pytest.approx((2 / 11 - 0.45) * 3.6, abs=1e-5)  # bottom lit row
    assert hi[1].item() == pytest.approx((7 / 11 - 0.45) * 3.6, abs=1e-5)  # top lit row
    assert len({tuple(m) for m in gmm.means.tolist()}) == count  # one mode per pixel


def test_text_mixture_orientation_is_y_up():
    # "VAE": the top-left pixel is lit, the bottom-left pixel is dark (row 8 starts with '..').
    means = toy_mixture("toyVAE").means
    x_left = (0 / 18 - 0.45) * 3.6
    y_top, y_bottom = (7 / 11 - 0.45) * 3.6, (2 / 11 - 0.45) * 3.6

    def has(x, y):
        return bool(((means - torch.tensor([x, y])).abs().max(1).values < 1e-5).any())

    assert has(x_left, y_top)
    assert not has(x_left, y_bottom)


def _grid(lo=-3.0, hi=3.0, step=0.02):
    axis = torch.arange(round((hi - lo) / step) + 1, dtype=torch.float64) * step + lo
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).float(), step * step


def test_toy4_density_integrates_to_one():
    gmm = toy_mixture("toy4")
    points, cell = _grid()
    log_p = gmm.log_prob(points).double()
    assert float(log_p.exp().sum() * cell) == pytest.approx(1.0, abs=1e-3)


def test_toy4_entropy_monte_carlo_matches_grid():
    gmm = toy_mixture("toy4")
    points, cell = _grid()
    log_p = gmm.log_prob(points).double()
    grid_entropy = float(-(log_p.exp() * log_p).sum() * cell)
    x, _ = gmm.sample(200_000, torch.Generator().manual_seed(0))
    mc_entropy = float(-gmm.log_prob(x).double().mean())
    assert mc_entropy == pytest.approx(grid_entropy, abs=0.005)
    assert 1.55 <= grid_entropy <= 1.57  # the spec's measured H_P_x of 1.55-1.57 nats


def test_log_prob_matches_hand_mixture():
    gmm = toy_mixture("toy4")
    x = torch.tensor([[0.1, -0.2], [0.9, 0.4]])
    dens = torch.zeros(2, dtype=torch.float64)
    for mu in TOY4_MEANS:
        d2 = ((x.double() - torch.tensor(mu, dtype=torch.float64)) ** 2).sum(1)
        dens += 0.2 * torch.exp(-0.5 * d2 / 0.0625) / (2 * math.pi * 0.0625)
    torch.testing.assert_close(gmm.log_prob(x).double(), dens.log(), atol=1e-5, rtol=0)


def test_sampling_is_seeded_and_fresh():
    gmm = toy_mixture("toy4")
    a = gmm.sample(1000, torch.Generator().manual_seed(11))
    b = gmm.sample(1000, torch.Generator().manual_seed(11))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    g = torch.Generator().manual_seed(11)
    first, second = gmm.sample(1000, g), gmm.sample(1000, g)
    assert not torch.equal(first[0], second[0])  # every pass is a fresh draw
    c = gmm.sample(1000, torch.Generator().manual_seed(12))
    assert not torch.equal(a[0], c[0])


def test_samples_follow_the_components():
    gmm = toy_mixture("toy4")
    x, labels = gmm.sample(50_000, torch.Generator().manual_seed(5))
    freq = torch.bincount(labels, minlength=5).double() / len(labels)
    assert labels.min() >= 0 and labels.max() <= 4
    assert torch.all((freq - 0.2).abs() < 0.01)
    resid = x - gmm.means[labels]
    assert resid.mean(0).abs().max().item() < 0.01
    torch.testing.assert_close(resid.std(0), torch.full((2,), 0.25), atol=0.005, rtol=0)


@pytest.mark.parametrize("name", ["toyfoo_3", "gauss4", "toyFOO", "toyMIM_3", "toy", "toy4_"])
def test_bad_names_raise(name):
    with pytest.raises(ValueError):
        toy_mixture(name)


def test_source_pass_size_is_drop_last():
    assert samples_per_pass(10000, 128) == 9984
    cfg = LowdimRunConfig(dataset="toy4_20", model="vae", z_dim=2, mid_dim=5, seed=0, dataset_size=1000)
    source = lowdim_source(cfg)
    assert source.samples_per_pass == 896 and source.x_dim == 20
    x, y = source.train_pass(torch.Generator().manual_seed(0))
    assert x.shape == (896, 20) and y.shape == (896,)
    assert source.true_log_prob(x).shape == (896,)
