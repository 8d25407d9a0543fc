#!/usr/bin/env bash
# Issue 40's GPU measurements as one prepared script, each step capped so that one lease holds them all
# (about 6 minutes of command time at the default caps; a GPU lease is 15 minutes, machine start included):
#   1. build full-size dynamic_fashion_mnist (50,000 train + 10,000 validation images) from RAW_DIR;
#   2. one job alone: training images/s of the seed's pair (pixel HVAE, VampPrior K = 500, AMIM and VAE) and a
#      conv pair (conv HVAE, VampPrior, SMIM and VAE) at fp32, tf32 and bf16 (bench/image_throughput.py);
#   3. several jobs on the GPU: pixel AMIM with 4 and 8 jobs at fp32, 4 at bf16, per job and summed;
#   4. the optimiser alone: pixel AMIM at fp32 with the per-tensor AdamNormGrad (the old step) against step 2;
#   5. one full-size epoch of the seed's pair at fp32 (bench/image_epoch.py), as issue 28 timed it (22.3 s
#      AMIM, 14.4 s VAE on the old step);
#   6. a training process killed mid-epoch resumes to the uninterrupted numbers (bench/resume_check.py).
# Each step's output goes to OUTDIR/<step>.log and its tail to stdout. The grid's GPU-hours follow from the
# tables (docs/images.md, "What the image grid costs").
# Usage: [PYTHON=python3] RAW_DIR=<folder holding fashion_mnist/*.gz> bash bench/gpu_grid_cost.sh OUTDIR
#        [cap_s_1 ... cap_s_6]
# Tried on the CPU at toy caps: DEVICE=cpu DS=resources/datasets/mnist5k.pt bash bench/gpu_grid_cost.sh OUT 5 60 60 30 30 120
# (DS set and present: no build; every step still runs, each cut at its cap).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: RAW_DIR=dir bash bench/gpu_grid_cost.sh OUTDIR [cap_s_1 ... cap_s_6]}
caps=("${2:-90}" "${3:-150}" "${4:-150}" "${5:-30}" "${6:-60}" "${7:-90}")
PY=${PYTHON:-.venv/bin/python}
DS=${DS:-resources/datasets/dynamic_fashion_mnist.pt}
DEVICE=${DEVICE:-cuda}
SEED_PAIR=pixelhvae_2level-amim-vampprior,pixelhvae_2level-vae-vampprior
CONV_PAIR=convhvae_2level-smim-vampprior,convhvae_2level-vae-vampprior
mkdir -p "$out"

source bench/gpu_steps.sh
print_machine

config="$out/build.yaml"
printf 'run_experiments: []\nrun_images: false\nbuild_datasets: [dynamic_fashion_mnist]\n' >"$config"
[ -n "${RAW_DIR:-}" ] && printf 'data:\n  local_dir: %s\n' "$RAW_DIR" >>"$config"
[ -f "$DS" ] || step build "${caps[0]}" "$PY" -m snakemake --cores "$(nproc)" "$DS" --configfile="$config"

step alone "${caps[1]}" "$PY" bench/image_throughput.py "$DS" --device "$DEVICE" --models "$SEED_PAIR,$CONV_PAIR" \
    --precisions fp32,tf32,bf16 --jobs 1 --seconds 6 --json "$out/throughput.jsonl"
step shared "${caps[2]}" "$PY" bench/image_throughput.py "$DS" --device "$DEVICE" --models pixelhvae_2level-amim-vampprior \
    --precisions fp32 --jobs 4,8 --seconds 8 --start-delay 40 --json "$out/throughput.jsonl"
step shared_bf16 "${caps[2]}" "$PY" bench/image_throughput.py "$DS" --device "$DEVICE" --models pixelhvae_2level-amim-vampprior \
    --precisions bf16 --jobs 4 --seconds 8 --start-delay 40 --json "$out/throughput.jsonl"
step per_tensor "${caps[3]}" "$PY" bench/image_throughput.py "$DS" --device "$DEVICE" --models pixelhvae_2level-amim-vampprior \
    --precisions fp32 --jobs 1 --seconds 6 --optimizer per-tensor --json "$out/throughput.jsonl"
step epoch "${caps[4]}" "$PY" bench/image_epoch.py "$DS" --device "$DEVICE" --precisions fp32
step resume "${caps[5]}" "$PY" bench/resume_check.py "$DS" --device "$DEVICE" --model convhvae_2level-vae-vampprior \
    --train-images 10000 --epochs 3 --kill-epoch 3 --workdir "$out/resume-check"
rm -f "$out"/resume-check/*.pt
