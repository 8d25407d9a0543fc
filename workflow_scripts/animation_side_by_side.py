"""Snakemake adapter: the job of rule animation_side_by_side (mimflow.jobs.lowdim.animation_side_by_side)."""
from mimflow.jobs import run
from mimflow.jobs.lowdim import animation_side_by_side

run(snakemake, animation_side_by_side)  # noqa: F821 (snakemake is injected by Snakemake)
