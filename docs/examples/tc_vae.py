"""A total-correlation-penalised VAE (beta-TCVAE, Chen et al., 2018) for mimflow, in both families: the VAE
loss plus (tc_weight - 1) times the total correlation of the codes, TC = KL(q(z) || prod_d q(z_d)), estimated
on each training batch by minibatch-weighted sampling.

The estimate needs more than a sample's own log-densities: the posterior q(z|x_j) of every sample j of the
batch (its mean and scale) and the dataset size N, which mimflow hands to every loss (docs/extending.md,
"What an objective sees"). The term couples the samples of a batch, so both registrations set
batch_terms=True. At tc_weight 1 it trains as the VAE, step for step.
"""
import math

import torch

from mimflow.registry import register_image_objective, register_objective

LOG_2PI = math.log(2 * math.pi)


def total_correlation(z, loc, log_scale, dataset_size):
    """Per-sample log q(z_i) - sum_d log q(z_id), shape (..., n), from the codes z and their posteriors' loc
    and log-scale, each (..., n, d), with log q(z_i) ~ logsumexp_j log q(z_i | x_j) - log(N n) over the batch
    (minibatch-weighted sampling); likewise each marginal q(z_id). Leading axes (the stacked runs) stay apart.
    """
    n = z.shape[-2]
    # log q(z_id | x_j) for every pair (i, j) and dimension d: (..., n_i, n_j, d)
    standardised = (z.unsqueeze(-2) - loc.unsqueeze(-3)) * torch.exp(-log_scale.unsqueeze(-3))
    log_density = -0.5 * standardised.pow(2) - log_scale.unsqueeze(-3) - 0.5 * LOG_2PI
    log_norm = math.log(dataset_size * n)
    log_q_z = torch.logsumexp(log_density.sum(-1), dim=-1) - log_norm
    log_q_z_marginals = (torch.logsumexp(log_density, dim=-2) - log_norm).sum(-1)
    return log_q_z - log_q_z_marginals


def tc_vae_loss(t, beta, tc_weight):
    """Low-dimensional: -log p(x|z) + beta KL + beta (tc_weight - 1) TC, per sample, shape (runs, n).

    t (mimflow.lowdim.model.PathTerms) gives z, q_loc and q_scale (runs, n, z_dim), and dataset_size."""
    tc = total_correlation(t.z, t.q_loc, t.q_scale.log(), t.dataset_size)
    return -t.log_p_x_given_z + beta * (t.log_q_z_given_x - t.log_p_z) + beta * (tc_weight - 1) * tc


def image_tc_vae_loss(t, beta, tc_weight):
    """Image models: the HVAE's -log p(x|z) + beta KL + beta (tc_weight - 1) TC of the top-level codes z2, per
    image, shape (B,). t gives z2, q_z2_mean and q_z2_logvar (B, z2_size), and dataset_size."""
    tc = total_correlation(t["z2"], t["q_z2_mean"], 0.5 * t["q_z2_logvar"], t["dataset_size"])
    return -t["log_p_x_given_z"] + beta * t["kl"] + beta * (tc_weight - 1) * tc


register_objective("tcvae", tc_vae_loss, label="β-TCVAE", color="tab:olive", batch_terms=True,
                   settings={"tc_weight": 6.0},  # the default; config key objective_settings overrides it
                   description="VAE plus (tc_weight - 1) x the codes' total correlation (minibatch-weighted)")
register_image_objective("tcvae", image_tc_vae_loss, label="β-TCVAE", color="tab:olive", batch_terms=True,
                         settings={"tc_weight": 6.0},  # config key images.objective_settings overrides it
                         description="HVAE ELBO plus (tc_weight - 1) x the top codes' total correlation")
