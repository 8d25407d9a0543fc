"""A beta-VAE (Higgins et al., 2017) for mimflow: the VAE loss with its KL term weighted by kl_weight.

A plugin module: listing it under `plugins:` in a config registers the objective "beta-vae", which any
low-dimensional experiment can then train like a built-in model (docs/extending.md).
"""
from mimflow.registry import register_objective


def beta_vae_loss(t, beta, kl_weight):
    """-log p(x|z) + kl_weight * beta * [log q(z|x) - log p(z)], per sample.

    t holds the log-densities of one encoder path (mimflow.lowdim.model.PathTerms); beta is mimflow's
    warm-up schedule (0 -> 1 over warmup_steps epochs, as for the VAE); kl_weight is the beta-VAE's own beta.
    """
    return -t.log_p_x_given_z + kl_weight * beta * (t.log_q_z_given_x - t.log_p_z)


register_objective(
    "beta-vae",
    beta_vae_loss,
    label="β-VAE",
    color="tab:purple",
    settings={"kl_weight": 4.0},  # the default; config key objective_settings overrides it
    description="VAE with its KL term weighted by kl_weight",
)
