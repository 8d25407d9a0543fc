"""Stats figures: one metric against mid_dim or z_dim, mean over seeds with +-1 std error bars."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # jobs have no display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..names import model_color, model_label

METRIC_LABELS: dict[str, tuple[str, str]] = {
    "MI_ksg": ("Mutual information (KSG)", "I(x; z) [nats]"),
    "H_q_x": ("NLL (single-sample)", "−log q(x) [nats per data vector]"),
    "x_recon_err": ("Reconstruction error", "mean ‖x − x̃‖₂ (x̃ sampled)"),
    "clf_acc_KNN5": ("KNN-5 classification accuracy", "accuracy on sampled z"),
}

DIM_LABELS = {"mid_dim": "hidden units (mid_dim)", "z_dim": "latent dimension (z_dim)"}


def varying_dim(summary: pd.DataFrame) -> str:
    """The x axis: the dim that the experiment sweeps (mid_dim for toy2d, z_dim for bottlenecks)."""
    return "mid_dim" if summary["mid_dim"].nunique() > 1 or summary["z_dim"].nunique() == 1 else "z_dim"


def sparse_tick_labels(values: np.ndarray, min_gap: float = 0.04) -> list[str]:
    """A tick at every value, a label only where it does not crowd the previous label."""
    span = float(values.max() - values.min()) or 1.0
    labels, last = [], None
    for v in values:
        keep = last is None or (v - last) / span >= min_gap
        labels.append(f"{v:g}" if keep else "")
        last = v if keep else last
    return labels


def stats_figure(summary: pd.DataFrame, metric: str, experiment: str, dpi: int = 150,
                 size: tuple[float, float] = (6.0, 4.0)) -> Figure:
    """`metric` of each model against the swept dim: mean over seeds, +-1 std error bars."""
    if f"{metric}_mean" not in summary.columns:
        raise ValueError(f"metric {metric!r} is not in the summary table; have "
                         f"{sorted(c[:-5] for c in summary.columns if c.endswith('_mean'))}")
    x_col = varying_dim(summary)
    title, unit = METRIC_LABELS.get(metric, (metric, metric))
    fig, ax = plt.subplots(figsize=size, dpi=dpi)
    seeds = set()
    for model, group in summary.groupby("model", sort=False):
        group = group.sort_values(x_col)
        mean, std = group[f"{metric}_mean"].to_numpy(), np.nan_to_num(group[f"{metric}_std"].to_numpy())
        counts = group[f"{metric}_count"].astype(int)
        seeds.update(counts.tolist())
        ax.errorbar(group[x_col], mean, yerr=std, fmt="o:", color=model_color(model), capsize=4, lw=1.5,
                    ms=5, label=model_label(model))
    values = np.sort(summary[x_col].unique())
    ax.set_xticks(values)
    ax.set_xticklabels(sparse_tick_labels(values))
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel(DIM_LABELS[x_col])
    ax.set_ylabel(unit)
    seed_text = f"{min(seeds)} seeds" if len(seeds) == 1 else f"{min(seeds)}–{max(seeds)} seeds"
    ax.set_title(f"{title} — {experiment}\nmean ± 1 std over {seed_text}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
