"""The VAE family of the paper's low-dimensional experiments (spec 3.2, 3.3, 3.5): VAE, AE and VAE + R_H.

Per-sample losses on the terms of one encoder path; signs and factors are exactly the original's.
"""
from ..registry import register_objective


def vae_loss(t, beta: float):
    """-log p(x|z) + beta [log q(z|x) - log p(z)]: single-sample KL (AE: beta = 0)."""
    return -t.log_p_x_given_z + beta * (t.log_q_z_given_x - t.log_p_z)


def vae_plus_entropy_loss(t, beta: float):
    """VAE + R_H: adds the joint-entropy estimate -[log q(z|x) + log q(x)]."""
    return vae_loss(t, beta) - (t.log_q_z_given_x + t.log_q_x)


register_objective("vae", vae_loss, label="VAE", color="tab:red")
register_objective("vae-plusH", vae_plus_entropy_loss, label="VAE + R_H", color="tab:red",
                   beta_switch="vae_plus_h_beta")
register_objective("ae", vae_loss, label="AE", color="tab:green", autoencoder=True)
