"""Snakemake adapter: Fashion-MNIST raw files -> PCA dataset tensors (rule build_pca_dataset)."""
from pathlib import Path

from mimflow.core.io import save_torch_atomic
from mimflow.core.joblog import job_logger
from mimflow.data.images import read_mnist_like
from mimflow.data.pca import build_pca_dataset
from mimflow.workflow import raw_source_records

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
data = build_pca_dataset(read_mnist_like(Path(sm.input.raw[0]).parent), int(sm.wildcards.k), sm.wildcards.fit,
                         pca_sign=sm.params.pca_sign, affine_geometry=sm.params.affine_geometry)
data["raw_sources"] = raw_source_records(sm.input.records)  # where each raw file came from
save_torch_atomic(data, sm.output[0])
log.info("%s: explained variance of %s components %s (pca_sign %s, affine_geometry %s)", sm.output[0],
         sm.wildcards.k, data["explained_variance"], data["pca_sign"], data["affine_geometry"])
