"""Snakemake adapter: the job of rule download (mimflow.jobs.data.download)."""
from mimflow.jobs import run
from mimflow.jobs.data import download

run(snakemake, download)  # noqa: F821 (snakemake is injected by Snakemake)
