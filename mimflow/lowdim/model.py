"""The low-dimensional model of the original `vae-as-mim-dataset.py` (spec 2.1-2.3).

Encoder q(z|x) and decoder p(x|z) are MLPs with diagonal Gaussian heads,
sigma = exp(W_s h + b_s) + min_scale. The prior p(z) is N(0, (1 + min_scale)^2 I), fixed.
Distributions are kept as (loc, scale) tensors and sampled with an explicit generator so a
run is a pure function of its seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import torch
from torch import nn

from ..core.checkpoint import load_checkpoint
from ..names import ACTIVATIONS

LOG_2PI = math.log(2 * math.pi)


def activation(act: str) -> nn.Module:
    """The hidden-layer activation named by the config (names.ACTIVATIONS; checked by LowdimRunConfig)."""
    return getattr(nn, ACTIVATIONS[act])()


def normal_log_prob(value: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Diagonal Gaussian log-density in nats, summed over the last dimension."""
    scale = torch.as_tensor(scale, dtype=value.dtype)
    z = (value - loc) / scale
    return (-0.5 * z.pow(2) - scale.log() - 0.5 * LOG_2PI).sum(-1)


# One generator for a single run; a sequence of generators, one per run, for runs stacked along dim 0.
Generators = Union[torch.Generator, Sequence[torch.Generator]]


def standard_normal(shape: Sequence[int], generator: Generators, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N(0, 1) draws of `shape`. With one generator per stacked run, run i's slice [i] is drawn from its own
    generator with the shape a single run draws, so every run sees the numbers it would see alone."""
    if isinstance(generator, torch.Generator):
        return torch.randn(tuple(shape), generator=generator, dtype=dtype)
    if len(generator) != shape[0]:
        raise ValueError(f"{len(generator)} generators for {shape[0]} stacked runs")
    return torch.stack([torch.randn(tuple(shape[1:]), generator=g, dtype=dtype) for g in generator])


def rsample(loc: torch.Tensor, scale: torch.Tensor, generator: Generators) -> torch.Tensor:
    """Reparameterised draw loc + scale * eps."""
    return loc + scale * standard_normal(loc.shape, generator, loc.dtype).to(loc.device)


@dataclass(frozen=True)
class LowdimModelConfig:
    x_dim: int
    z_dim: int
    mid_dim: int
    layers: int = 2  # Linear layers per network, the Gaussian head included
    act: str = "tanh"
    min_logvar: float = 6.0  # min_scale = 10^-min_logvar, added to the std
    delta_encoder: bool = False  # AE: q(z|x) std fixed at min_scale

    @property
    def min_scale(self) -> float:
        return 10.0 ** (-self.min_logvar)


class GaussianMLP(nn.Module):
    """x -> [Linear -> act] * (layers - 1) -> (loc, scale) heads."""

    def __init__(self, in_dim: int, out_dim: int, mid_dim: int, layers: int, act: str,
                 min_scale: float, delta: bool = False):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        hidden: list[nn.Module] = []
        width = in_dim
        for _ in range(layers - 1):
            hidden += [nn.Linear(width, mid_dim), activation(act)]
            width = mid_dim
        self.hidden = nn.Sequential(*hidden)
        self.fc_loc = nn.Linear(width, out_dim)
        self.fc_logscale = nn.Linear(width, out_dim)
        self.min_scale = min_scale
        self.delta = delta

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(inputs)
        loc = self.fc_loc(h)
        if self.delta:
            return loc, torch.full_like(loc, self.min_scale)
        return loc, torch.exp(self.fc_logscale(h)) + self.min_scale


class LowdimModel(nn.Module):
    """Encoder, decoder and the fixed N(0, (1 + min_scale)^2) prior."""

    def __init__(self, config: LowdimModelConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoder = GaussianMLP(c.x_dim, c.z_dim, c.mid_dim, c.layers, c.act, c.min_scale, c.delta_encoder)
        self.decoder = GaussianMLP(c.z_dim, c.x_dim, c.mid_dim, c.layers, c.act, c.min_scale)
        self.prior_scale = 1.0 + c.min_scale

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        return normal_log_prob(z, torch.zeros_like(z), self.prior_scale)


@dataclass
class PathTerms:
    """Per-sample log-densities of one forward path, named as in the losses: shape (n,) for a run's model;
    in training, where the seeds of a group train as one stack, (runs, n) with one row per run, and x, z and
    x_recon are (runs, n, dim)."""

    x: torch.Tensor  # the observation the terms are evaluated at
    z: torch.Tensor
    log_p_x_given_z: torch.Tensor
    log_p_z: torch.Tensor
    log_q_z_given_x: torch.Tensor
    log_q_x: torch.Tensor  # single-sample model marginal estimate
    x_recon: torch.Tensor | None = None  # encoder path: x~ ~ p(x|z)
    # q(z|x) at this path's x, the posterior whose density log_q_z_given_x is: per-sample mean and standard
    # deviation (min_scale included), (runs, n, z_dim) like z. Terms that compare a sample's code with every
    # other sample's posterior (a minibatch estimate of q(z), a total correlation) need them.
    q_loc: torch.Tensor | None = None
    q_scale: torch.Tensor | None = None
    dataset_size: int | None = None  # N: training samples in one epoch's pass (None outside training)


def encoder_path(model: LowdimModel, x: torch.Tensor, generator: Generators,
                 dataset_size: int | None = None) -> PathTerms:
    """x -> z ~ q(z|x) -> x~ ~ p(x|z); log q(x) = log p(x|z) + log p(z) - log q(z|x) at that z."""
    q_loc, q_scale = model.encoder(x)
    z = rsample(q_loc, q_scale, generator)
    p_loc, p_scale = model.decoder(z)
    x_recon = rsample(p_loc, p_scale, generator)
    log_p_x_given_z = normal_log_prob(x, p_loc, p_scale)
    log_p_z = model.log_prior(z)
    log_q_z_given_x = normal_log_prob(z, q_loc, q_scale)
    log_q_x = log_p_x_given_z + log_p_z - log_q_z_given_x
    return PathTerms(x, z, log_p_x_given_z, log_p_z, log_q_z_given_x, log_q_x, x_recon, q_loc, q_scale, dataset_size)


def decoder_path(model: LowdimModel, z_obs: torch.Tensor, generator: Generators,
                 q_x_form: str = "2019", dataset_size: int | None = None) -> PathTerms:
    """z_obs -> x ~ p(x|z_obs) (reparameterised) -> encoder at x.

    q_x_form "2019": log q(x) = log p(x|z_obs), the form that produced the published figures.
    q_x_form "importance": log q(x) = log p(x|z') + log p(z') - log q(z'|x), z' ~ q(z|x) (HEAD).
    """
    p_loc, p_scale = model.decoder(z_obs)
    x = rsample(p_loc, p_scale, generator)
    log_p_x_given_z = normal_log_prob(x, p_loc, p_scale)
    q_loc, q_scale = model.encoder(x)
    log_q_z_given_x = normal_log_prob(z_obs, q_loc, q_scale)
    if q_x_form == "2019":
        log_q_x = log_p_x_given_z
    elif q_x_form == "importance":
        z_prime = rsample(q_loc, q_scale, generator)
        dec_loc, dec_scale = model.decoder(z_prime)
        log_q_x = (normal_log_prob(x, dec_loc, dec_scale) + model.log_prior(z_prime)
                   - normal_log_prob(z_prime, q_loc, q_scale))
    else:
        raise ValueError(f"q_x_form {q_x_form!r} is not one of ['2019', 'importance']")
    return PathTerms(x, z_obs, log_p_x_given_z, model.log_prior(z_obs), log_q_z_given_x, log_q_x, None, q_loc, q_scale,
                     dataset_size)


def load_lowdim_model(path: str | Path) -> tuple[LowdimModel, dict]:
    """The model of a run's model.pt in eval mode, and the checkpoint dict (run_config, best_epoch, ...)."""
    state = load_checkpoint(path)
    model = LowdimModel(LowdimModelConfig(**state["model_config"]))
    model.load_state_dict(state["state_dict"])
    model.eval()
    return model, state
