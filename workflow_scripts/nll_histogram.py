"""Snakemake adapter: the job of rule nll_histogram (mimflow.jobs.images.nll_histogram)."""
from mimflow.jobs import run
from mimflow.jobs.images import nll_histogram

run(snakemake, nll_histogram)  # noqa: F821 (snakemake is injected by Snakemake)
