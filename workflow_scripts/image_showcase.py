"""Snakemake adapter: the job of rule image_showcase (mimflow.jobs.images.image_showcase)."""
from mimflow.jobs import run
from mimflow.jobs.images import image_showcase

run(snakemake, image_showcase)  # noqa: F821 (snakemake is injected by Snakemake)
