"""Snakemake adapter: per-run table and seed summary of the image runs (rule image_table)."""

from mimflow.joblog import job_logger
from mimflow.tables import IMAGE_GROUP_KEYS, IMAGE_RUN_PATH, runs_table, summary_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
runs = runs_table(list(sm.input), IMAGE_RUN_PATH, IMAGE_GROUP_KEYS)
summary = summary_table(runs, IMAGE_GROUP_KEYS)
runs.to_csv(sm.output.runs, index=False)
summary.to_csv(sm.output.summary, index=False)
log.info("%d runs, %d groups", len(runs), len(summary))
