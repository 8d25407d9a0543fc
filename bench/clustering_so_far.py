"""Clustering along training of image runs, finished or not: not a test.

For every image run folder under RUNS (results/runs/images/<dataset>/<arch>-<objective>/<prior>/seed<N>) it takes
the epoch records from train_log.csv and provenance.json when training finished, else from the resume.pt that a
running or killed training job writes after every epoch (core.fit). It writes OUTDIR/trajectories.csv (every
run's records, one row per epoch, with the run's names) and OUTDIR/<dataset>_<arch>_<prior>_clustering.png, drawn
by the pipeline's own figure function, and prints one Markdown row per run: epochs trained, best epoch so far,
and the clustering scores at the last scored epoch and at the scored epoch nearest the best.

Used by bench/gpu_clustering_seed.sh, whose lease can end before early stopping does:
    python bench/clustering_so_far.py results/runs/images OUTDIR
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from mimflow.core.io import load_torch, save_figure
from mimflow.images.figures import clustering_trajectory_figure


def run_history(folder: Path) -> tuple[pd.DataFrame, int, int, bool] | None:
    """(epoch records, best epoch, warm-up, finished) of one run folder; None without any record."""
    log_csv, provenance, resume = folder / "train_log.csv", folder / "provenance.json", folder / "resume.pt"
    if log_csv.exists() and provenance.exists():
        record = json.loads(provenance.read_text())
        return pd.read_csv(log_csv), record["best_epoch"], record["settings"]["warmup"], True
    if resume.exists():
        state = load_torch(resume)
        if state["history"]:
            return pd.DataFrame(state["history"]), state["best_epoch"], state["settings"]["warmup"], False
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="results/runs/images")
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str, str], list[dict]] = {}
    tables = []
    print("| dataset | model | prior | seed | epochs | finished | best epoch | last scored: epoch, KNN5, NMI, active "
          "units | nearest the best: epoch, KNN5, NMI |")
    print("|---|---|---|---|---|---|---|---|---|")
    for folder in sorted(args.runs.glob("*/*/*/seed*")):
        found = run_history(folder)
        if found is None:
            continue
        log, best, warmup, finished = found
        dataset, model, prior, seed = folder.parts[-4:]
        arch, objective = model.rsplit("-", 1)
        tables.append(log.assign(dataset=dataset, model=model, prior=prior, seed=seed, finished=finished))
        if "val_NMI" not in log:
            continue
        groups.setdefault((dataset, arch, prior), []).append(
            {"label": f"{model}, {seed} (best epoch {best}{'' if finished else ' so far'})", "log": log,
             "best_epoch": best, "warmup": warmup})
        scored = log.dropna(subset=["val_NMI"])
        if scored.empty:
            continue
        last = scored.iloc[-1]
        near = scored.iloc[(scored["epoch"] - best).abs().argmin()]
        print(f"| {dataset} | {model} | {prior} | {seed} | {int(log['epoch'].max())} | {'yes' if finished else 'no'} "
              f"| {best} | {int(last.epoch)}, {last.val_KNN5:.3f}, {last.val_NMI:.3f}, "
              f"{int(last.active_units_z1 + last.active_units_z2)} | {int(near.epoch)}, {near.val_KNN5:.3f}, "
              f"{near.val_NMI:.3f} |")
    if tables:
        pd.concat(tables).to_csv(args.outdir / "trajectories.csv", index=False)
    for (dataset, arch, prior), runs in groups.items():
        figure = clustering_trajectory_figure(runs, runs[0]["warmup"],
                                              f"clustering along training: {dataset}, {arch}, {prior} prior")
        save_figure(figure, args.outdir / f"{dataset}_{arch}_{prior}_clustering.png")


if __name__ == "__main__":
    main()
