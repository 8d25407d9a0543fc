"""Losses and likelihood estimates of the image experiments (spec 6.4-6.5).

Pure functions of a model and a batch of flat binary images x (B, x_dim). Per-sample terms are
log-densities summed over dimensions, in nats (Gaussian terms without the -1/2 log 2 pi constant,
which cancels in every quantity computed here). MIM models are evaluated with the VAE terms,
as in the original.
"""
from __future__ import annotations

import math

import torch

from ..core.losses import mim_loss
from ..core.settings import check_choice
from ..names import IMAGE_OBJECTIVES
from .layers import log_bernoulli, log_normal_diag
from .model import HVAE2Level


def _log_densities(model: HVAE2Level, x: torch.Tensor, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The five per-sample log-densities at one joint sample, from `out` keyed as HVAE2Level.forward."""
    z1, z2 = out["z1_q"], out["z2_q"]
    return dict(
        log_p_x_given_z=log_bernoulli(x, out["x_mean"]),
        log_p_z1_given_z2=log_normal_diag(z1, out["z1_p_mean"], out["z1_p_logvar"]),
        log_p_z2=model.log_p_z2(z2),
        log_q_z1_given_x_z2=log_normal_diag(z1, out["z1_q_mean"], out["z1_q_logvar"]),
        log_q_z2_given_x=log_normal_diag(z2, out["z2_q_mean"], out["z2_q_logvar"]),
    )


def vae_elbo_terms(model: HVAE2Level, x: torch.Tensor,
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Single-sample terms at z ~ q(z|x): the five log-densities (B,) and their sum "elbo"."""
    t = _log_densities(model, x, model(x, generator))
    t["elbo"] = (t["log_p_x_given_z"] + t["log_p_z1_given_z2"] + t["log_p_z2"]
                 - t["log_q_z1_given_x_z2"] - t["log_q_z2_given_x"])
    return t


def add_score_function_term(loss: torch.Tensor, log_prob: torch.Tensor) -> torch.Tensor:
    """REINFORCE: the same value as `loss`, with loss * grad log_prob added to its gradient (per sample)."""
    return loss + loss.detach() * log_prob - (loss * log_prob).detach()


def _prior_path_loss(model: HVAE2Level, n: int, beta: float,
                     generator: torch.Generator | None) -> torch.Tensor:
    """SymMIM's decoder path: z ~ p(z), x ~ p(x|z) (probabilities, detached), terms at (x, z); shape (n,).

    log q(x) = log p(x|z) on this path (the original's choice), and q(z|x) is evaluated at the prior z.
    Pixel decoder: x is the PixelCNN's final-step probabilities given its own autoregressive sample and
    the prior z (what the original's pixelcnn_generate returns; it crashed only because it was called
    without z). This mirrors the conv model, whose x is the decoder mean. It costs one autoregressive
    pass (H*W small decoder evaluations) per training batch.
    """
    z1, z2 = model.sample_prior_z(n, generator)
    x = model.sample_x_given_z(z1, z2, generator).detach()  # decoded images carry no gradient
    out: dict[str, torch.Tensor] = dict(z1_q=z1, z2_q=z2)  # the prior z stands where q's sample would
    out["z2_q_mean"], out["z2_q_logvar"] = model.q_z2_params(x)
    out["z1_q_mean"], out["z1_q_logvar"] = model.q_z1_params(x, z2)
    out["z1_p_mean"], out["z1_p_logvar"] = model.p_z1_params(z2)
    out["x_mean"] = model.decode_probs(x, z1, z2)
    t = _log_densities(model, x, out)
    log_p_x_given_z = t["log_p_x_given_z"]
    log_p_z = t["log_p_z1_given_z2"] + beta * t["log_p_z2"]
    log_q_z_given_x = t["log_q_z1_given_x_z2"] + t["log_q_z2_given_x"]
    loss = mim_loss(log_p_x_given_z, log_p_z, log_q_z_given_x, log_p_x_given_z, beta)
    # REINFORCE for x ~ p(x|z), as the original. With the conv decoder x is the decoder mean at the same z,
    # where d log p(x|z) / d probs = 0, so this term's gradient is (up to the clamp) zero there.
    return add_score_function_term(loss, log_p_x_given_z)


def image_loss(model: HVAE2Level, x: torch.Tensor, objective: str, beta: float,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(scalar batch loss to minimise, detached per-sample terms).

    vae:  -log p(x|z) + beta KL, with the single-sample KL = log q(z1|x,z2) + log q(z2|x) - log p(z1|z2) - log p(z2).
    amim: -1/2 [log p(x|z) + log p(z) + beta (log q(z|x) + log q(x))] with log p(z) = log p(z1|z2) + beta log p(z2)
          and the marginal estimate log q(x) = log p(x|z) + log p(z) - log q(z|x), i.e. -1/2 (1 + beta) log p(x, z).
    smim: amim, plus beta * mean of the prior-sampling path once beta >= 1.
    Terms: re = -log p(x|z), kl, loss (encoder path, per sample), the five log-densities, and
    loss_p (prior path, per sample; n = min(B, K) with the VampPrior) when that path runs.
    """
    check_choice("objective", objective, IMAGE_OBJECTIVES)
    t = vae_elbo_terms(model, x, generator)
    log_p_x_given_z = t["log_p_x_given_z"]
    kl = -(t["log_p_z1_given_z2"] + t["log_p_z2"] - t["log_q_z1_given_x_z2"] - t["log_q_z2_given_x"])
    if objective == "vae":
        per_sample = -log_p_x_given_z + beta * kl
    else:
        log_p_z = t["log_p_z1_given_z2"] + beta * t["log_p_z2"]  # beta weights only the top prior
        log_q_z_given_x = t["log_q_z1_given_x_z2"] + t["log_q_z2_given_x"]
        log_q_x = log_p_x_given_z + log_p_z - log_q_z_given_x
        # Written out rather than as -1/2 (1 + beta) log p(x, z): same value, and the q(z|x) terms cancel in
        # the gradient too, exactly as in the original.
        per_sample = mim_loss(log_p_x_given_z, log_p_z, log_q_z_given_x, log_q_x, beta)
    total = per_sample.mean()
    terms = {name: value.detach() for name, value in t.items() if name != "elbo"}
    terms.update(re=-log_p_x_given_z.detach(), kl=kl.detach(), loss=per_sample.detach())

    if objective == "smim" and beta >= 1.0:
        n = x.shape[0]
        if model.cfg.prior == "vampprior":
            n = min(n, model.cfg.number_components)  # the first n pseudo-inputs, one sample each
        loss_p = _prior_path_loss(model, n, beta, generator)
        total = total + beta * loss_p.mean()
        terms["loss_p"] = loss_p.detach()
    return total, terms


@torch.no_grad()
def importance_sampled_nll(model: HVAE2Level, x: torch.Tensor, n_samples: int, batch: int = 100,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image NLL -(logsumexp_s w_s - log S), shape (B,), w_s the VAE log-weights at z_s ~ q(z|x).

    At most `batch` image copies go through the model at once (the original's MB): with S >= batch each
    image is done in chunks of `batch` copies, otherwise batch // S images (S copies each) per pass.
    Call model.eval() first (BatchNorm of the pixel decoder would otherwise use batch statistics).
    """
    if n_samples < 1 or batch < 1:
        raise ValueError(f"n_samples and batch must be >= 1, got n_samples={n_samples}, batch={batch}")
    log_weights = []  # one (images, S) block per group of images
    if n_samples >= batch:
        for image in x:
            row = []
            for start in range(0, n_samples, batch):
                copies = image.unsqueeze(0).expand(min(batch, n_samples - start), -1)
                row.append(vae_elbo_terms(model, copies, generator)["elbo"])
            log_weights.append(torch.cat(row).unsqueeze(0))
    else:
        per_pass = batch // n_samples
        for start in range(0, x.shape[0], per_pass):
            group = x[start:start + per_pass]
            copies = group.repeat_interleave(n_samples, dim=0)  # image-major: S copies of each image
            log_weights.append(vae_elbo_terms(model, copies, generator)["elbo"].view(group.shape[0], n_samples))
    log_w = torch.cat(log_weights).double()  # float64 for the logsumexp over thousands of samples
    return -(torch.logsumexp(log_w, dim=1) - math.log(n_samples)).to(x.dtype)
