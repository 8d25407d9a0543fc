"""Snakemake adapter: one metric of one experiment against the swept dim (rule stats_figure)."""
import logging

import pandas as pd

from mimflow.plots.stats import stats_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s", force=True)
stats_figure(pd.read_csv(sm.input[0]), sm.wildcards.metric, sm.wildcards.experiment, sm.output[0], dpi=sm.params.dpi)
logging.info("wrote %s", sm.output[0])
