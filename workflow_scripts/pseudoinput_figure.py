"""Snakemake adapter: the job of rule pseudoinput_figure (mimflow.jobs.images.pseudoinput_figure)."""
from mimflow.jobs import run
from mimflow.jobs.images import pseudoinput_figure

run(snakemake, pseudoinput_figure)  # noqa: F821 (snakemake is injected by Snakemake)
