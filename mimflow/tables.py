"""Tidy tables over the runs of an experiment, and their mean/std/count over seeds."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

RUN_PATH = re.compile(
    r"runs/(?P<experiment>[^/]+)/(?P<dataset>[^/]+)/(?P<model>[^/]+)/z(?P<z_dim>\d+)-h(?P<mid_dim>\d+)/seed(?P<seed>\d+)/"
)
GROUP_KEYS = ["experiment", "dataset", "model", "z_dim", "mid_dim"]
IMAGE_RUN_PATH = re.compile(
    r"runs/(?P<experiment>images)/(?P<dataset>[^/]+)/(?P<model>[^/]+)/(?P<prior>[^/]+)/seed(?P<seed>\d+)/"
)
IMAGE_GROUP_KEYS = ["experiment", "dataset", "model", "prior"]
INTEGER_KEYS = ("z_dim", "mid_dim", "seed")


def runs_table(metrics_paths: list[str | Path], pattern: re.Pattern = RUN_PATH,
               group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """One row per run: the wildcards, the run's training settings and every metric."""
    rows = []
    for path in map(Path, metrics_paths):
        match = pattern.search(path.as_posix())
        if match is None:
            raise ValueError(f"{path} is not inside a run folder matching {pattern.pattern}")
        row = {k: (int(v) if k in INTEGER_KEYS else v) for k, v in match.groupdict().items()}
        provenance = path.with_name("provenance.json")
        if provenance.exists():
            settings = json.loads(provenance.read_text())["settings"]
            row.update({f"train_{k}": v for k, v in settings.items() if k not in row})
        row.update(json.loads(path.read_text()))
        rows.append(row)
    return pd.DataFrame(rows).sort_values(group_keys + ["seed"], kind="stable").reset_index(drop=True)


def summary_table(runs: pd.DataFrame, group_keys: list[str] = GROUP_KEYS) -> pd.DataFrame:
    """Mean, std (ddof 1) and count over seeds for each numeric metric, per (model, dims)."""
    settings = set(group_keys) | {"seed"} | {c for c in runs.columns if c.startswith("train_")}
    metrics = [c for c in runs.columns if c not in settings and pd.api.types.is_numeric_dtype(runs[c])]
    grouped = runs.groupby(group_keys, sort=True)[metrics].agg(["mean", "std", "count"])
    grouped.columns = [f"{metric}_{stat}" for metric, stat in grouped.columns]
    return grouped.reset_index()
