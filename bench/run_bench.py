"""Benchmarks of the low-dimensional core (not tests): run with `make bench`.

1. One toy4 mid_dim-50 MIM run at paper settings (200 max epochs, early stopping), 1 thread:
   training + evaluation wall time, seconds per epoch.
2. KSG mutual information on 10,000 4-D points (median of 5).
3. `snakemake -n` on the full config.yaml grid.
Prints a Markdown table to paste into bench/RESULTS.md. The grid benchmark (issue 14) is bench/grid_bench.py;
`make bench` runs both.
"""
from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def bench_run(seed: int = 1) -> dict:
    from mimflow.lowdim.data import lowdim_source
    from mimflow.lowdim.evaluate import evaluate_lowdim
    from mimflow.lowdim.settings import EvaluationConfig, LowdimRunConfig
    from mimflow.lowdim.train import train_lowdim

    torch.set_num_threads(1)
    cfg = LowdimRunConfig(dataset="toy4", model="mim", z_dim=2, mid_dim=50, seed=seed)
    start = time.perf_counter()
    model, result = train_lowdim(cfg)
    trained = time.perf_counter()
    metrics = evaluate_lowdim(model, lowdim_source(cfg), cfg, EvaluationConfig(), torch.Generator().manual_seed(seed))
    done = time.perf_counter()
    return {"epochs": len(result.history), "train_s": trained - start, "eval_s": done - trained,
            "per_epoch_s": (trained - start) / len(result.history), "MI_ksg": metrics["MI_ksg"]}


def bench_ksg(n: int = 10000, repeats: int = 5) -> float:
    from mimflow.core.metrics import ksg_mutual_information

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 2))
    z = 0.8 * x + 0.6 * rng.standard_normal((n, 2))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ksg_mutual_information(x, z, k=5)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_dry_run() -> tuple[float, str]:
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    start = time.perf_counter()
    proc = subprocess.run([snakemake, "-n", "--cores", "2", "--quiet", "rules"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=True)
    elapsed = time.perf_counter() - start
    total = [line for line in proc.stdout.splitlines() if line.startswith("total")]
    return elapsed, (total[0].split()[-1] if total else "?")


def main() -> None:
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}, "
          f"python {platform.python_version()}")
    run = bench_run()
    ksg = bench_ksg()
    dry, jobs = bench_dry_run()
    print("| benchmark | measured | target |")
    print("|---|---|---|")
    print(f"| toy4 h50 MIM run, train + eval, 1 thread | {run['train_s'] + run['eval_s']:.1f} s "
          f"({run['epochs']} epochs; eval {run['eval_s']:.2f} s; MI_ksg {run['MI_ksg']:.2f}) | <= 20 s |")
    print(f"| seconds per epoch | {run['per_epoch_s']:.3f} s | <= 0.3 s |")
    print(f"| KSG, 10,000 4-D points (median of 5) | {ksg:.3f} s | <= 0.15 s |")
    print(f"| snakemake -n, full config.yaml grid ({jobs} jobs) | {dry:.2f} s | <= 5 s |")


if __name__ == "__main__":
    main()
