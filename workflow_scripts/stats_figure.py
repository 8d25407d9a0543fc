"""Snakemake adapter: one metric of one experiment against the swept dim, beside the published points
(rule stats_figure)."""

import pandas as pd

from mimflow.core.io import save_figure
from mimflow.core.joblog import job_logger
from mimflow.lowdim.stats_figure import stats_figure
from mimflow.registry import configure

sm = snakemake  # noqa: F821 (injected by Snakemake)
configure(sm.config)  # the config's plugins and vector datasets, as at planning
log = job_logger(sm.log[0], sm.rule)
figure = stats_figure(pd.read_csv(sm.input.summary), sm.wildcards.metric, sm.wildcards.experiment,
                      dpi=sm.params.dpi, published=pd.read_csv(sm.input.published))
save_figure(figure, sm.output[0])
log.info("wrote %s", sm.output[0])
