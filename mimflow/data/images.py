"""Image datasets of the image experiments (spec 6.2), built once into tensor files.

dynamic_mnist / dynamic_fashion_mnist: the first N - n_validation training images train (grey
levels, binarised dynamically per batch at training time), the rest validate; validation and test
are binarised once with numpy's legacy RNG seeded 777, as the original. omniglot: chardata.mat, a
*seeded* shuffle of the training images with their labels kept aligned (the original shuffled the
images with an unseeded RNG and left the labels unshuffled).
"""
from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..core.io import reading

# What to do about a raw file that cannot be read: its download rule fetches and checks it again.
RAW_REBUILD = "delete it and rerun Snakemake, which downloads it again and checks its checksum"

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def read_idx_gz(path: str | Path) -> torch.Tensor:
    """An IDX (.gz) image or label file through torchvision's own parser."""
    from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor

    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / Path(path).name.removesuffix(".gz")
        with reading(path, RAW_REBUILD), gzip.open(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        with reading(path, RAW_REBUILD):
            return read_sn3_pascalvincent_tensor(str(plain), strict=False)


def read_mnist_like(raw_dir: str | Path) -> dict[str, torch.Tensor]:
    """The four IDX files of MNIST or Fashion-MNIST: uint8 images (N, 28, 28) and int64 labels."""
    raw_dir = Path(raw_dir)
    out = {key: read_idx_gz(raw_dir / name) for key, name in IDX_FILES.items()}
    for split in ("train", "test"):
        images, labels = out[f"{split}_images"], out[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{raw_dir}: {split} images {tuple(images.shape)} and labels {tuple(labels.shape)} disagree")
        out[f"{split}_labels"] = labels.long()
    return out


def binarize_once(*arrays: np.ndarray, seed: int) -> list[np.ndarray]:
    """Fixed binarisation of evaluation sets: np.random.seed(seed), then binomial draws in order."""
    rng = np.random.RandomState(seed)  # the legacy global RNG's algorithm, as np.random.seed
    return [rng.binomial(1, a).astype(np.uint8) for a in arrays]


def build_dynamic_mnist_like(raw_dir: str | Path, n_validation: int, binarize_seed: int) -> dict:
    raw = read_mnist_like(raw_dir)
    grey = raw["train_images"].reshape(len(raw["train_images"]), -1).numpy() / 255.0
    test = raw["test_images"].reshape(len(raw["test_images"]), -1).numpy() / 255.0
    if not 0 < n_validation < len(grey):
        raise ValueError(f"n_validation {n_validation} must be in 1..{len(grey) - 1} for {len(grey)} training images")
    x_val, x_test = binarize_once(grey[-n_validation:], test, seed=binarize_seed)
    return {
        "x_train": raw["train_images"].reshape(len(grey), -1)[:-n_validation].clone(),  # uint8 grey levels
        "y_train": raw["train_labels"][:-n_validation].clone(),
        "x_val": torch.from_numpy(x_val), "y_val": raw["train_labels"][-n_validation:].clone(),
        "x_test": torch.from_numpy(x_test), "y_test": raw["test_labels"].clone(),
        "train_scale": 255.0, "image_shape": (1, 28, 28),
    }


def _omniglot_flatten(data: np.ndarray) -> np.ndarray:
    """chardata.mat columns -> rows of 784 pixels in the original's Fortran-order layout."""
    return data.T.astype(np.float32).reshape((-1, 28, 28)).reshape((-1, 28 * 28), order="F")


def build_omniglot(mat_path: str | Path, n_validation: int, binarize_seed: int, shuffle_seed: int) -> dict:
    from scipy.io import loadmat

    with reading(mat_path, RAW_REBUILD):
        raw = loadmat(mat_path)
    for key in ("data", "testdata", "targetchar", "testtargetchar"):
        if key not in raw:
            raise ValueError(f"{mat_path} has no variable {key!r}; found {sorted(k for k in raw if not k.startswith('__'))}")
    train = _omniglot_flatten(raw["data"])
    test = _omniglot_flatten(raw["testdata"])
    y_train_all = raw["targetchar"].reshape(-1).astype(np.int64)
    y_test = raw["testtargetchar"].reshape(-1).astype(np.int64)
    if len(y_train_all) != len(train) or len(y_test) != len(test):
        raise ValueError(f"{mat_path}: images and targetchar labels differ in number")
    if not 0 < n_validation < len(train):
        raise ValueError(f"n_validation {n_validation} must be in 1..{len(train) - 1} for {len(train)} images")
    order = np.random.RandomState(shuffle_seed).permutation(len(train))
    train, y_train_all = train[order], y_train_all[order]  # labels move with their images (fix)
    rng = np.random.RandomState(binarize_seed)
    x_val = rng.binomial(1, train[-n_validation:]).astype(np.uint8)
    x_test = rng.binomial(1, test).astype(np.uint8)
    test_order = np.arange(len(test))
    rng.shuffle(test_order)  # the original's one shared test permutation, after the binarisation draws
    return {
        "x_train": torch.from_numpy(np.ascontiguousarray(train[:-n_validation])),  # float grey levels in [0, 1]
        "y_train": torch.from_numpy(y_train_all[:-n_validation]),
        "x_val": torch.from_numpy(x_val), "y_val": torch.from_numpy(y_train_all[-n_validation:]),
        "x_test": torch.from_numpy(x_test[test_order]), "y_test": torch.from_numpy(y_test[test_order]),
        "train_scale": 1.0, "image_shape": (1, 28, 28),
    }


def describe(data: dict) -> dict[str, tuple[int, ...]]:
    """The shapes of a built dataset's tensors, for the job log."""
    return {k: tuple(v.shape) for k, v in data.items() if torch.is_tensor(v)}
