"""Snakemake adapter: the job of rule fidelity_scorecard (mimflow.jobs.tables.fidelity_scorecard)."""
from mimflow.jobs import run
from mimflow.jobs.tables import fidelity_scorecard

run(snakemake, fidelity_scorecard)  # noqa: F821 (snakemake is injected by Snakemake)
