"""Snakemake adapter: the jobs of rules clustering_trajectory and clustering_trajectories
(mimflow.jobs.images.clustering_trajectories)."""
from mimflow.jobs import run
from mimflow.jobs.images import clustering_trajectories

run(snakemake, clustering_trajectories)  # noqa: F821 (snakemake is injected by Snakemake)
