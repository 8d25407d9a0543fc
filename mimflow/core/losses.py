"""The loss formulas both experiment families share, on per-sample log-densities (nats)."""
from __future__ import annotations

import math

import torch

LOG_HALF = math.log(0.5)


def mim_loss(log_p_x_given_z: torch.Tensor, log_p_z: torch.Tensor, log_q_z_given_x: torch.Tensor,
             log_q_x: torch.Tensor, beta: float) -> torch.Tensor:
    """MIM's per-sample loss: -1/2 [log p(x|z) + log p(z) + beta (log q(z|x) + log q(x))]."""
    return -0.5 * (log_p_x_given_z + log_p_z + beta * (log_q_z_given_x + log_q_x))


def log_mixture_joint(log_p_joint: torch.Tensor, log_q_joint: torch.Tensor) -> torch.Tensor:
    """log(1/2 p(x,z) + 1/2 q(x,z)), the joint of the MIM sample mixture."""
    return torch.logsumexp(torch.stack([log_p_joint + LOG_HALF, log_q_joint + LOG_HALF]), dim=0)
