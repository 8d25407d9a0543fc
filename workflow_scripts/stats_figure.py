"""Snakemake adapter: one metric of one experiment against the swept dim (rule stats_figure)."""

import pandas as pd

from mimflow.joblog import job_logger
from mimflow.plots.stats import stats_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
stats_figure(pd.read_csv(sm.input[0]), sm.wildcards.metric, sm.wildcards.experiment, sm.output[0], dpi=sm.params.dpi)
log.info("wrote %s", sm.output[0])
