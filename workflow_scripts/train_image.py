"""Snakemake adapter: the job of rule train_image (mimflow.jobs.images.train_image)."""
from mimflow.jobs import run
from mimflow.jobs.images import train_image

run(snakemake, train_image)  # noqa: F821 (snakemake is injected by Snakemake)
