"""Snakemake adapter: the job of rule experiment_table (mimflow.jobs.tables.experiment_table)."""
from mimflow.jobs import run
from mimflow.jobs.tables import experiment_table

run(snakemake, experiment_table)  # noqa: F821 (snakemake is injected by Snakemake)
