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
from ..registry import IMAGE_OBJECTIVES
from .layers import full_precision, log_bernoulli, log_normal_diag
from .model import HVAE2Level


def _log_densities(model: HVAE2Level, x: torch.Tensor, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The five per-sample log-densities at one joint sample, from `out` keyed as HVAE2Level.forward.

    Never below float32: under bf16 autocast (fidelity.image_precision: bf16) only the networks run in bf16;
    other tensors pass unchanged, so fp32 runs are unchanged.
    """
    out = {name: full_precision(value) for name, value in out.items()}
    z1, z2 = out["z1_q"], out["z2_q"]
    return dict(
        log_p_x_given_z=log_bernoulli(x, out["x_mean"]),
        log_p_z1_given_z2=log_normal_diag(z1, out["z1_p_mean"], out["z1_p_logvar"]),
        log_p_z2=model.log_p_z2(z2),
        log_q_z1_given_x_z2=log_normal_diag(z1, out["z1_q_mean"], out["z1_q_logvar"]),
        log_q_z2_given_x=log_normal_diag(z2, out["z2_q_mean"], out["z2_q_logvar"]),
    )


def vae_elbo_terms(model: HVAE2Level, x: torch.Tensor, generator: torch.Generator | None = None,
                   noise: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Single-sample terms at z ~ q(z|x) (or at the given encoder noise): the five log-densities (B,) and
    their sum "elbo"."""
    return _encoder_pass(model, x, generator, noise)[0]


# What an image objective sees of the encoder pass besides the log-densities (docs/extending.md): the joint
# sample and the parameters of both posterior levels, per image, in float32 or wider.
POSTERIOR_TERMS = {"z1": "z1_q", "z2": "z2_q", "q_z1_mean": "z1_q_mean", "q_z1_logvar": "z1_q_logvar",
                   "q_z2_mean": "z2_q_mean", "q_z2_logvar": "z2_q_logvar"}


def _encoder_pass(model: HVAE2Level, x: torch.Tensor, generator: torch.Generator | None,
                  noise: tuple[torch.Tensor, torch.Tensor] | None = None
                  ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """vae_elbo_terms's terms, and the pass's joint sample and posterior parameters (POSTERIOR_TERMS)."""
    out = model(x, generator, noise)
    t = _log_densities(model, x, out)
    t["elbo"] = (t["log_p_x_given_z"] + t["log_p_z1_given_z2"] + t["log_p_z2"]
                 - t["log_q_z1_given_x_z2"] - t["log_q_z2_given_x"])
    return t, {name: full_precision(out[key]) for name, key in POSTERIOR_TERMS.items()}


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
               generator: torch.Generator | None = None,
               settings: dict | None = None, dataset_size: int | None = None,
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(scalar batch loss to minimise, detached per-sample terms) of a registered image objective.

    The objective's loss (mimflow.registry.IMAGE_OBJECTIVES; the built-ins in mimflow.images.objectives)
    maps the encoder path's single-sample terms, beta and its settings (the declared defaults, updated by
    `settings`) to the per-image loss; this averages it over the
    batch and, for an objective with a sampling path, adds beta * mean of the prior-sampling path once
    beta >= 1. The objective's dict holds the five log-densities and kl (B,), the joint sample z1, z2 and the
    posterior parameters q_z1_mean, q_z1_logvar, q_z2_mean, q_z2_logvar (B, z), x (B, x_dim) and
    dataset_size (N, the training images of an epoch; None outside training). Terms returned: re =
    -log p(x|z), kl, loss (encoder path, per sample), the five log-densities, and loss_p (prior path, per
    sample; n = min(B, K) with the VampPrior) when that path runs.
    """
    entry = IMAGE_OBJECTIVES[objective]
    t, posterior = _encoder_pass(model, x, generator)
    log_p_x_given_z = t["log_p_x_given_z"]
    kl = -(t["log_p_z1_given_z2"] + t["log_p_z2"] - t["log_q_z1_given_x_z2"] - t["log_q_z2_given_x"])
    path_terms = {name: value for name, value in t.items() if name != "elbo"}
    per_sample = entry.loss({**path_terms, "kl": kl, **posterior, "x": x, "dataset_size": dataset_size}, beta,
                            **{**entry.settings, **(settings or {})})
    total = per_sample.mean()
    terms = {name: value.detach() for name, value in path_terms.items()}
    terms.update(re=-log_p_x_given_z.detach(), kl=kl.detach(), loss=per_sample.detach())

    if entry.sampling_path and beta >= 1.0:
        n = x.shape[0]
        if model.cfg.prior == "vampprior":
            n = min(n, model.cfg.number_components)  # the first n pseudo-inputs, one sample each
        loss_p = _prior_path_loss(model, n, beta, generator)
        total = total + beta * loss_p.mean()
        terms["loss_p"] = loss_p.detach()
    return total, terms


def importance_pass_plan(n_images: int, n_samples: int, pass_copies: int) -> list[tuple[int, int, int, int]]:
    """The forward passes of the IS estimate, each (first image, end image, first sample, end sample).

    A pass holds at most `pass_copies` image copies: with S <= pass_copies, pass_copies // S whole images
    (S copies each); otherwise each image in chunks of pass_copies samples. pass_copies = 100 is the
    original's layout (MB = 100: 50 passes per image at S = 5000).
    """
    if n_samples < 1 or pass_copies < 1:
        raise ValueError(f"n_samples and pass_copies must be >= 1, got n_samples={n_samples}, pass_copies={pass_copies}")
    if n_samples <= pass_copies:
        per_pass = pass_copies // n_samples
        return [(i, min(i + per_pass, n_images), 0, n_samples) for i in range(0, n_images, per_pass)]
    return [(i, i + 1, s, min(s + pass_copies, n_samples))
            for i in range(n_images) for s in range(0, n_samples, pass_copies)]


@torch.no_grad()
def importance_sampled_nll(model: HVAE2Level, x: torch.Tensor, n_samples: int, pass_copies: int = 100,
                           generator: torch.Generator | None = None,
                           noise: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Per-image NLL -(logsumexp_s w_s - log S), shape (B,), w_s the VAE log-weights at z_s ~ q(z|x).

    The passes follow importance_pass_plan(B, S, pass_copies); only the order of the random draws depends
    on it. noise: fixed encoder draws (eps_z2 (B, S, z2_size), eps_z1 (B, S, z1_size)) used instead of
    `generator`, with which every pass layout gives the same estimate.
    Call model.eval() first (BatchNorm of the pixel decoder would otherwise use batch statistics).
    """
    log_w = torch.empty(x.shape[0], n_samples, dtype=torch.float64, device=x.device)
    for i0, i1, s0, s1 in importance_pass_plan(x.shape[0], n_samples, pass_copies):
        copies = x[i0:i1].repeat_interleave(s1 - s0, dim=0)  # image-major: the samples of one image together
        eps = None if noise is None else tuple(e[i0:i1, s0:s1].reshape(copies.shape[0], -1) for e in noise)
        log_w[i0:i1, s0:s1] = vae_elbo_terms(model, copies, generator, eps)["elbo"].view(i1 - i0, s1 - s0)
    # float64 for the logsumexp over thousands of samples
    return -(torch.logsumexp(log_w, dim=1) - math.log(n_samples)).to(x.dtype)


def auto_pass_copies(model: HVAE2Level, n_samples: int, device: torch.device, cpu_copies: int = 100,
                     memory_fraction: float = 0.5, max_images: int = 64) -> int:
    """Copies per IS pass sized to the device: on CUDA, as many as fit in memory_fraction of the free memory
    (measured on a probe pass), whole images of S samples when at least one fits, at most max_images images;
    on the CPU a fixed number (CPU runs must not depend on the machine): 100, the original's layout, which
    measured fastest there (larger passes lose to cache misses; bench/RESULTS.md)."""
    if device.type != "cuda":
        return cpu_copies
    probe = 256
    x = torch.zeros(probe, model.cfg.x_dim, device=device)
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    index = device.index if device.index is not None else torch.cuda.current_device()
    with torch.no_grad(), torch.random.fork_rng(devices=[index], device_type="cuda"):  # leaves the run's noise alone
        vae_elbo_terms(model, x)
    per_copy = max(1, (torch.cuda.max_memory_allocated(device) - base) // probe)
    free, _ = torch.cuda.mem_get_info(device)
    copies = max(probe, int(memory_fraction * free) // per_copy)
    if copies >= n_samples:
        return min(copies // n_samples, max_images) * n_samples
    return copies
