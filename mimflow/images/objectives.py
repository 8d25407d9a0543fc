"""The built-in objectives of the image experiments (spec 6.4), registered in
mimflow.registry.IMAGE_OBJECTIVES at import: VAE, A-MIM and SymMIM. A new one is one more registration
here or in a plugin module of one's own (docs/extending.md).

Each loss maps the encoder path's single-sample terms (a dict of per-image tensors; see
mimflow.registry.ImageObjective) and beta to the per-image loss; MIM models are evaluated with the VAE
terms, as in the original.
"""
from ..registry import register_image_objective


def vae_loss(t, beta: float):
    """-log p(x|z) + beta KL, with the single-sample KL = log q(z1|x,z2) + log q(z2|x) - log p(z1|z2) - log p(z2)."""
    return -t["log_p_x_given_z"] + beta * t["kl"]


def amim_loss(t, beta: float):
    """-1/2 [log p(x|z) + log p(z) + beta (log q(z|x) + log q(x))] with log p(z) = log p(z1|z2) + beta log p(z2)
    and the marginal estimate log q(x) = log p(x|z) + log p(z) - log q(z|x), i.e. -1/2 (1 + beta) log p(x, z).

    Written out rather than as -1/2 (1 + beta) log p(x, z): same value, and the q(z|x) terms cancel in the
    gradient too, exactly as in the original."""
    from ..core.losses import mim_loss

    log_p_x_given_z = t["log_p_x_given_z"]
    log_p_z = t["log_p_z1_given_z2"] + beta * t["log_p_z2"]  # beta weights only the top prior
    log_q_z_given_x = t["log_q_z1_given_x_z2"] + t["log_q_z2_given_x"]
    log_q_x = log_p_x_given_z + log_p_z - log_q_z_given_x
    return mim_loss(log_p_x_given_z, log_p_z, log_q_z_given_x, log_q_x, beta)


register_image_objective("vae", vae_loss, label="VAE", color="tab:red",
                         description="the ELBO of the two-level HVAE (the original's default)")
register_image_objective("smim", amim_loss, label="SymMIM", color="tab:blue", sampling_path=True,
                         description="A-MIM plus beta times the prior-sampling path once beta >= 1")
register_image_objective("amim", amim_loss, label="A-MIM", color="tab:cyan",
                         description="MIM with encoder samples only (the seed README's image models)")
