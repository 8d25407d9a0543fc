"""The data stream of a low-dimensional run, from its dataset family (mimflow.registry.DATASETS): a toy GMM
sampled afresh every pass, PCA Fashion-MNIST, a file of one's own vectors, or a plugin's family.

A stream has x_dim, train_pass(generator) and test_pass(generator) (each (x, labels) for one pass), and
true_log_prob(x) (None where the density is unknown).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..core.io import load_torch
from ..datasets import dataset_family
from .settings import LowdimRunConfig

LowdimSource = Any  # ToySource, PCASource, VectorSource or a plugin's stream


def samples_per_pass(dataset_size: int, batch_size: int) -> int:
    """Points a drop_last DataLoader yields per pass (10,000 at batch 128 -> 9,984)."""
    return (dataset_size // batch_size) * batch_size


def lowdim_source(cfg: LowdimRunConfig, data_path: str | Path | None = None) -> LowdimSource:
    """The data stream of a run: its dataset family's source, given the file the run reads (if any)."""
    return dataset_family(cfg.dataset).source(cfg, data_path)


def pca_source(cfg: LowdimRunConfig, data_path: str | Path | None):
    """A PCA dataset loaded from its built tensor file, checked against the run's fidelity switches."""
    from ..data.augment import AffineAugment
    from ..data.pca import PCASource

    if data_path is None:
        raise ValueError(f"dataset {cfg.dataset} needs its built tensor file (resources/datasets/...)")
    data = load_torch(data_path)
    for key, built, wanted in (("pca_fit", data.get("fit"), cfg.pca_fit),
                               ("pca_sign", data.get("pca_sign"), cfg.pca_sign),
                               ("affine_geometry", data.get("affine_geometry"), cfg.affine_geometry)):
        if built != wanted:
            raise ValueError(f"{data_path} was built with {key} {built!r}, the run asks for {wanted!r}")
    return PCASource(data, cfg.batch_size, AffineAugment(geometry=cfg.affine_geometry))
