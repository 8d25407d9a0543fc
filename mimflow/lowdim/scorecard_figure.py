"""The scorecard at a glance: one panel per published stats figure, the published mean and bar beside our
mean and standard error at every x, our marker coloured by its verdict (mimflow.core.scorecard)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # jobs have no display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..core.scorecard import SCORED
from ..names import PUBLISHED_FIGURES
from .stats_figure import DIM_LABELS

VERDICT_COLORS = {"agree": "#1a7f37", "disagree": "#cf222e", "undecided": "#e3a008"}
METRIC_ORDER = ("MI_ksg", "H_q_x", "x_recon_err", "clf_acc_KNN5")
SLOT = 0.8  # the width one x value's markers share, in units of the distance between x values


def _family_marker(model: str) -> str:
    return "s" if model.startswith("vae") else "o"


def panel_title(figure: str, metric: str, points: pd.DataFrame) -> str:
    """'<folder> · <metric>' over the panel's counts: 'A of C agree (D disagree, U undecided)' where C counts
    the points this run covers, or 'not run here: P points' where it covers none."""
    folder = figure.rsplit("/", 1)[0]
    counts = points["verdict"].value_counts()
    covered = len(points) - int(counts.get("not run", 0))
    if covered == 0:
        return f"{folder} · {metric}\nnot run here: {len(points)} points"
    others = [f"{int(counts[v])} {v}" for v in ("disagree", "undecided", "missing") if counts.get(v, 0)]
    return (f"{folder} · {metric}\n{int(counts.get('agree', 0))} of {covered} agree"
            + (f" ({', '.join(others)})" if others else ""))


def draw_panel(ax, points: pd.DataFrame) -> None:
    """Published (hollow grey, with its bar) and ours (filled, ± SE, verdict colour) for every model at each
    x; x values evenly spaced (the sweeps are roughly logarithmic), labelled with their values."""
    xs = np.sort(points["x"].unique())
    position = {x: i for i, x in enumerate(xs)}
    models = list(dict.fromkeys(points["model"]))
    step = SLOT / (2 * len(models))  # published then ours, per model
    for m, model in enumerate(models):
        rows = points[points["model"] == model]
        base = np.array([position[x] for x in rows["x"]]) - SLOT / 2 + step * (2 * m + 0.5)
        mean = rows["published_mean"].to_numpy(float)
        lower = np.nan_to_num(mean - rows["bar_bot"].to_numpy(float))  # a hidden bar end: no bar that side
        upper = np.nan_to_num(rows["bar_top"].to_numpy(float) - mean)
        marker = _family_marker(model)
        ax.errorbar(base, mean, yerr=np.vstack([lower, upper]), fmt=marker, color="grey", mfc="none", ms=5,
                    mew=1.0, lw=1.0, capsize=0, zorder=2)
        scored = rows["verdict"].isin(SCORED).to_numpy()
        for verdict, color in VERDICT_COLORS.items():
            keep = scored & (rows["verdict"] == verdict).to_numpy()
            if keep.any():
                ax.errorbar(base[keep] + step, rows["our_mean"].to_numpy(float)[keep],
                            yerr=rows["our_se"].to_numpy(float)[keep], fmt=marker, color=color, mec="black",
                            mew=0.4, ms=5, lw=1.2, capsize=2, zorder=3)
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([f"{x:g}" for x in xs], fontsize=7)
    ax.set_xlim(-0.6, len(xs) - 0.4)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(alpha=0.3, axis="y")


def scorecard_figure(card: pd.DataFrame, dpi: int = 110) -> Figure:
    """Small multiples of the scorecard `card` (mimflow.core.scorecard.fidelity_scorecard): a row per
    published experiment (PUBLISHED_FIGURES order), a column per metric."""
    folders = [f for f in PUBLISHED_FIGURES if card["figure"].str.startswith(f + "/").any()]
    metrics = [m for m in METRIC_ORDER if m in set(card["metric"])]
    metrics += sorted(set(card["metric"]) - set(metrics))
    fig, axes = plt.subplots(len(folders), len(metrics), figsize=(3.6 * len(metrics), 2.7 * len(folders) + 0.8),
                             dpi=dpi, squeeze=False)
    for r, folder in enumerate(folders):
        for c, metric in enumerate(metrics):
            ax = axes[r][c]
            points = card[(card["figure"] == f"{folder}/fig.{metric}.png")]
            if points.empty:
                ax.set_axis_off()
                continue
            draw_panel(ax, points)
            ax.set_title(panel_title(points.iloc[0]["figure"], metric, points), fontsize=8.5)
            if c == 0:
                ax.set_ylabel(PUBLISHED_FIGURES[folder][0], fontsize=9)
            if r == len(folders) - 1 or c == 0:
                ax.set_xlabel(DIM_LABELS[points.iloc[0]["x_name"]], fontsize=7)
    handles = [Line2D([], [], marker="o", ls="", color="grey", mfc="none", label="published mean ± bar")]
    handles += [Line2D([], [], marker="o", ls="", color=color, mec="black", mew=0.4, label=f"ours ± SE: {verdict}")
                for verdict, color in VERDICT_COLORS.items()]
    handles += [Line2D([], [], marker=m, ls="", color="black", mfc="none", label=label)
                for m, label in (("o", "MIM family"), ("s", "VAE family"))]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    return fig
