"""Snakemake adapter: the job of rule train_lowdim (mimflow.jobs.lowdim.train_lowdim)."""
from mimflow.jobs import run
from mimflow.jobs.lowdim import train_lowdim

run(snakemake, train_lowdim)  # noqa: F821 (snakemake is injected by Snakemake)
