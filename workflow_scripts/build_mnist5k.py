"""Snakemake adapter: the job of rule build_mnist5k (mimflow.jobs.data.build_mnist5k)."""
from mimflow.jobs import run
from mimflow.jobs.data import build_mnist5k

run(snakemake, build_mnist5k)  # noqa: F821 (snakemake is injected by Snakemake)
