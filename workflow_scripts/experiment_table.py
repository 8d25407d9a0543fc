"""Snakemake adapter: tidy per-run table and seed summary of one experiment (rule experiment_table)."""
from mimflow.core.joblog import job_logger
from mimflow.core.tables import experiment_table, save_tables
from mimflow.workflow import RUN_DIR, template_pattern

sm = snakemake  # noqa: F821 (injected by Snakemake)
runs, summary = experiment_table(list(sm.input.metrics), template_pattern(RUN_DIR))
save_tables(runs, summary, sm.output.runs, sm.output.summary)
job_logger(sm.log[0], sm.rule).info("%d runs, %d groups", len(runs), len(summary))
