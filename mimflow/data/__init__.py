"""Datasets of the low-dimensional experiments."""
from __future__ import annotations

from .toy import GaussianMixture, ToySource, toy_mixture


def samples_per_pass(dataset_size: int, batch_size: int) -> int:
    """Points a drop_last DataLoader yields per pass (10,000 at batch 128 -> 9,984)."""
    return (dataset_size // batch_size) * batch_size


def lowdim_source(name: str, dataset_size: int = 10000, batch_size: int = 128) -> ToySource:
    """The data stream for a low-dimensional dataset name."""
    return ToySource(toy_mixture(name), samples_per_pass(dataset_size, batch_size))


__all__ = ["GaussianMixture", "ToySource", "lowdim_source", "samples_per_pass", "toy_mixture"]
