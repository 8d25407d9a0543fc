"""Snakemake adapter: tidy per-run table and seed summary of one experiment (rule experiment_table)."""

from mimflow.joblog import job_logger
from mimflow.tables import runs_table, summary_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
runs = runs_table(list(sm.input))
summary = summary_table(runs)
for frame, path in ((runs, sm.output.runs), (summary, sm.output.summary)):
    frame.to_csv(path, index=False)
log.info("%d runs, %d groups", len(runs), len(summary))
