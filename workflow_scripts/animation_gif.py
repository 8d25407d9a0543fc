"""Snakemake adapter: the job of rule animation_gif (mimflow.jobs.lowdim.animation_gif)."""
from mimflow.jobs import run
from mimflow.jobs.lowdim import animation_gif

run(snakemake, animation_gif)  # noqa: F821 (snakemake is injected by Snakemake)
