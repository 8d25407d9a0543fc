"""A test plugin: the VAE objective, except that the run at position `nan_member` of a stacked training gets
a NaN loss, so exactly one run of a seed group (or a single run, at position 0) fails the way a diverging
run does, on any machine."""
import math

import torch

from mimflow.objectives.vae import vae_loss
from mimflow.registry import register_objective


def nan_member_loss(t, beta, nan_member):
    loss = vae_loss(t, beta)
    if loss.shape[0] <= nan_member:  # the stack's first axis is its runs, in seed order
        return loss
    factor = torch.ones(loss.shape[0], *[1] * (loss.dim() - 1), dtype=loss.dtype)
    factor[nan_member] = math.nan
    return loss * factor


register_objective("nan-member", nan_member_loss, label="NaN member", settings={"nan_member": 1},
                   description="VAE loss, NaN for the run at position nan_member of a stack (tests)")
