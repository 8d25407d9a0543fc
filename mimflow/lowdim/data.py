"""The data stream of a low-dimensional run: a toy GMM sampled afresh every pass, or PCA Fashion-MNIST."""
from __future__ import annotations

from pathlib import Path
from typing import Union

import torch

from ..data.augment import AffineAugment
from ..data.pca import PCASource
from ..names import is_pca_dataset
from ..data.toy import ToySource, toy_mixture
from .settings import LowdimRunConfig

LowdimSource = Union[ToySource, PCASource]


def samples_per_pass(dataset_size: int, batch_size: int) -> int:
    """Points a drop_last DataLoader yields per pass (10,000 at batch 128 -> 9,984)."""
    return (dataset_size // batch_size) * batch_size


def lowdim_source(cfg: LowdimRunConfig, data_path: str | Path | None = None) -> LowdimSource:
    """The data stream of a run: a toy GMM, or a PCA dataset loaded from its built tensor file."""
    if is_pca_dataset(cfg.dataset):
        if data_path is None:
            raise ValueError(f"dataset {cfg.dataset} needs its built tensor file (resources/datasets/...)")
        data = torch.load(data_path, weights_only=False)
        for key, built, wanted in (("pca_fit", data.get("fit"), cfg.pca_fit),
                                   ("pca_sign", data.get("pca_sign"), cfg.pca_sign),
                                   ("affine_geometry", data.get("affine_geometry"), cfg.affine_geometry)):
            if built != wanted:
                raise ValueError(f"{data_path} was built with {key} {built!r}, the run asks for {wanted!r}")
        return PCASource(data, cfg.batch_size, AffineAugment(geometry=cfg.affine_geometry))
    return ToySource(toy_mixture(cfg.dataset), samples_per_pass(cfg.dataset_size, cfg.batch_size))
