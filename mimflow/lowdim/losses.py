"""Per-sample losses of the low-dimensional experiments (spec 3.2-3.5).

Every function maps the terms of one forward path (``PathTerms``) and beta to a per-sample loss;
callers average over the batch. Signs and 1/2 factors are exactly the original's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..core import losses as shared
from .model import PathTerms


def vae_loss(t: PathTerms, beta: float) -> torch.Tensor:
    """-log p(x|z) + beta [log q(z|x) - log p(z)]: single-sample KL (AE: beta = 0)."""
    return -t.log_p_x_given_z + beta * (t.log_q_z_given_x - t.log_p_z)


def vae_plus_entropy_loss(t: PathTerms, beta: float) -> torch.Tensor:
    """VAE + R_H: adds the joint-entropy estimate -[log q(z|x) + log q(x)]."""
    return vae_loss(t, beta) - (t.log_q_z_given_x + t.log_q_x)


def mim_loss(t: PathTerms, beta: float) -> torch.Tensor:
    """-1/2 [log p(x|z) + log p(z) + beta (log q(z|x) + log q(x))]."""
    return shared.mim_loss(t.log_p_x_given_z, t.log_p_z, t.log_q_z_given_x, t.log_q_x, beta)


def mim_minus_entropy_loss(t: PathTerms, beta: float) -> torch.Tensor:
    """MIM - R_H: adds log(1/2 p(x,z) + 1/2 q(x,z)), i.e. subtracts the mixture entropy estimate."""
    log_mixture = shared.log_mixture_joint(t.log_p_x_given_z + t.log_p_z, t.log_q_z_given_x + t.log_q_x)
    return mim_loss(t, beta) + log_mixture


@dataclass(frozen=True)
class Objective:
    """How a named model trains: its loss, whether it adds the prior-sampling path, AE mode."""

    name: str
    loss: Callable[[PathTerms, float], torch.Tensor]
    sampling_path: bool = False  # MIM's decoder path with z ~ P(z), once beta >= 1
    autoencoder: bool = False  # delta encoder and beta = 0


OBJECTIVES: dict[str, Objective] = {o.name: o for o in [
    Objective("vae", vae_loss),
    Objective("vae-plusH", vae_plus_entropy_loss),
    Objective("ae", vae_loss, autoencoder=True),
    Objective("mim", mim_loss, sampling_path=True),  # the paper's MIM (original: --mim-loss --mim-samp)
    Objective("amim", mim_loss),  # encoder samples only (original: --mim-loss)
    Objective("mim-minusH", mim_minus_entropy_loss, sampling_path=True),
]}


def objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise ValueError(f"model {name!r} is not one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[name]
