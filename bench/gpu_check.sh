#!/usr/bin/env bash
# Image-model throughput check: one Markdown table (training and IS-NLL images/s for the 8 model x prior
# combinations of the paper grid, fp32 and the bf16 fast path, peak GPU memory, projected GPU-hours of the
# 240-run grid). On a CPU pass reduced sizes (bench/RESULTS.md has the command).
# Usage: bash bench/gpu_check.sh [--device cuda] [--train-images N] [--is-samples S] [--is-images M]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
exec "$PY" bench/gpu_check.py "$@"
