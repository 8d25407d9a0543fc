"""Spec 2.2-2.3 and 3.2-3.5: the forward paths of the low-dimensional model and the per-sample losses."""
from __future__ import annotations

import math

import pytest
import torch

from mimflow.lowdim.train import objective
from mimflow.objectives import OBJECTIVES
from mimflow.objectives.mim import mim_loss, mim_minus_entropy_loss
from mimflow.objectives.vae import vae_loss, vae_plus_entropy_loss
from mimflow.lowdim.model import (
    LowdimModel,
    LowdimModelConfig,
    PathTerms,
    decoder_path,
    encoder_path,
    normal_log_prob,
)

D = torch.float64
LPXZ = torch.tensor([-1.3, 0.7, -4.2, 2.5], dtype=D)
LPZ = torch.tensor([-2.1, -0.4, -3.3, -1.8], dtype=D)
LQZX = torch.tensor([0.9, -1.6, 2.2, -0.3], dtype=D)
LQX_FREE = torch.tensor([-0.8, -3.1, 1.4, -2.6], dtype=D)  # decoder path: unrelated to the others


def terms(log_q_x: torch.Tensor) -> PathTerms:
    zeros = torch.zeros(4, 2, dtype=D)
    return PathTerms(zeros, zeros, LPXZ.clone(), LPZ.clone(), LQZX.clone(), log_q_x.clone())


def encoder_terms() -> PathTerms:
    return terms(LPXZ + LPZ - LQZX)


def close(actual, expected, atol=1e-12):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


@pytest.mark.parametrize("beta", [0.0, 1 / 3, 1.0])
def test_vae_loss(beta):
    close(vae_loss(terms(LQX_FREE), beta), -LPXZ + beta * (LQZX - LPZ))


@pytest.mark.parametrize("beta", [1 / 3, 1.0])
def test_vae_plus_entropy_loss_on_encoder_path(beta):
    close(vae_plus_entropy_loss(encoder_terms(), beta), -2 * LPXZ - (1 + beta) * LPZ + beta * LQZX)


def test_vae_plus_entropy_loss_general_form():
    close(vae_plus_entropy_loss(terms(LQX_FREE), 0.5), -LPXZ + 0.5 * (LQZX - LPZ) - (LQZX + LQX_FREE))


@pytest.mark.parametrize("beta", [1 / 3, 2 / 3, 1.0])
def test_mim_loss_on_encoder_path(beta):
    close(mim_loss(encoder_terms(), beta), -0.5 * (1 + beta) * (LPXZ + LPZ))


def test_mim_loss_general_form():
    close(mim_loss(terms(LQX_FREE), 0.5), -0.5 * (LPXZ + LPZ + 0.5 * (LQZX + LQX_FREE)))


def test_mim_minus_entropy_is_zero_on_encoder_path_at_beta_one():
    close(mim_minus_entropy_loss(encoder_terms(), 1.0), torch.zeros(4, dtype=D))


def test_mim_minus_entropy_on_encoder_path_during_warmup():
    beta = 0.5
    close(mim_minus_entropy_loss(encoder_terms(), beta), 0.5 * (1 - beta) * (LPXZ + LPZ))


def test_mim_minus_entropy_on_decoder_path_is_consistency_term():
    loss = mim_minus_entropy_loss(terms(LQX_FREE), 1.0)
    b, c = LPXZ + LPZ, LQZX + LQX_FREE
    expected = torch.logaddexp(b, c) - math.log(2) - 0.5 * (b + c)
    close(loss, expected)
    assert torch.all(loss >= 0) and torch.all(loss > 0.1)  # B != C here, so strictly positive


def test_mim_minus_entropy_is_stable_for_large_magnitudes():
    big = PathTerms(torch.zeros(2, 1), torch.zeros(2, 1), torch.tensor([-900.0, 400.0], dtype=D),
                    torch.tensor([-50.0, 30.0], dtype=D), torch.tensor([600.0, -700.0], dtype=D),
                    torch.tensor([-40.0, 20.0], dtype=D))
    loss = mim_minus_entropy_loss(big, 1.0)
    assert torch.all(torch.isfinite(loss))
    b, c = torch.tensor([-950.0, 430.0], dtype=D), torch.tensor([560.0, -680.0], dtype=D)
    close(loss, torch.maximum(b, c) - math.log(2) - 0.5 * (b + c), atol=1e-9)


def test_objective_registry():
    assert set(OBJECTIVES) == {"vae", "vae-plusH", "ae", "mim", "amim", "mim-minusH"}
    assert objective("vae").loss is vae_loss and not objective("vae").sampling_path
    assert objective("ae").loss is vae_loss and objective("ae").autoencoder
    assert objective("vae-plusH").loss is vae_plus_entropy_loss and not objective("vae-plusH").sampling_path
    assert objective("mim").loss is mim_loss and objective("mim").sampling_path
    assert objective("amim").loss is mim_loss and not objective("amim").sampling_path
    assert objective("mim-minusH").loss is mim_minus_entropy_loss and objective("mim-minusH").sampling_path
    assert not any(objective(n).autoencoder for n in OBJECTIVES if n != "ae")
    for name in OBJECTIVES:
        assert objective(name).name == name


@pytest.mark.parametrize("name", ["MIM", "mim-samp", "vae_plusH", ""])
def test_unknown_objective_raises(name):
    with pytest.raises(ValueError, match="is not registered"):
        objective(name)


# ---- the model's forward paths ---------------------------------------------------------------

@pytest.fixture
def model() -> LowdimModel:
    torch.manual_seed(0)
    return LowdimModel(LowdimModelConfig(x_dim=3, z_dim=2, mid_dim=7))


def test_normal_log_prob_matches_torch():
    g = torch.Generator().manual_seed(1)
    value, loc = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    scale = torch.rand(6, 3, generator=g) + 0.1
    expected = torch.distributions.Normal(loc, scale).log_prob(value).sum(-1)
    torch.testing.assert_close(normal_log_prob(value, loc, scale), expected)
    expected_scalar = torch.distributions.Normal(loc, 1.7).log_prob(value).sum(-1)
    torch.testing.assert_close(normal_log_prob(value, loc, 1.7), expected_scalar)


def test_prior_is_fixed_standard_normal_plus_min_scale(model):
    z = torch.randn(5, 2, generator=torch.Generator().manual_seed(2))
    expected = torch.distributions.Normal(0.0, 1.0 + 1e-6).log_prob(z).sum(-1)
    torch.testing.assert_close(model.log_prior(z), expected)
    assert not any("prior" in n for n, _ in model.named_parameters())


def test_min_scale_and_delta_encoder():
    torch.manual_seed(0)
    ae = LowdimModel(LowdimModelConfig(x_dim=2, z_dim=2, mid_dim=4, delta_encoder=True))
    _, scale = ae.encoder(torch.randn(3, 2))
    assert torch.all(scale == 1e-6)
    with torch.no_grad():
        ae.decoder.fc_logscale.weight.fill_(0.0)
        ae.decoder.fc_logscale.bias.fill_(-100.0)
    _, dec_scale = ae.decoder(torch.randn(3, 2))
    torch.testing.assert_close(dec_scale, torch.full((3, 2), 1e-6))


def test_encoder_path_terms(model):
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(4)
    replay = torch.Generator()
    replay.set_state(g.get_state())
    with torch.no_grad():
        t = encoder_path(model, x, g)
        q_loc, q_scale = model.encoder(x)
        z = q_loc + q_scale * torch.randn(8, 2, generator=replay)
        p_loc, p_scale = model.decoder(z)
        x_recon = p_loc + p_scale * torch.randn(8, 3, generator=replay)
    torch.testing.assert_close(t.z, z)
    torch.testing.assert_close(t.x_recon, x_recon)
    torch.testing.assert_close(t.log_p_x_given_z, normal_log_prob(x, p_loc, p_scale))
    torch.testing.assert_close(t.log_p_z, model.log_prior(z))
    torch.testing.assert_close(t.log_q_z_given_x, normal_log_prob(z, q_loc, q_scale))
    torch.testing.assert_close(t.log_q_x, t.log_p_x_given_z + t.log_p_z - t.log_q_z_given_x)
    assert t.log_q_x.shape == (8,)


def test_decoder_path_2019_uses_decoder_density(model):
    z_obs = torch.randn(8, 2, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        t = decoder_path(model, z_obs, torch.Generator().manual_seed(6), q_x_form="2019")
        q_loc, q_scale = model.encoder(t.x)
    assert torch.equal(t.log_q_x, t.log_p_x_given_z)
    assert torch.equal(t.z, z_obs)
    torch.testing.assert_close(t.log_p_z, model.log_prior(z_obs))
    torch.testing.assert_close(t.log_q_z_given_x, normal_log_prob(z_obs, q_loc, q_scale))
    assert t.x_recon is None
    with torch.no_grad():
        default = decoder_path(model, z_obs, torch.Generator().manual_seed(6))
    assert torch.equal(default.log_q_x, t.log_q_x)  # the published 2019 form is the default


def test_decoder_path_importance_form(model):
    z_obs = torch.randn(8, 2, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(6)
    replay = torch.Generator()
    replay.set_state(g.get_state())
    with torch.no_grad():
        t = decoder_path(model, z_obs, g, q_x_form="importance")
        t2019 = decoder_path(model, z_obs, torch.Generator().manual_seed(6), q_x_form="2019")
        p_loc, p_scale = model.decoder(z_obs)
        x = p_loc + p_scale * torch.randn(8, 3, generator=replay)  # x noise first ...
        q_loc, q_scale = model.encoder(x)
        z_prime = q_loc + q_scale * torch.randn(8, 2, generator=replay)  # ... then z' noise
        d_loc, d_scale = model.decoder(z_prime)
        expected = (normal_log_prob(x, d_loc, d_scale) + model.log_prior(z_prime)
                    - normal_log_prob(z_prime, q_loc, q_scale))
    torch.testing.assert_close(t.x, x)
    assert torch.equal(t.x, t2019.x)  # same x draw in both forms
    torch.testing.assert_close(t.log_p_x_given_z, t2019.log_p_x_given_z)
    torch.testing.assert_close(t.log_q_z_given_x, t2019.log_q_z_given_x)
    torch.testing.assert_close(t.log_q_x, expected)
    assert not torch.allclose(t.log_q_x, t.log_p_x_given_z)


def test_decoder_path_rejects_unknown_form(model):
    with pytest.raises(ValueError, match="q_x_form"):
        decoder_path(model, torch.zeros(2, 2), torch.Generator().manual_seed(0), q_x_form="2020")


def test_decoder_path_is_reparameterised(model):
    z_obs = torch.randn(8, 2, generator=torch.Generator().manual_seed(7))
    t = decoder_path(model, z_obs, torch.Generator().manual_seed(8))
    t.log_q_z_given_x.sum().backward()  # depends on the decoder only through the sampled x
    assert model.decoder.fc_loc.weight.grad is not None
    assert model.decoder.fc_loc.weight.grad.abs().sum() > 0
