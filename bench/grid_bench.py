"""Grid benchmark (issue 14): what the paper's low-dimensional grid costs on this machine. Not a test.

1. Measured: toy2d at 3 seeds and all 8 mid_dims from nothing: `snakemake --cores 2` in a fresh copy of
   the workflow (`--config run_experiments=[toy2d] seeds=[1,2,3] run_images=False build_datasets=[]`:
   48 runs trained, evaluated and drawn, the table, the stats figures and the scorecard). Wall time and
   seconds per run, and the seconds each rule's jobs took.
2. Projected: the full config.yaml low-dimensional grid (923 runs, 10 seeds per group). For every seed group
   the stack's epoch time is measured at 10 seeds and at 1 seed (a few epochs at paper settings with the
   sampling path on), which gives a per-epoch cost c0 + c1 * seeds; the group then costs
   c0 * max_epochs + c1 * 10 * mean_epochs, with the epochs its runs need from bench/reference_epochs.csv
   (the paper-check runs, seeds 1-3). PCA runs have no offline reference (real Fashion-MNIST cannot be
   fetched here): they are priced on full-size synthetic data at 50 and at 200 (the cap) epochs, z_dims
   between the measured 2 and 20 interpolated. Add the measured evaluation (and per-run figure) time per
   run and a process start-up per job, and divide by the 2 cores (single-threaded jobs, packed perfectly).
   The same measurements price the grid as it ran before seed groups (each run trained alone, one job per
   run and stage) for comparison.

Usage: python bench/grid_bench.py [--repo PATH] [--skip-projection] [--skip-measured]
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ["Snakefile", "rules", "workflow_scripts", "config.yaml", "presets", "schemas", "profiles", "envs",
                  "reference", "report"]
TOY2D_CONFIG = ["run_experiments=[toy2d]", "seeds=[1,2,3]", "run_images=False", "build_datasets=[]"]
CORES = 2
SEEDS = 10


def measured_toy2d(repo: Path) -> dict:
    """Part 1: the toy2d grid at 3 seeds from nothing through real Snakemake, in a scratch copy of `repo`."""
    with tempfile.TemporaryDirectory(prefix="grid-bench-") as scratch:
        workdir = Path(scratch)
        for part in WORKFLOW_PARTS:
            src = repo / part
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, workdir / part)
        env = {**os.environ, "PYTHONPATH": str(repo)}  # the code of `repo`, also for a checkout of an older commit
        snakemake = str(Path(sys.executable).with_name("snakemake"))
        start = time.perf_counter()
        subprocess.run([snakemake, "--cores", str(CORES), "--config", *TOY2D_CONFIG], cwd=workdir, env=env,
                       check=True, capture_output=True, text=True)
        wall = time.perf_counter() - start
        per_rule: dict[str, float] = defaultdict(float)
        for tsv in (workdir / "results" / "benchmarks").rglob("*.tsv"):
            rows = list(csv.DictReader(tsv.open(), delimiter="\t"))
            per_rule[tsv.relative_to(workdir / "results" / "benchmarks").parts[0]] += float(rows[0]["s"])
        runs = len(list((workdir / "results" / "runs" / "toy2d").rglob("metrics.json")))
    return {"wall_s": wall, "runs": runs, "per_run_s": wall / runs, "train_job_s": dict(per_rule)}


def stack_epoch_seconds(cfgs, source=None, epochs: int = 3) -> float:
    """Seconds per stack epoch (the mean of epochs 2..epochs: the first one pays set-up)."""
    from mimflow.lowdim.train import train_lowdim_runs

    times = []

    def record(cfg, r):
        if cfg.seed == cfgs[0].seed and r.epoch >= 2:
            times.append(r.wall_time_s * len(cfgs))  # records share the stack's epoch time out per run

    train_lowdim_runs(cfgs, source, on_epoch=record)
    return sum(times) / len(times) if times else float("nan")


def probe_cfgs(settings: dict, seeds: int):
    from mimflow.lowdim.settings import LowdimRunConfig

    # Paper settings but warm-up 1: beta = 1 from epoch 1, so MIM's sampling path runs, as in most epochs;
    # patience 1 cannot stop a run before epoch 3.
    return [LowdimRunConfig.from_dict({**settings, "seed": seed, "epochs": 3, "warmup_steps": 1})
            for seed in range(1, seeds + 1)]


def synthetic_pca_source(z_dim: int = 20):
    """Full-size stand-in for PCA Fashion-MNIST: 60,000 random 28x28 training images, 10,000 test points.
    Augmentation and training cost the same on any pixel values."""
    from mimflow.data.augment import AffineAugment
    from mimflow.data.pca import PCASource

    g = torch.Generator().manual_seed(0)
    data = {"train_images": torch.randint(0, 256, (60000, 28, 28), dtype=torch.uint8, generator=g),
            "train_labels": torch.randint(0, 10, (60000,), generator=g), "train_mean": torch.rand(784, generator=g),
            "train_basis": torch.randn(z_dim, 784, generator=g) / 28, "test_x": torch.randn(10000, z_dim, generator=g),
            "test_labels": torch.randint(0, 10, (10000,), generator=g)}
    return PCASource(data, 128, AffineAugment())


def per_run_seconds(settings: dict, source=None, figures: bool = False) -> float:
    """Evaluation (and per-run figure) seconds of one run, on a briefly trained model."""
    from mimflow.core.seeds import stream
    from mimflow.lowdim.evaluate import evaluate_lowdim
    from mimflow.lowdim.settings import EvaluationConfig, LowdimRunConfig
    from mimflow.lowdim.data import lowdim_source
    from mimflow.lowdim.train import train_lowdim

    cfg = LowdimRunConfig.from_dict({**settings, "seed": 1, "epochs": 1})
    source = source or lowdim_source(cfg)
    model, _ = train_lowdim(cfg, source=source)
    start = time.perf_counter()
    evaluate_lowdim(model, source, cfg, EvaluationConfig(), torch.Generator().manual_seed(stream(1, "evaluation")))
    if figures:
        import yaml

        from mimflow.data.toy import toy_mixture
        from mimflow.lowdim.figure_data import run_figure_arrays
        from mimflow.lowdim.figures import run_figures

        plots = yaml.safe_load((REPO / "config.yaml").read_text())["plots"]
        arrays = run_figure_arrays(model, toy_mixture(cfg.dataset), plots, stream(1, "figures"), "zero_padded")
        import matplotlib.pyplot as plt

        for fig in run_figures(arrays, dpi=plots["run_dpi"], title="bench"):
            fig.savefig(os.devnull, format="png")
            plt.close(fig)
    return time.perf_counter() - start


def job_start_seconds() -> float:
    """A job's fixed cost: a Python process that imports torch and the training module (median of 3)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mimflow.lowdim.train, mimflow.core.provenance"], check=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def projection() -> dict:
    """Part 2: the projected full grid (see the module docstring)."""
    import yaml

    from mimflow.datasets import dataset_family
    from mimflow.workflow import experiment_runs, lowdim_group_settings

    torch.set_num_threads(1)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    reference = {(r["experiment"], r["model"], int(r["z_dim"]), int(r["mid_dim"])): r
                 for r in csv.DictReader((REPO / "bench" / "reference_epochs.csv").open())}
    start_s = job_start_seconds()
    groups = defaultdict(list)
    for name in config["run_experiments"]:
        for run in experiment_runs(config, name):
            groups[(name, run["dataset"], run["model"], run["z_dim"], run["mid_dim"])].append(run["seed"])

    pca_cost: dict[tuple[str, int], tuple[float, float]] = {}
    pca_source = None
    rows, per_run_cache = [], {}
    for (name, dataset, model, z_dim, mid_dim), seeds in groups.items():
        settings = lowdim_group_settings(config, name, dataset, model, z_dim, mid_dim)
        figures = "runs" in config["experiments"][name].get("figures", ["stats", "runs"])
        n = len(seeds)
        if dataset_family(dataset).name == "pca_fashion_mnist":
            pca_source = pca_source or synthetic_pca_source()
            for z in (2, 20):
                if (model, z) not in pca_cost:
                    probe = {**settings, "z_dim": z}
                    pca_cost[(model, z)] = (stack_epoch_seconds(probe_cfgs(probe, 1), pca_source, epochs=2),
                                            stack_epoch_seconds(probe_cfgs(probe, SEEDS), pca_source, epochs=2))
            weight = (z_dim - 2) / 18
            one, many = (pca_cost[(model, 2)][i] * (1 - weight) + pca_cost[(model, 20)][i] * weight for i in (0, 1))
            epochs = {"low": (50, 50), "cap": (200, 200)}
            key = ("pca", model)
        else:
            one = stack_epoch_seconds(probe_cfgs(settings, 1))
            many = stack_epoch_seconds(probe_cfgs(settings, SEEDS)) if n > 1 else one
            ref = reference.get((name, model, z_dim, mid_dim))
            mean_max = (float(ref["mean_epochs"]), int(ref["max_epochs"])) if ref else \
                (settings["epochs"], settings["epochs"])  # animation: no early stopping within its 49 epochs
            epochs = {"low": mean_max, "cap": mean_max}
            key = ("toy", figures)
        c1 = (many - one) / (SEEDS - 1)
        c0 = one - c1
        if key not in per_run_cache:
            per_run_cache[key] = per_run_seconds(settings, pca_source if key[0] == "pca" else None, figures=figures)
        jobs = 3 if figures else 2
        for label, (mean, longest) in epochs.items():
            rows.append({"experiment": name, "case": label, "runs": n,
                         "train_s": c0 * longest + c1 * n * mean,
                         "other_s": n * per_run_cache[key] + jobs * start_s,
                         # one job per run and stage, each run trained alone (the code before issue 14)
                         "before_s": n * (one * mean + per_run_cache[key] + jobs * start_s)})
    by_experiment: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"runs": 0, "train_s": 0.0, "other_s": 0.0, "before_s": 0.0})
    for row in rows:
        entry = by_experiment[(row["experiment"], row["case"])]
        for field in ("runs", "train_s", "other_s", "before_s"):
            entry[field] += row[field]
    return {"by_experiment": dict(by_experiment), "job_start_s": start_s, "pca_stack_epoch_s": pca_cost,
            "per_run_s": per_run_cache}


def print_projection(result: dict) -> None:
    print(f"job start-up (python + torch + mimflow imports): {result['job_start_s']:.2f} s")
    print("PCA stack epoch seconds (1 seed, 10 seeds):",
          {f"{m} z{z}": (round(a, 2), round(b, 2)) for (m, z), (a, b) in result["pca_stack_epoch_s"].items()})
    print("| experiment | runs | core-s train | core-s eval+figures+start-up | core-s per run | "
          "core-s per run, one job per run and stage (before) |")
    print("|---|---|---|---|---|---|")
    totals, before = defaultdict(float), defaultdict(float)
    for (name, case), e in sorted(result["by_experiment"].items()):
        if case == "cap" and not name.startswith("bottleneck_fmnist"):
            continue
        label = name if not name.startswith("bottleneck_fmnist") else f"{name} ({'50' if case == 'low' else '200'} epochs)"
        core = e["train_s"] + e["other_s"]
        print(f"| {label} | {e['runs']} | {e['train_s']:.0f} | {e['other_s']:.0f} | {core / e['runs']:.1f} | "
              f"{e['before_s'] / e['runs']:.1f} |")
        for scenario in ("low", "cap"):
            if case == scenario or (case == "low" and not name.startswith("bottleneck_fmnist")):
                totals[scenario] += core
                before[scenario] += e["before_s"]
    for scenario, label in (("low", "PCA runs at 50 epochs"), ("cap", "PCA runs at the 200-epoch cap")):
        print(f"projected full grid, {label}: {totals[scenario]:.0f} core-s = "
              f"{totals[scenario] / CORES / 3600:.2f} h on {CORES} cores (one job per run and stage: "
              f"{before[scenario]:.0f} core-s = {before[scenario] / CORES / 3600:.2f} h)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose workflow part 1 runs")
    parser.add_argument("--skip-measured", action="store_true")
    parser.add_argument("--skip-projection", action="store_true")
    args = parser.parse_args()
    if not args.skip_measured:
        measured = measured_toy2d(args.repo.resolve())
        print(f"toy2d, 3 seeds x 8 mid_dims x 2 models from nothing, --cores {CORES}: {measured['wall_s']:.0f} s wall, "
              f"{measured['runs']} runs, {measured['per_run_s']:.1f} s per run")
        print("  job seconds by rule:", {k: round(v, 1) for k, v in sorted(measured["train_job_s"].items())})
    if not args.skip_projection:
        print_projection(projection())


if __name__ == "__main__":
    main()
