"""The data stream of a low-dimensional run, from its dataset family (mimflow.registry.DATASETS): a toy GMM
sampled afresh every pass, PCA Fashion-MNIST, a file of one's own vectors, or a plugin's family. Each
family's stream is defined beside its registration (mimflow.datasets for the built-ins).

A stream has x_dim, train_pass(generator) and test_pass(generator) (each (x, labels) for one pass), and
true_log_prob(x) (None where the density is unknown). A stream may also have evaluation_pass(split,
generator), the pass of a split the evaluation scores; without it the evaluation takes train_pass and
test_pass (the original's drop_last passes, for the paper's datasets).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..datasets import dataset_family
from .settings import LowdimRunConfig

LowdimSource = Any  # ToySource, PCASource, VectorSource or a plugin's stream


def evaluation_pass(source: LowdimSource, split: str, generator):
    """The (x, labels) pass of one split ("train" or "test") that a run's evaluation scores."""
    if hasattr(source, "evaluation_pass"):
        return source.evaluation_pass(split, generator)
    return getattr(source, f"{split}_pass")(generator)


def lowdim_source(cfg: LowdimRunConfig, data_path: str | Path | None = None) -> LowdimSource:
    """The data stream of a run: its dataset family's source, given the file the run reads (if any)."""
    return dataset_family(cfg.dataset).source(cfg, data_path)
