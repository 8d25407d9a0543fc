"""Tidy tables over the runs of an experiment, and their mean/std/count over seeds."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .io import write_bytes_atomic

GROUP_KEYS = ["experiment", "dataset", "model", "z_dim", "mid_dim"]
IMAGE_GROUP_KEYS = ["experiment", "dataset", "model", "prior"]
INTEGER_KEYS = ("z_dim", "mid_dim", "seed")
FAILED, FAILED_RUNS = "failed", "failed_runs"  # a run's recorded failure; a summary group's failed runs


def runs_table(metrics_paths: list[str | Path], run_pattern: re.Pattern, group_keys: list[str],
               constants: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per run: the fields of its folder name (`run_pattern`), `constants`, the run's training
    settings (train_<key>, from the provenance.json beside metrics.json) and every metric."""
    rows = []
    for path in map(Path, metrics_paths):
        match = run_pattern.search(path.as_posix())
        if match is None:
            raise ValueError(f"{path} is not inside a run folder matching {run_pattern.pattern}")
        row = {**(constants or {}), **{k: (int(v) if k in INTEGER_KEYS else v) for k, v in match.groupdict().items()}}
        settings = json.loads(path.with_name("provenance.json").read_text())["settings"]
        row.update({f"train_{k}": v for k, v in settings.items() if k not in row})
        row.update(json.loads(path.read_text()))
        rows.append(row)
    return pd.DataFrame(rows).sort_values(group_keys + ["seed"], kind="stable").reset_index(drop=True)


def summary_table(runs: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """Mean, std (ddof 1) and count over seeds for each numeric metric, per (model, dims). Runs recorded as
    failed (a "failed" column, failed_runs: record) have no metrics, so they count in no statistic; the
    column failed_runs names them per group ("seed 3 (train: non-finite ...)")."""
    settings = set(group_keys) | {"seed"} | {c for c in runs.columns if c.startswith("train_")}
    metrics = [c for c in runs.columns if c not in settings and pd.api.types.is_numeric_dtype(runs[c])]
    grouped = runs.groupby(group_keys, sort=True)[metrics].agg(["mean", "std", "count"])
    grouped.columns = [f"{metric}_{stat}" for metric, stat in grouped.columns]
    if FAILED in runs.columns:
        failed = runs[runs[FAILED].notna()]
        named = failed.groupby(group_keys, sort=True).apply(
            lambda g: "; ".join(f"seed {r.seed} ({r.failed_in}: {r.failed})" for r in g.itertuples()),
            include_groups=False)
        grouped[FAILED_RUNS] = named.reindex(grouped.index).fillna("")
    return grouped.reset_index()


def failed_runs_text(summary: pd.DataFrame) -> str:
    """The failed runs a summary names, one "model z-h: seeds (why)" entry per group; "" when none failed."""
    if FAILED_RUNS not in summary.columns:
        return ""
    rows = summary[summary[FAILED_RUNS].fillna("") != ""]
    return "; ".join(f"{r['model']} z{r['z_dim']}-h{r['mid_dim']}: {r[FAILED_RUNS]}" if "z_dim" in r else
                     f"{r['model']}: {r[FAILED_RUNS]}" for _, r in rows.iterrows())


def experiment_table(metrics_paths: list[str | Path], run_pattern: re.Pattern) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs table and its summary over seeds of one low-dimensional experiment."""
    runs = runs_table(metrics_paths, run_pattern, GROUP_KEYS)
    return runs, summary_table(runs, GROUP_KEYS)


def image_table(metrics_paths: list[str | Path], run_pattern: re.Pattern) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs table and summary of the image runs (`run_pattern` captures model = "<arch>-<objective>")."""
    runs = runs_table(metrics_paths, run_pattern, IMAGE_GROUP_KEYS, {"experiment": "images"})
    return runs, summary_table(runs, IMAGE_GROUP_KEYS)


def save_tables(runs: pd.DataFrame, summary: pd.DataFrame, runs_path: str | Path, summary_path: str | Path) -> None:
    """Both tables as CSV, each through a temporary name."""
    for frame, path in ((runs, runs_path), (summary, summary_path)):
        write_bytes_atomic(frame.to_csv(index=False).encode(), path)


# The columns of the rendered summary tables (every metric stays in the CSV): the published figures' metrics
# and the best epoch for low-dimensional runs; NLL, ELBO, MI and clustering for image runs.
LOWDIM_SHOWN = ("MI_ksg", "H_q_x", "x_recon_err", "clf_acc_KNN5", "epoch")
IMAGE_SHOWN = ("test_nll_is", "test_elbo", "MI_ksg", "NMI", "clf_acc_KNN5", "epoch")


def summary_html(summary: pd.DataFrame, title: str, shown: tuple[str, ...], csv_name: str) -> str:
    """A standalone HTML page of a summary table: one row per group (its keys, the seeds counted), each shown
    metric as mean ± std over seeds, and the failed runs where any failed."""
    import html

    from .html_table import html_page, html_table

    keys = [k for k in ("dataset", "model", "prior", "z_dim", "mid_dim") if k in summary.columns]
    metrics = [m for m in shown if f"{m}_mean" in summary.columns]
    frame = summary[keys].copy()
    frame["seeds"] = summary[f"{metrics[0]}_count"].astype(int) if metrics else 0
    for metric in metrics:
        frame[metric] = [("" if pd.isna(m) else f"{m:.4g}" + ("" if pd.isna(s) else f" ± {s:.2g}"))
                         for m, s in zip(summary[f"{metric}_mean"], summary[f"{metric}_std"])]
    columns = [(k, k) for k in keys] + [("seeds", "seeds")] + [(m, f"{m} (mean ± std)") for m in metrics]
    if FAILED_RUNS in summary.columns and (summary[FAILED_RUNS].fillna("") != "").any():
        frame[FAILED_RUNS] = summary[FAILED_RUNS].fillna("")
        columns.append((FAILED_RUNS, "failed runs"))
    lines = [f"<h1>{html.escape(title)}</h1>",
             f"<p>Mean ± std (ddof 1) over seeds; every metric and the training settings are in "
             f"<code>{html.escape(csv_name)}</code>.</p>"]
    lines += html_table(frame, columns, text_columns=[k for k in keys if k not in INTEGER_KEYS] + [FAILED_RUNS])
    return html_page(title, lines)
