"""Snakemake adapter: the job of rule build_pca_dataset (mimflow.jobs.data.build_pca_dataset)."""
from mimflow.jobs import run
from mimflow.jobs.data import build_pca_dataset

run(snakemake, build_pca_dataset)  # noqa: F821 (snakemake is injected by Snakemake)
