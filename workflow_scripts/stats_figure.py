"""Snakemake adapter: the job of rule stats_figure (mimflow.jobs.tables.stats_figure)."""
from mimflow.jobs import run
from mimflow.jobs.tables import stats_figure

run(snakemake, stats_figure)  # noqa: F821 (snakemake is injected by Snakemake)
