"""Snakemake adapter: the job of rule image_table (mimflow.jobs.tables.image_table)."""
from mimflow.jobs import run
from mimflow.jobs.tables import image_table

run(snakemake, image_table)  # noqa: F821 (snakemake is injected by Snakemake)
