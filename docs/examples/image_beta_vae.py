"""A beta-VAE objective for mimflow's image models: the HVAE's ELBO with its KL term weighted by kl_weight.

A plugin module: listing it under `plugins:` in a config registers the image objective "bvae", so the
models `convhvae_2level-bvae` and `pixelhvae_2level-bvae` can be listed under `images.models` and train
like the built-ins (docs/extending.md).
"""
from mimflow.registry import register_image_objective


def beta_vae_loss(t, beta, kl_weight):
    """-log p(x|z) + kl_weight * beta * KL, per image.

    t holds the encoder path's single-sample terms (mimflow.registry.ImageObjective), among them
    log_p_x_given_z and kl; beta is the warm-up schedule (epoch / warmup, at most 1); kl_weight is the
    beta-VAE's own beta.
    """
    return -t["log_p_x_given_z"] + kl_weight * beta * t["kl"]


register_image_objective(
    "bvae",
    beta_vae_loss,
    label="β-VAE",
    color="tab:purple",
    settings={"kl_weight": 4.0},  # the default; config key images.objective_settings overrides it
    description="the HVAE's ELBO with its KL term weighted by kl_weight",
)
