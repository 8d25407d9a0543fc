"""Snakemake adapter: the job of rule evaluate_image (mimflow.jobs.images.evaluate_image)."""
from mimflow.jobs import run
from mimflow.jobs.images import evaluate_image

run(snakemake, evaluate_image)  # noqa: F821 (snakemake is injected by Snakemake)
