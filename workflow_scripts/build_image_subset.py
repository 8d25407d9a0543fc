"""Snakemake adapter: the job of rule build_image_subset (mimflow.jobs.data.build_image_subset)."""
from mimflow.jobs import run
from mimflow.jobs.data import build_image_subset

run(snakemake, build_image_subset)  # noqa: F821 (snakemake is injected by Snakemake)
