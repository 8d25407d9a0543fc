"""Snakemake adapter: the job of rule build_dynamic_mnist_like (mimflow.jobs.data.build_dynamic_mnist_like)."""
from mimflow.jobs import run
from mimflow.jobs.data import build_dynamic_mnist_like

run(snakemake, build_dynamic_mnist_like)  # noqa: F821 (snakemake is injected by Snakemake)
