"""Evaluation of a trained low-dimensional model: the fields of the original's results.<seed>.csv.

Follows aux.test_model: a train pass (z samples + labels for KNN), a test pass (x, sampled z,
sampled x~), and one more forward pass whose fresh distributions are evaluated at the stored
test x and z. All values in nats per data vector.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.losses import log_mixture_joint
from ..core.metrics import (
    knn_accuracies,
    ksg_error_scale,
    ksg_mutual_information,
    mean_l2_error,
)
from ..metrics import METRICS
from .data import evaluation_pass
from .model import LowdimModel, encoder_path, normal_log_prob, rsample
from .settings import EvaluationConfig, LowdimRunConfig


@dataclass(frozen=True)
class EvaluationArrays:
    """What a plugin metric sees (mimflow.registry.Metric.compute): the evaluation's test vectors x, their
    sampled latents z and reconstructions x_recon, the training latents, and the labels of both splits."""

    x: np.ndarray
    z: np.ndarray
    x_recon: np.ndarray
    y_test: np.ndarray
    train_z: np.ndarray
    y_train: np.ndarray


def _mean(t: torch.Tensor) -> float:
    return float(t.mean())


@torch.no_grad()
def evaluate_lowdim(model: LowdimModel, source, cfg: LowdimRunConfig, ev: EvaluationConfig,
                    generator: torch.Generator) -> dict[str, float]:
    model.eval()
    x_train, y_train = evaluation_pass(source, "train", generator)
    train_z = encoder_path(model, x_train, generator).z
    x, y_test = evaluation_pass(source, "test", generator)
    stored = encoder_path(model, x, generator)
    z, x_recon = stored.z, stored.x_recon

    fresh = encoder_path(model, x, generator)  # new z' ~ q(z|x); q(x) and p(x|.) live at z'
    q_loc, q_scale = model.encoder(x)
    log_q_z_given_x = normal_log_prob(z, q_loc, q_scale)
    log_p_z = model.log_prior(z)
    log_q_x = fresh.log_q_x
    log_p_x_given_z = fresh.log_p_x_given_z

    n = min(len(x), ev.ksg_max_points)
    stats: dict[str, float] = {}
    stats["MI_ksg"] = ksg_mutual_information(x[:n].numpy(), z[:n].numpy(), k=ev.ksg_k)
    stats["MI_ksg_l2_err"] = ksg_error_scale(n, x.shape[1], z.shape[1])
    stats["MI"] = _mean(log_q_z_given_x - log_p_z)
    stats["H_q_x"] = -_mean(log_q_x)
    stats["H_p_z"] = -_mean(log_p_z)
    log_q_joint = log_q_x + log_q_z_given_x
    log_p_joint = log_p_z + log_p_x_given_z
    stats["H_enc"] = -_mean(log_q_joint)
    stats["H_dec"] = -_mean(log_p_joint)
    stats["H_Msamp"] = -_mean(log_mixture_joint(log_q_joint, log_p_joint))
    stats["H_mean"] = 0.5 * (stats["H_enc"] + stats["H_dec"])
    z_q = rsample(q_loc, q_scale, generator)
    stats["Dkl_q_p"] = _mean(normal_log_prob(z_q, q_loc, q_scale) - model.log_prior(z_q))
    z_p = torch.randn(z.shape, generator=generator) * model.prior_scale
    stats["Dkl_p_q"] = _mean(model.log_prior(z_p) - normal_log_prob(z_p, q_loc, q_scale))
    stats["Dkl"] = 0.5 * (stats["Dkl_q_p"] + stats["Dkl_p_q"])
    true_log_prob = source.true_log_prob(x)
    if true_log_prob is not None:
        stats["H_P_x"] = -_mean(true_log_prob)
    stats["H_P_z"] = -_mean(normal_log_prob(z, torch.zeros_like(z), 1.0))
    stats["x_recon_err"] = mean_l2_error(x.numpy(), x_recon.numpy())
    stats.update(knn_accuracies(train_z.numpy(), y_train.numpy(), z.numpy(), y_test.numpy(), ev.knn_neighbors))
    stats["n_test"] = int(len(x))
    plugins = [metric for metric in METRICS.values() if metric.compute is not None]
    if plugins:  # after the built-ins, drawing nothing: their numbers are those without plugins
        arrays = EvaluationArrays(x.numpy(), z.numpy(), x_recon.numpy(), y_test.numpy(), train_z.numpy(),
                                  y_train.numpy())
        for metric in plugins:
            stats[metric.name] = float(metric.compute(arrays))
    return stats
