"""Snakemake adapter: OMNIGLOT chardata.mat -> image dataset tensors (rule build_omniglot)."""
from mimflow.core.io import save_torch_atomic
from mimflow.core.joblog import job_logger
from mimflow.data.images import build_omniglot, describe

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
data = build_omniglot(sm.input[0], sm.params.n_validation, sm.params.binarize_seed, sm.params.shuffle_seed)
save_torch_atomic(data, sm.output[0])
log.info("%s: %s", sm.output[0], describe(data))
