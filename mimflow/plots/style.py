"""Shared figure conventions: model colours and labels, metric labels with units."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # jobs have no display

# As in the published figures: the MIM family blue, the VAE family red.
MODEL_STYLE: dict[str, tuple[str, str]] = {
    "mim": ("MIM", "tab:blue"),
    "amim": ("A-MIM", "tab:cyan"),
    "mim-minusH": ("MIM − R_H", "tab:blue"),
    "vae": ("VAE", "tab:red"),
    "vae-plusH": ("VAE + R_H", "tab:red"),
    "ae": ("AE", "tab:green"),
}

METRIC_LABELS: dict[str, tuple[str, str]] = {
    "MI_ksg": ("Mutual information (KSG)", "I(x; z) [nats]"),
    "H_q_x": ("NLL (single-sample)", "−log q(x) [nats per data vector]"),
    "x_recon_err": ("Reconstruction error", "mean ‖x − x̃‖₂ (x̃ sampled)"),
    "clf_acc_KNN5": ("KNN-5 classification accuracy", "accuracy on sampled z"),
}

DIM_LABELS = {"mid_dim": "hidden units (mid_dim)", "z_dim": "latent dimension (z_dim)"}


def model_label(model: str) -> str:
    return MODEL_STYLE.get(model, (model, "black"))[0]


def model_color(model: str) -> str:
    return MODEL_STYLE.get(model, (model, "black"))[1]
