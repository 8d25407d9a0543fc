#!/usr/bin/env bash
# GPU check for the image models (under 5 minutes on one GPU): one convhvae_2level VampPrior training
# epoch on 50,000 MNIST-shaped images and one evaluation batch (100 images x 5,000 importance samples).
# Prints epoch time, images/s and peak GPU memory.
# Usage: bash bench/gpu_check.sh [n_train=50000] [objective=smim] [is_samples=5000]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
timeout 300 "$PY" bench/gpu_check.py "$@"
