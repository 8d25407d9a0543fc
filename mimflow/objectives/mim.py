"""The MIM family of the paper's low-dimensional experiments (spec 3.4, 3.5): MIM, A-MIM and MIM - R_H.

Per-sample losses on the terms of one forward path; signs and 1/2 factors are exactly the original's.
"""
from ..registry import register_objective


def mim_loss(t, beta: float):
    """-1/2 [log p(x|z) + log p(z) + beta (log q(z|x) + log q(x))]."""
    from ..core import losses as shared

    return shared.mim_loss(t.log_p_x_given_z, t.log_p_z, t.log_q_z_given_x, t.log_q_x, beta)


def mim_minus_entropy_loss(t, beta: float):
    """MIM - R_H: adds log(1/2 p(x,z) + 1/2 q(x,z)), i.e. subtracts the mixture entropy estimate."""
    from ..core import losses as shared

    log_mixture = shared.log_mixture_joint(t.log_p_x_given_z + t.log_p_z, t.log_q_z_given_x + t.log_q_x)
    return mim_loss(t, beta) + log_mixture


# The paper's MIM (original: --mim-loss --mim-samp) and A-MIM, encoder samples only (original: --mim-loss).
register_objective("mim", mim_loss, label="MIM", color="tab:blue", sampling_path=True)
register_objective("amim", mim_loss, label="A-MIM", color="tab:cyan")
register_objective("mim-minusH", mim_minus_entropy_loss, label="MIM − R_H", color="tab:blue", sampling_path=True,
                   beta_switch="mim_minus_h_beta")
