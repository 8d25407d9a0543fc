"""Snakemake adapter: tidy per-run table and seed summary of one experiment (rule experiment_table)."""
import logging

from mimflow.tables import runs_table, summary_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s", force=True)
runs = runs_table(list(sm.input))
summary = summary_table(runs)
for frame, path in ((runs, sm.output.runs), (summary, sm.output.summary)):
    frame.to_csv(path, index=False)
logging.info("%d runs, %d groups", len(runs), len(summary))
