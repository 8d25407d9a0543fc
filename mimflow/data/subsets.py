"""Class-stratified subsets of a built image dataset (config image_subsets; spec in mimflow.registry.ImageSubset).

Each split is drawn from the parent's split of the same role, so a subset keeps the parent's provenance and
preprocessing: training images stay grey levels (binarised dynamically at training time), validation and
test images stay as the parent binarised them once. One numpy RandomState(seed) draws, for the training,
validation and test split in turn, a permutation of each class's rows (classes in label order) and keeps
the first `per_class`; the kept rows of a split are then shuffled by the same RNG, so no split is sorted by
class (VampPrior pseudo-inputs start from the first training images; figures show the first test images).
"""
from __future__ import annotations

import numpy as np
import torch

SPLITS = (("x_train", "y_train", "train_per_class"), ("x_val", "y_val", "validation_per_class"),
          ("x_test", "y_test", "test_per_class"))


def stratified_rows(labels: np.ndarray, per_class: int, rng: np.random.RandomState, split: str) -> np.ndarray:
    """Row indices of `per_class` images of every class, shuffled (see the module docstring)."""
    rows = []
    for label in np.unique(labels):
        candidates = np.flatnonzero(labels == label)
        if len(candidates) < per_class:
            raise ValueError(f"{split}: class {label} has {len(candidates)} images, fewer than the {per_class} "
                             "asked for; allowed: at most that many per class")
        rows.append(rng.permutation(candidates)[:per_class])
    return rng.permutation(np.concatenate(rows))


def build_image_subset(parent: dict, name: str, spec: dict) -> dict:
    """The subset `name` of a built parent dataset (its tensor dict) by `spec` (ImageSubset.spec())."""
    rng = np.random.RandomState(spec["seed"])
    out = {}
    for x_key, y_key, count in SPLITS:
        rows = torch.from_numpy(stratified_rows(parent[y_key].numpy(), spec[count], rng, f"{name} {x_key[2:]}"))
        out[x_key], out[y_key] = parent[x_key][rows].clone(), parent[y_key][rows].clone()
    out.update(train_scale=parent["train_scale"], image_shape=parent["image_shape"],
               subset={"name": name, **spec})
    if "raw_sources" in parent:
        out["raw_sources"] = parent["raw_sources"]
    return out
