"""An MMD-VAE (InfoVAE, Zhao et al., 2017) for mimflow: reconstruction plus a maximum mean discrepancy
between the batch's codes and draws from the prior, in place of the VAE's per-sample KL.

A plugin module with both kinds of term the objective API supports: the MMD compares the whole batch's
codes with the whole batch of prior draws (a batch-level term: batch_terms=True), and the prior draws come
from the run's own random stream (draws=True), so a seed trained beside others gives the numbers it gives
alone (docs/extending.md, second example).
"""
import torch

from mimflow.lowdim.model import standard_normal
from mimflow.registry import register_objective


def gaussian_kernel(a, b):
    """k(a, b) = exp(-|a - b|^2 / dim) for every pair: (runs, n, d) x (runs, m, d) -> (runs, n, m).

    The differences are written out: torch.cdist's backward rounds differently for a stack of one run
    than for several, so a seed would train differently beside others than alone."""
    return torch.exp(-(a.unsqueeze(-2) - b.unsqueeze(-3)).pow(2).sum(-1) / a.shape[-1])


def mmd_vae_loss(t, beta, generator, mmd_weight):
    """-log p(x|z) + beta * mmd_weight * MMD^2(codes, prior draws), per sample of shape (runs, n).

    t.z has shape (runs, n, z_dim): one row of codes per stacked run. The MMD is one number per run,
    shared by the batch's samples, so the batch mean is reconstruction plus the weighted MMD.
    """
    z = t.z
    prior = standard_normal(z.shape, generator).to(z.device)  # run i draws from its own generator
    mmd = (gaussian_kernel(z, z).mean((-2, -1)) + gaussian_kernel(prior, prior).mean((-2, -1))
           - 2 * gaussian_kernel(z, prior).mean((-2, -1)))
    return -t.log_p_x_given_z + beta * mmd_weight * mmd.unsqueeze(-1)


register_objective(
    "mmd-vae",
    mmd_vae_loss,
    label="MMD-VAE",
    color="tab:green",
    draws=True,
    batch_terms=True,
    settings={"mmd_weight": 100.0},
    description="reconstruction plus the weighted MMD between the batch's codes and prior draws (InfoVAE)",
)
