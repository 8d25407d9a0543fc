"""Snakemake adapter: the job of rule run_figures (mimflow.jobs.lowdim.run_figures)."""
from mimflow.jobs import run
from mimflow.jobs.lowdim import run_figures

run(snakemake, run_figures)  # noqa: F821 (snakemake is injected by Snakemake)
