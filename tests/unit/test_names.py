"""One source for every name: the config schema's name lists are filled from mimflow.names and the
registries (mimflow.registry) when the config is checked, and the settings checks and the workflow's
wildcard constraints read the same lists."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mimflow import names
from mimflow.datasets import DATASETS
from mimflow.images.settings import ImageRunConfig
from mimflow.lowdim.settings import LowdimRunConfig
from mimflow.metrics import METRICS
from mimflow.objectives import OBJECTIVES
from mimflow.registry import IMAGE_OBJECTIVES, image_models, model_color, model_label
from mimflow.workflow import fill_schema, wildcard_patterns

RAW = yaml.safe_load((Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml").read_text())
SCHEMA = fill_schema(RAW)
PROPS = {**SCHEMA["properties"], **{k: SCHEMA["$defs"][k] for k in ("fidelity", "lowdim_training")}}
EXPERIMENT = PROPS["experiments"]["additionalProperties"]["properties"]


def _literal_enums(node, path=""):
    if isinstance(node, dict):
        if "enum" in node:
            yield path
        for key, value in node.items():
            yield from _literal_enums(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _literal_enums(value, f"{path}[{i}]")


def test_the_schema_file_lists_no_names_itself():
    assert list(_literal_enums(RAW)) == []


def test_filled_schema_enums_are_the_names_and_registries():
    assert EXPERIMENT["datasets"]["additionalProperties"]["items"]["enum"] == OBJECTIVES.names()
    assert PROPS["plots"]["properties"]["stats_metrics"]["items"]["enum"] == METRICS.names()
    assert PROPS["lowdim_training"]["properties"]["act"]["enum"] == list(names.ACTIVATIONS)
    assert PROPS["fidelity"]["properties"]["mim_decoder_qx"]["enum"] == list(names.Q_X_FORMS)
    assert PROPS["images"]["properties"]["models"]["items"]["enum"] == image_models(names.ARCHS)
    assert EXPERIMENT["figures"]["items"]["enum"] == list(names.FIGURE_FAMILIES)
    assert set(PROPS["data"]["properties"]["sources"]["properties"]) == set(names.DATA_SOURCES)
    assert set(names.DOWNLOADED_IMAGE_DATASETS.values()) <= set(names.DATA_SOURCES)
    # every fidelity switch an objective names exists
    assert {o.beta_switch for o in OBJECTIVES.values() if o.beta_switch} <= set(PROPS["fidelity"]["properties"])


def test_schema_dataset_names_are_the_registered_families():
    pattern = EXPERIMENT["datasets"]["propertyNames"]["pattern"]
    for name in ["toy4", "toy4_20", "toyMIM", "toyVAE", "toyAE", "pca-fashion-mnist20"]:
        assert re.match(pattern, name), name
    for name in ["toy", "toyX", "pca-mnist2", "toy4_", "dynamic_mnist"]:
        assert not re.match(pattern, name), name
    assert all(any(f.matches(n) for f in DATASETS.values()) for n in ["toy4", "toyMIM", "pca-fashion-mnist20"])


def test_every_objective_has_a_loss_and_a_label():
    assert OBJECTIVES.names() == ["mim", "amim", "mim-minusH", "vae", "vae-plusH", "ae"]
    assert {o.name for o in OBJECTIVES.values() if o.sampling_path} == {"mim", "mim-minusH"}
    assert all(callable(o.loss) and o.label for o in OBJECTIVES.values())
    assert model_label("mim-minusH") == "MIM − R_H" and model_color("vae") == "tab:red"
    assert model_label("unregistered") == "unregistered"


@pytest.mark.parametrize("wildcard, good, bad", [
    ("model", OBJECTIVES.names(), ["mim-", "MIM", "vae-plus"]),
    ("arch", list(names.ARCHS), ["convhvae", "pixelhvae_3level"]),
    ("objective", IMAGE_OBJECTIVES.names(), ["mim"]),
    ("prior", list(names.PRIORS), ["vamp"]),
    ("source", list(names.DATA_SOURCES), ["cifar"]),
    ("dataset", ["toy4", "toy4_20", "toyMIM", "pca-fashion-mnist20", *names.IMAGE_DATASETS], ["toyfoo", "mnist"]),
])
def test_wildcard_constraints_accept_exactly_the_names(wildcard, good, bad):
    pattern = wildcard_patterns({"experiments": {"toy2d": {}}})[wildcard]
    assert all(re.fullmatch(pattern, value) for value in good)
    assert not any(re.fullmatch(pattern, value) for value in bad)


def test_settings_dataclasses_check_against_the_names():
    with pytest.raises(ValueError, match="model 'mim2'"):
        LowdimRunConfig(dataset="toy4", model="mim2", z_dim=2, mid_dim=5, seed=1)
    with pytest.raises(ValueError, match="prior 'vamp'"):
        ImageRunConfig(dataset="dynamic_mnist", arch="convhvae_2level", objective="vae", prior="vamp", seed=1)
