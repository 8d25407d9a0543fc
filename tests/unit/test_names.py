"""mimflow.names is the one list of names: the config schema, the settings checks and the workflow's
wildcard constraints must all agree with it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mimflow import names
from mimflow.images.settings import ImageRunConfig
from mimflow.lowdim.losses import OBJECTIVES
from mimflow.lowdim.settings import LowdimRunConfig
from mimflow.workflow import wildcard_patterns

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml").read_text())
PROPS = {**SCHEMA["properties"], **{k: SCHEMA["$defs"][k] for k in ("fidelity", "lowdim_training")}}
EXPERIMENT = PROPS["experiments"]["additionalProperties"]["properties"]


def test_schema_enums_equal_the_names_module():
    assert EXPERIMENT["datasets"]["additionalProperties"]["items"]["enum"] == list(names.LOWDIM_MODELS)
    assert PROPS["lowdim_training"]["properties"]["act"]["enum"] == list(names.ACTIVATIONS)
    assert PROPS["fidelity"]["properties"]["mim_decoder_qx"]["enum"] == list(names.Q_X_FORMS)
    assert PROPS["fidelity"]["properties"]["pca_fit"]["enum"] == list(names.PCA_FITS)
    for switch, values in [("mim_minus_h_beta", names.BETA_SCHEDULES), ("vae_plus_h_beta", names.BETA_SCHEDULES),
                           ("pca_sign", names.PCA_SIGNS), ("affine_geometry", names.AFFINE_GEOMETRIES),
                           ("non_finite_test_loss", names.NON_FINITE_POLICIES),
                           ("density_plane", names.DENSITY_PLANES)]:
        assert PROPS["fidelity"]["properties"][switch]["enum"] == list(values), switch
    assert PROPS["build_datasets"]["items"]["enum"] == list(names.IMAGE_DATASETS)
    images = PROPS["images"]["properties"]
    assert images["datasets"]["items"]["enum"] == list(names.IMAGE_DATASETS)
    assert images["models"]["items"]["enum"] == list(names.IMAGE_MODELS)
    assert images["priors"]["items"]["enum"] == list(names.PRIORS)
    assert EXPERIMENT["figures"]["items"]["enum"] == list(names.FIGURE_FAMILIES)
    assert set(PROPS["data"]["properties"]["sources"]["properties"]) == set(names.DATA_SOURCES)
    assert set(names.DOWNLOADED_IMAGE_DATASETS.values()) <= set(names.DATA_SOURCES)


def test_schema_dataset_pattern_equals_the_names_module():
    pattern = EXPERIMENT["datasets"]["propertyNames"]["pattern"]
    ours = f"^({names.TOY_DATASET_PATTERN}|{names.PCA_DATASET_PATTERN})$"
    for name in ["toy4", "toy4_20", "toyMIM", "toyVAE", "toyAE", "pca-fashion-mnist20", "toy", "toyX", "pca-mnist2",
                 "toy4_", "dynamic_mnist"]:
        assert bool(re.match(pattern, name)) == bool(re.match(ours, name)), name


def test_every_named_model_has_a_loss_and_a_label():
    assert set(OBJECTIVES) == set(names.LOWDIM_MODELS)
    assert {m for m, o in OBJECTIVES.items() if o.sampling_path} == names.SAMPLING_PATH_MODELS
    assert all(names.model_label(m) != m or m == names.LOWDIM_MODELS[m][0] for m in names.LOWDIM_MODELS)


@pytest.mark.parametrize("wildcard, good, bad", [
    ("model", list(names.LOWDIM_MODELS), ["mim-", "MIM", "vae-plus"]),
    ("arch", list(names.ARCHS), ["convhvae", "pixelhvae_3level"]),
    ("objective", list(names.IMAGE_OBJECTIVES), ["mim"]),
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
