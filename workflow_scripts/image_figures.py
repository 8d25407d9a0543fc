"""Snakemake adapter: the job of rule image_figures (mimflow.jobs.images.image_figures)."""
from mimflow.jobs import run
from mimflow.jobs.images import image_figures

run(snakemake, image_figures)  # noqa: F821 (snakemake is injected by Snakemake)
