"""The built-in low-dimensional dataset families, registered in mimflow.registry.DATASETS at import, each
with its data stream beside its registration: the paper's ring and letter Gaussian mixtures (sampled afresh
every pass), PCA Fashion-MNIST (built from the download), and files of one's own vectors (config key
vector_datasets; mimflow.data.vectors)."""
from __future__ import annotations

import re
from typing import Any, Mapping

from .registry import DATASETS, DatasetFamily, dataset_family, register_dataset

__all__ = ["DATASETS", "DatasetFamily", "dataset_family", "PCA_FILE", "pca_source", "register_vector_datasets",
           "samples_per_pass"]

PCA_FILE = "resources/datasets/{dataset}-{fit}.pt"  # the built PCA dataset of one fidelity.pca_fit value
# The run settings each family's data never read (DatasetFamily.ignores): the PCA switches, the toy pass size.
PCA_SETTINGS = ("pca_fit", "pca_sign", "affine_geometry")
FILE_IGNORES = ("dataset_size",)  # real data: the split sizes are the file's own


def samples_per_pass(dataset_size: int, batch_size: int) -> int:
    """Points a drop_last DataLoader yields per pass (10,000 at batch 128 -> 9,984)."""
    return (dataset_size // batch_size) * batch_size


def _toy_source(cfg, data_path=None):
    from .data.toy import ToySource, toy_mixture

    return ToySource(toy_mixture(cfg.dataset), samples_per_pass(cfg.dataset_size, cfg.batch_size))


def pca_source(cfg, data_path=None):
    """A PCA dataset loaded from its built tensor file, checked against the run's fidelity switches."""
    from .core.io import load_torch
    from .data.augment import AffineAugment
    from .data.pca import PCASource

    if data_path is None:
        raise ValueError(f"dataset {cfg.dataset} needs its built tensor file (resources/datasets/...)")
    data = load_torch(data_path)
    for key, built, wanted in (("pca_fit", data.get("fit"), cfg.pca_fit),
                               ("pca_sign", data.get("pca_sign"), cfg.pca_sign),
                               ("affine_geometry", data.get("affine_geometry"), cfg.affine_geometry)):
        if built != wanted:
            raise ValueError(f"{data_path} was built with {key} {built!r}, the run asks for {wanted!r}")
    return PCASource(data, cfg.batch_size, AffineAugment(geometry=cfg.affine_geometry))


def _pca_settings(settings: dict[str, Any], fidelity: Mapping[str, Any]) -> dict[str, Any]:
    settings.update(pca_fit=fidelity["pca_fit"], pca_sign=fidelity["pca_sign"],
                    affine_geometry=fidelity["affine_geometry"])
    for key in FILE_IGNORES:
        settings.pop(key, None)
    return settings


def _vector_source(cfg, data_path=None):
    from .data.vectors import VectorSource, load_vectors

    if data_path is None:
        raise ValueError(f"dataset {cfg.dataset} needs its file (config vector_datasets.{cfg.dataset}.path)")
    return VectorSource(load_vectors(data_path), cfg.batch_size)


def _vector_settings(settings: dict[str, Any], fidelity: Mapping[str, Any]) -> dict[str, Any]:
    for key in FILE_IGNORES:
        settings.pop(key, None)
    return settings


register_dataset("toy_ring", r"toy\d+(_\d+)?", _toy_source, density=True, published=True, ignores=PCA_SETTINGS,
                 description="toy<k> or toy<k>_<dim>: k ring modes plus one at the origin (toy4, toy4_20)")
register_dataset("toy_text", r"toy(MIM|VAE|AE)", _toy_source, density=True, published=True, ignores=PCA_SETTINGS,
                 description="toyMIM, toyVAE, toyAE: one mode per lit pixel of the letters")
register_dataset("pca_fashion_mnist", r"pca-fashion-mnist\d+", pca_source, published=True, ignores=FILE_IGNORES,
                 file=lambda name, settings: PCA_FILE.format(dataset=name, fit=settings.get("pca_fit", "per_split")),
                 settings=_pca_settings,
                 description="pca-fashion-mnist<k>: Fashion-MNIST projected on its first k principal components")


def register_vector_datasets(entries: Mapping[str, Mapping[str, Any]]) -> None:
    """Register each configured file of vectors (config vector_datasets) as a dataset of its own name."""
    for name, entry in entries.items():
        family = DatasetFamily(name=f"vectors:{name}", pattern=re.escape(name), source=_vector_source,
                               file=lambda _name, _settings, path=entry["path"]: path, settings=_vector_settings,
                               ignores=FILE_IGNORES + PCA_SETTINGS,
                               description=f"{name}: the vectors of {entry['path']}")
        if family.name in DATASETS:
            if DATASETS[family.name].description != family.description:
                raise ValueError(f"vector dataset {name!r} is configured twice with different files")
            continue
        DATASETS.register(family)
