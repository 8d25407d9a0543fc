"""Image subsets (config image_subsets): the class-stratified draw, its registration and its config errors,
the image runs' per-purpose training streams, and the showcase figure's planning."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mimflow.core.seeds import stream
from mimflow.data.subsets import build_image_subset
from mimflow.images.data import training_generators
from mimflow.images.settings import ImageRunConfig
from mimflow.registry import IMAGE_SUBSETS, image_datasets, image_root
from mimflow.workflow import ConfigError, check_config, showcase_datasets

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "schemas" / "config.schema.yaml"
SPEC = {"parent": "dynamic_fashion_mnist", "train_per_class": 3, "validation_per_class": 2, "test_per_class": 1,
        "seed": 0}


@pytest.fixture(scope="module")
def base_config() -> dict:
    return yaml.safe_load((REPO_ROOT / "config.yaml").read_text())


@pytest.fixture
def config(base_config) -> dict:
    return copy.deepcopy(base_config)


def parent_dataset(n_classes: int = 4) -> dict:
    """A built parent whose pixels say which split and row they come from (pixel 0: split, pixel 1: row)."""
    parts = {}
    for code, (x_key, y_key, n) in enumerate((("x_train", "y_train", 40), ("x_val", "y_val", 20),
                                              ("x_test", "y_test", 12))):
        x = torch.zeros(n, 784, dtype=torch.uint8)
        x[:, 0], x[:, 1] = code, torch.arange(n, dtype=torch.uint8)
        parts[x_key], parts[y_key] = x, torch.arange(n) % n_classes
    return {**parts, "train_scale": 255.0, "image_shape": (1, 28, 28), "raw_sources": {"a.gz": {"origin": "x"}}}


def test_a_subset_draws_per_class_from_the_parents_own_splits():
    parent = parent_dataset()
    subset = build_image_subset(parent, "tiny", SPEC)
    for (x_key, y_key, per_class), code in zip((("x_train", "y_train", 3), ("x_val", "y_val", 2),
                                                ("x_test", "y_test", 1)), range(3)):
        x, y = subset[x_key], subset[y_key]
        assert np.bincount(y.numpy()).tolist() == [per_class] * 4
        assert (x[:, 0] == code).all()  # every image from the parent's split of the same role
        rows = x[:, 1].long()
        assert len(set(rows.tolist())) == len(rows)  # no image twice
        assert torch.equal(parent[y_key][rows], y)  # labels stay with their images
        assert torch.equal(parent[x_key][rows], x)
    assert subset["subset"] == {"name": "tiny", **SPEC} and subset["raw_sources"] == parent["raw_sources"]
    assert subset["train_scale"] == 255.0 and subset["x_train"].dtype == torch.uint8  # grey levels kept


def test_a_subset_is_fixed_by_its_seed_and_not_sorted_by_class():
    parent = parent_dataset()
    first, again = build_image_subset(parent, "tiny", SPEC), build_image_subset(parent, "tiny", SPEC)
    assert all(torch.equal(first[k], again[k]) for k in ("x_train", "x_val", "x_test"))
    other = build_image_subset(parent, "tiny", {**SPEC, "seed": 1})
    assert not torch.equal(first["x_train"], other["x_train"])
    assert first["y_train"].tolist() != sorted(first["y_train"].tolist())


def test_a_subset_larger_than_a_class_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"tiny test: class 0 has 3 images, fewer than the 4 asked for"):
        build_image_subset(parent_dataset(), "tiny", {**SPEC, "test_per_class": 4})


def test_the_configured_subset_is_an_image_dataset(config):
    check_config(config, SCHEMA_PATH)
    assert "fmnist5k" in image_datasets() and image_root("fmnist5k") == "dynamic_fashion_mnist"
    assert IMAGE_SUBSETS["fmnist5k"].spec() == {**config["image_subsets"]["fmnist5k"]}
    ImageRunConfig(dataset="fmnist5k", arch="convhvae_2level", objective="vae", prior="standard", seed=1)
    with pytest.raises(ValueError, match="dataset"):
        ImageRunConfig(dataset="fmnist6k", arch="convhvae_2level", objective="vae", prior="standard", seed=1)


@pytest.mark.parametrize("entry, message", [
    ({"parent": "cifar10"}, r"config key image_subsets\.bad\.parent: value 'cifar10' is not allowed; allowed: one of "
                            r"dynamic_mnist, dynamic_fashion_mnist, omniglot, mnist5k"),
    ({"train_per_class": 0}, r"config key image_subsets\.bad\.train_per_class: value 0 is not allowed; allowed: >= 1"),
    ({"colour": True}, r"config key image_subsets\.bad: unknown key\(s\) \['colour'\]"),
])
def test_a_bad_subset_entry_is_a_one_line_error(config, entry, message):
    config["image_subsets"]["bad"] = {**SPEC, **entry}
    with pytest.raises(ConfigError, match=message) as info:
        check_config(config, SCHEMA_PATH)
    assert "\n" not in str(info.value)


def test_a_subset_may_not_take_a_built_in_name(config):
    config["image_subsets"] = {"mnist5k": SPEC}
    with pytest.raises(ConfigError, match=r"image subset 'mnist5k' has the name of a built-in image dataset"):
        check_config(config, SCHEMA_PATH)


def test_image_training_streams_are_per_purpose_and_none_replays_the_weights():
    """The weights start from torch.manual_seed(seed); each training purpose draws from its own derived stream."""
    generators = training_generators(7, torch.device("cpu"))
    assert sorted(generators) == ["data", "noise", "pseudo-inputs"]
    torch.manual_seed(7)
    weights_words = torch.rand(1000)
    draws = {name: torch.rand(1000, generator=g) for name, g in generators.items()}
    for name, values in draws.items():
        assert not torch.equal(values, weights_words), name
    assert len({tuple(v[:5].tolist()) for v in draws.values()}) == 3
    again = training_generators(7, torch.device("cpu"))
    assert torch.equal(torch.rand(1000, generator=again["data"]), draws["data"])
    assert generators["data"].initial_seed() == stream(7, "image-data")


def test_the_showcase_is_planned_only_where_its_runs_are_in_the_grid(config):
    config["images"].update(datasets=["mnist5k", "fmnist5k"], models=["pixelhvae_2level-amim", "pixelhvae_2level-vae"],
                            priors=["vampprior"], seeds=[1])
    assert showcase_datasets(config) == ["mnist5k", "fmnist5k"]
    config["images"]["priors"] = ["standard"]
    assert showcase_datasets(config) == []
    config["images"]["priors"], config["images"]["models"] = ["vampprior"], ["pixelhvae_2level-vae"]
    assert showcase_datasets(config) == []
    config["images"]["models"] = ["pixelhvae_2level-amim", "pixelhvae_2level-vae"]
    config["images"]["showcase"]["rows"] = []
    assert showcase_datasets(config) == []


def test_the_showcase_figure_has_a_titled_column_per_panel_and_a_labelled_row_per_model():
    from mimflow.images.figures import SHOWCASE_COLUMNS, showcase_figure

    panel = np.ones((20, 30, 3))
    fig = showcase_figure([[panel] * 3, [panel * 0.5] * 3], ["MIM row", "VAE row"], "a title")
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == list(SHOWCASE_COLUMNS)
    assert [axes[r, 0].get_ylabel() for r in range(2)] == ["MIM row", "VAE row"]
    assert fig._suptitle.get_text() == "a title"
