#!/usr/bin/env bash
# Issue 28's GPU checks as one prepared script, each step capped so that one lease holds them all:
#   1. bash bench/gpu_check.sh --device cuda at reduced sizes (the 8 model x prior combinations, fp32 and bf16);
#   2. the showcase preset (presets/images-showcase.yaml) from nothing with images.device: cuda;
#   3. one full-size dynamic_fashion_mnist epoch of the seed's pair (pixel HVAE, VampPrior K = 500, AMIM and
#      VAE), timed (bench/image_epoch.py), on the dataset that step 2 built.
# Each step's full output goes to OUTDIR/<step>.log and its tail to stdout; OUTDIR/showcase-results.tar.gz
# holds the preset's metrics, table, figures, benchmarks and provenance. Raw Fashion-MNIST files come from
# data.local_dir when RAW_DIR is set (a folder holding fashion_mnist/*.gz), else from the usual sources.
# Usage: [PYTHON=python3] [RAW_DIR=dir] bash bench/gpu_images_check.sh OUTDIR [cap_s_1 cap_s_2 cap_s_3]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash bench/gpu_images_check.sh OUTDIR [cap_s_1 cap_s_2 cap_s_3]}
caps=("${2:-95}" "${3:-310}" "${4:-100}")
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$out"

source bench/gpu_steps.sh
STEP_TAIL=40
print_machine

step gpu_check "${caps[0]}" env PYTHON="$PY" bash bench/gpu_check.sh --device cuda --train-images 2000 \
    --is-samples 1000 --is-images 4

preset="$out/images-showcase-cuda.yaml"
sed 's/^  device: cpu$/  device: cuda/' presets/images-showcase.yaml >"$preset"
grep -q '^  device: cuda$' "$preset" || { echo "presets/images-showcase.yaml has no '  device: cpu' line"; exit 2; }
[ -n "${RAW_DIR:-}" ] && printf 'data:\n  local_dir: %s\n' "$RAW_DIR" >>"$preset"
step showcase "${caps[1]}" "$PY" -m snakemake --cores "$(nproc)" --configfile="$preset"
pkill -f '\.snakemake/scripts/' && echo "stopped the jobs that outlived the cap" && sleep 2
tar -czf "$out/showcase-results.tar.gz" --exclude="*.pt" --ignore-failed-read results/runs/images results/tables \
    results/figures/images results/benchmarks 2>/dev/null

step image_epoch "${caps[2]}" "$PY" bench/image_epoch.py resources/datasets/dynamic_fashion_mnist.pt --device cuda
