"""Snakemake adapter: the job of rule build_omniglot (mimflow.jobs.data.build_omniglot)."""
from mimflow.jobs import run
from mimflow.jobs.data import build_omniglot

run(snakemake, build_omniglot)  # noqa: F821 (snakemake is injected by Snakemake)
