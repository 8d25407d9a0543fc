"""Snakemake adapter: raw files -> image dataset tensors (rules build_mnist_like, build_omniglot)."""
from pathlib import Path

import torch

from mimflow.data.images import build_dynamic_mnist_like, build_omniglot
from mimflow.joblog import job_logger

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
if sm.rule == "build_omniglot":
    data = build_omniglot(sm.input[0], sm.params.n_validation, sm.params.binarize_seed, sm.params.shuffle_seed)
else:
    data = build_dynamic_mnist_like(Path(sm.input[0]).parent, sm.params.n_validation, sm.params.binarize_seed)
tmp = Path(sm.output[0]).with_name(f".{Path(sm.output[0]).name}.tmp")
torch.save(data, tmp)
tmp.replace(sm.output[0])
log.info("%s: %s", sm.output[0], {k: tuple(v.shape) for k, v in data.items() if torch.is_tensor(v)})
