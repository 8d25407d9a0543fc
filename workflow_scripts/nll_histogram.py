"""Snakemake adapter: histogram_test.png of one image run's per-image test NLL (rule nll_histogram)."""

import json

from mimflow.core.io import load_numpy, save_figure
from mimflow.core.joblog import job_logger
from mimflow.images.figures import nll_histogram

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
metrics = json.loads(open(sm.input.metrics).read())
w = sm.wildcards
title = (f"{w.arch}-{w.objective}, {w.prior}, {w.dataset}, seed {w.seed}: test NLL {metrics['test_nll_is']:.2f} "
         f"nats (S = {metrics['is_samples']})")
save_figure(nll_histogram(load_numpy(sm.input.nll), title=title), sm.output[0])
log.info("wrote %s", sm.output[0])
