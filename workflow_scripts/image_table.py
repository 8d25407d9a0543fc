"""Snakemake adapter: per-run table and seed summary of the image runs (rule image_table)."""
import logging

from mimflow.tables import IMAGE_GROUP_KEYS, IMAGE_RUN_PATH, runs_table, summary_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s", force=True)
runs = runs_table(list(sm.input), IMAGE_RUN_PATH, IMAGE_GROUP_KEYS)
summary = summary_table(runs, IMAGE_GROUP_KEYS)
runs.to_csv(sm.output.runs, index=False)
summary.to_csv(sm.output.summary, index=False)
logging.info("%d runs, %d groups", len(runs), len(summary))
