#!/usr/bin/env bash
# Issue 41 on a lent GPU, one prepared script: presets/images-seed-5k.yaml (the seed's image settings on the
# 5,000-image subsets: pixel AMIM/VAE and conv SMIM/VAE, VampPrior K = 500, warm-up 100, early stopping 50, S = 5,000,
# clustering scored every 5 epochs) from nothing, capped so that a lease holds it, then the trajectories so far.
#   1. the preset on CUDA (images.jobs_per_gpu auto: four jobs share the GPU), capped at CAP_S seconds;
#   2. bench/clustering_so_far.py: every run's epoch records, finished (train_log.csv) or not (resume.pt), as
#      OUTDIR/clustering/trajectories.csv and one figure per (dataset, decoder), and a Markdown table on stdout;
#   3. OUTDIR/results.tar.gz: the finished runs' metrics, figures, tables, logs and benchmarks (no weights).
# A lease that ends before early stopping leaves resume.pt behind: the same command on the same machine resumes
# every run from its last epoch (core.fit), so a second call within the lease goes on where the first stopped.
# Usage: [PYTHON=python3] RAW_DIR=<folder holding fashion_mnist/*.gz> bash bench/gpu_clustering_seed.sh OUTDIR [CAP_S]
# Tried on the CPU at toy sizes: EXTRA_CONFIG=<yaml that overrides the preset> bash bench/gpu_clustering_seed.sh OUT 120
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: RAW_DIR=dir bash bench/gpu_clustering_seed.sh OUTDIR [CAP_S]}
cap=${2:-420}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$out"

source bench/gpu_steps.sh
STEP_TAIL=25
print_machine

configs=(--configfile presets/images-seed-5k.yaml)
if [ -n "${RAW_DIR:-}" ]; then
    printf 'data:\n  local_dir: %s\n' "$RAW_DIR" >"$out/raw.yaml"
    configs+=("$out/raw.yaml")
fi
[ -n "${EXTRA_CONFIG:-}" ] && configs+=("$EXTRA_CONFIG")
step seed_settings "$cap" "$PY" -m snakemake --cores "$(nproc)" --keep-going "${configs[@]}"
# only this checkout's jobs (Snakemake runs them as <checkout>/.snakemake/scripts/*.py): others are left alone
pkill -f "$(pwd)/\.snakemake/scripts/" && echo "stopped the jobs that outlived the cap" && sleep 2

step clustering 120 "$PY" bench/clustering_so_far.py results/runs/images "$out/clustering"
cat "$out/clustering.log"
tar -czf "$out/results.tar.gz" --exclude="*.pt" --exclude="*.npy" --ignore-failed-read results/runs/images \
    results/tables results/figures/images results/benchmarks results/logs 2>/dev/null
ls -la "$out"
