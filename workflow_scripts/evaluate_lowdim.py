"""Snakemake adapter: the job of rule evaluate_lowdim (mimflow.jobs.lowdim.evaluate_lowdim)."""
from mimflow.jobs import run
from mimflow.jobs.lowdim import evaluate_lowdim

run(snakemake, evaluate_lowdim)  # noqa: F821 (snakemake is injected by Snakemake)
