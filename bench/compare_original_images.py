#!/usr/bin/env python
"""Side-by-side tables of mimflow's image runs and the original image code's on the same split and settings.

mimflow's runs: <results>/runs/images/<dataset>/<model>/<prior>/seed<N>/{train_log.csv,metrics.json}
(presets/images-cpu.yaml). The original's: <original>/<original model>-<prior>-seed<N>/
{original_history.csv,original_metrics.json} (bench/original_images.py). Prints Markdown: per-epoch
validation losses of every seed, then the final metrics per seed with the mean and the seed-to-seed
range of each side, and whether the two sides' ranges overlap.

  python bench/compare_original_images.py --results results --original bench/original_runs \
      --dataset mnist5k --prior standard --seeds 1 2
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

# mimflow model -> the original's --model_name
ORIGINAL_NAMES = {"convhvae_2level-vae": "convhvae_2level", "convhvae_2level-smim": "convhvae_2level-smim",
                  "pixelhvae_2level-vae": "pixelhvae_2level", "pixelhvae_2level-amim": "pixelhvae_2level-amim"}
METRICS = ["test_nll_is", "test_elbo", "train_elbo", "NMI", "clf_acc_KNN1", "clf_acc_KNN3", "clf_acc_KNN5",
           "clf_acc_KNN10", "MI_ksg"]


def load_side(args, model: str) -> dict[str, dict[int, tuple[pd.Series, dict]]]:
    sides = {"mimflow": {}, "original": {}}
    for seed in args.seeds:
        ours = Path(args.results) / "runs" / "images" / args.dataset / model / args.prior / f"seed{seed}"
        if (ours / "metrics.json").is_file():
            log = pd.read_csv(ours / "train_log.csv").set_index("epoch")["val_loss"]
            sides["mimflow"][seed] = (log, json.loads((ours / "metrics.json").read_text()))
        theirs = Path(args.original) / f"{ORIGINAL_NAMES[model]}-{args.prior}-seed{seed}"
        if (theirs / "original_metrics.json").is_file():
            log = pd.read_csv(theirs / "original_history.csv").set_index("epoch")["val_loss"]
            sides["original"][seed] = (log, json.loads((theirs / "original_metrics.json").read_text()))
    return sides


def epoch_table(model: str, sides) -> str:
    columns = {f"{side} seed {seed}": log for side, runs in sides.items() for seed, (log, _) in runs.items()}
    frame = pd.DataFrame(columns)
    lines = [f"Validation loss per epoch (the model's own loss at beta = 1), {model}:", "",
             "| epoch | " + " | ".join(frame.columns) + " |", "|---" * (len(frame.columns) + 1) + "|"]
    for epoch, row in frame.iterrows():
        lines.append(f"| {epoch} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
    return "\n".join(lines)


def metric_table(model: str, sides) -> str:
    lines = [f"Final test metrics (best checkpoint), {model}:", "",
             "| metric | mimflow (per seed) | mimflow mean [range] | original (per seed) | original mean [range] "
             "| ranges overlap |", "|---|---|---|---|---|---|"]
    for metric in METRICS:
        cells, ranges = [], []
        for side in ("mimflow", "original"):
            values = [m[metric] for _, m in sides[side].values() if metric in m]
            if not values:
                cells += ["-", "-"]
                ranges.append(None)
                continue
            cells += [", ".join(f"{v:.4g}" for v in values),
                      f"{sum(values) / len(values):.4g} [{min(values):.4g}, {max(values):.4g}]"]
            ranges.append((min(values), max(values)))
        overlap = "-" if None in ranges else ("yes" if ranges[0][0] <= ranges[1][1] and ranges[1][0] <= ranges[0][1]
                                              else "no")
        lines.append(f"| {metric} | " + " | ".join(cells) + f" | {overlap} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--original", default="bench/original_runs")
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--prior", default="standard")
    parser.add_argument("--models", nargs="+", default=["convhvae_2level-vae", "convhvae_2level-smim"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args()
    for model in args.models:
        sides = load_side(args, model)
        print(f"### {model}, {args.prior} prior, {args.dataset}\n")
        print(epoch_table(model, sides) + "\n")
        print(metric_table(model, sides) + "\n")


if __name__ == "__main__":
    main()
