"""Snakemake adapter: OMNIGLOT chardata.mat -> image dataset tensors (rule build_omniglot)."""
from mimflow.core.io import save_torch_atomic
from mimflow.core.joblog import job_logger
from mimflow.data.images import build_omniglot, describe
from mimflow.workflow import raw_source_records

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
data = build_omniglot(sm.input.raw[0], sm.params.n_validation, sm.params.binarize_seed, sm.params.shuffle_seed)
data["raw_sources"] = raw_source_records(sm.input.records)  # where each raw file came from
save_torch_atomic(data, sm.output[0])
log.info("%s: %s", sm.output[0], describe(data))
