"""Snakemake adapter: per-run table and seed summary of the image runs (rule image_table)."""
from mimflow.core.joblog import job_logger
from mimflow.core.tables import image_table, save_tables
from mimflow.workflow import IMAGE_RUN_DIR_BY_MODEL, template_pattern

sm = snakemake  # noqa: F821 (injected by Snakemake)
runs, summary = image_table(list(sm.input.metrics), template_pattern(IMAGE_RUN_DIR_BY_MODEL))
save_tables(runs, summary, sm.output.runs, sm.output.summary)
job_logger(sm.log[0], sm.rule).info("%d runs, %d groups", len(runs), len(summary))
