"""Stats figures: one metric against mid_dim or z_dim, mean over seeds with +-1 std error bars, beside
the points of the original's published figure (reference/published/published_points.csv) where it has one."""
from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")  # jobs have no display

import matplotlib.pyplot as plt
import matplotlib.transforms as mtransforms
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..core.tables import failed_runs_text
from ..metrics import METRICS
from ..registry import model_color, model_label

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


PUBLISHED_STYLE = dict(fmt="o", color="grey", mfc="none", mec="grey", ms=7, mew=1.2, capsize=0, lw=1.2, zorder=3)
PUBLISHED_SHIFT_PT = 5  # published markers sit this many points right of ours, so neither hides the other


def published_for(published: pd.DataFrame | None, summary: pd.DataFrame, metric: str,
                  experiment: str) -> pd.DataFrame:
    """The published points of this experiment and metric, for the models the summary has."""
    if published is None:
        return pd.DataFrame(columns=["model", "x_name", "x", "published_mean", "bar_top", "bar_bot"])
    keep = ((published["experiment"] == experiment) & (published["metric"] == metric)
            & published["model"].isin(summary["model"].unique()))
    return published[keep]


def draw_published(ax, points: pd.DataFrame, x_col: str) -> None:
    """Hollow grey markers at the published means, with their bars where the figure shows them."""
    points = points[points["x_name"] == x_col]
    if points.empty:
        return
    mean = points["published_mean"].to_numpy(float)
    lower = np.nan_to_num(mean - points["bar_bot"].to_numpy(float))  # a hidden bar end: no bar that side
    upper = np.nan_to_num(points["bar_top"].to_numpy(float) - mean)
    drawn = ax.errorbar(points["x"].to_numpy(), mean, yerr=np.vstack([lower, upper]), label="published",
                        **PUBLISHED_STYLE)
    # Shifted only once drawn, so the axis limits still cover the points (in data coordinates).
    shifted = ax.transData + mtransforms.ScaledTranslation(PUBLISHED_SHIFT_PT / 72, 0, ax.figure.dpi_scale_trans)
    for artist in drawn.get_children():
        artist.set_transform(shifted)


def stats_figure(summary: pd.DataFrame, metric: str, experiment: str, dpi: int = 150,
                 size: tuple[float, float] = (6.0, 4.0), published: pd.DataFrame | None = None) -> Figure:
    """`metric` of each model against the swept dim: mean over seeds, +-1 std error bars; with `published`
    (the columns of reference/published/published_points.csv), its points for this experiment and metric
    as hollow grey markers (legend "published")."""
    if f"{metric}_mean" not in summary.columns:
        raise ValueError(f"metric {metric!r} is not in the summary table; have "
                         f"{sorted(c[:-5] for c in summary.columns if c.endswith('_mean'))}")
    points = published_for(published, summary, metric, experiment)
    x_col = varying_dim(summary)
    if not points.empty and summary[x_col].nunique() == 1:  # one run dim: the published figure's axis
        x_col = points["x_name"].iloc[0]
    entry = METRICS[metric] if metric in METRICS else None
    title, unit = (entry.title, entry.unit) if entry else (metric, metric)
    fig, ax = plt.subplots(figsize=size, dpi=dpi)
    seeds = set()
    # An experiment over several datasets draws one series per dataset and model, marked by dataset.
    datasets = list(summary["dataset"].unique()) if "dataset" in summary.columns else [None]
    keys = ["dataset", "model"] if len(datasets) > 1 else ["model"]
    for key, group in summary.groupby(keys, sort=False):
        dataset, model = key if len(keys) == 2 else (None, key[0] if isinstance(key, tuple) else key)
        group = group.sort_values(x_col)
        mean, std = group[f"{metric}_mean"].to_numpy(), np.nan_to_num(group[f"{metric}_std"].to_numpy())
        counts = group[f"{metric}_count"].astype(int)
        seeds.update(counts.tolist())
        marker = "osD^v<>"[datasets.index(dataset) % 7] if dataset is not None else "o"
        ax.errorbar(group[x_col], mean, yerr=std, fmt=f"{marker}:", color=model_color(model), capsize=4, lw=1.5,
                    ms=5, label=model_label(model) + (f" ({dataset})" if dataset is not None else ""))
    draw_published(ax, points, x_col)
    values = np.union1d(summary[x_col].unique(), points.loc[points["x_name"] == x_col, "x"].to_numpy(int))
    ax.set_xticks(values)
    ax.set_xticklabels(sparse_tick_labels(values))
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel(DIM_LABELS[x_col])
    ax.set_ylabel(unit)
    seed_text = (f"{min(seeds)} seed{'s' if min(seeds) != 1 else ''}" if len(seeds) == 1
                 else f"{min(seeds)}–{max(seeds)} seeds")
    ax.set_title(f"{title} — {experiment}\nmean ± 1 std over {seed_text}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    failed = failed_runs_text(summary)
    if failed:  # failed_runs: record: the caption names the runs left out
        fig.subplots_adjust(bottom=0.3)
        fig.text(0.01, 0.01, textwrap.fill(f"Left out, failed: {failed}", 110), fontsize=6, va="bottom")
    return fig
