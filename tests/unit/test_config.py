"""The workflow config: schema validation with one-line errors, run settings and experiment grids."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from mimflow.core.provenance import settings_hash
from mimflow.lowdim.settings import EvaluationConfig, LowdimRunConfig
from mimflow.workflow import (
    ConfigError,
    check_config,
    experiment_runs,
    lowdim_run_settings,
    run_dir,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATH = REPO_ROOT / "config.yaml"
SCHEMA_PATH = REPO_ROOT / "schemas" / "config.schema.yaml"


@pytest.fixture(scope="module")
def base_config() -> dict:
    return yaml.safe_load(CONFIG_PATH.read_text())


@pytest.fixture
def config(base_config) -> dict:
    return copy.deepcopy(base_config)


def config_error(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        check_config(config, SCHEMA_PATH)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_repository_config_passes(config):
    check_config(config, SCHEMA_PATH)


def test_presets_pass(config):
    for preset in sorted((REPO_ROOT / "presets").glob("*.yaml")):
        merged = copy.deepcopy(config)
        _deep_update(merged, yaml.safe_load(preset.read_text()) or {})
        check_config(merged, SCHEMA_PATH)


def _deep_update(base: dict, override: dict) -> None:
    # Snakemake's --configfile merges nested mappings key by key
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value


def test_bad_dataset_name(config):
    config["experiments"]["toy2d"]["datasets"]["toy4x"] = ["mim", "vae"]
    message = config_error(config)
    assert "experiments.toy2d.datasets" in message and "toy4x" in message


def test_zero_z_dim(config):
    config["experiments"]["toy2d"]["z_dims"] = [0]
    message = config_error(config)
    assert "experiments.toy2d.z_dims[0]" in message and "value 0" in message and ">= 1" in message


def test_negative_epochs(config):
    config["lowdim_training"]["epochs"] = -5
    message = config_error(config)
    assert "lowdim_training.epochs" in message and "-5" in message and ">= 1" in message


def test_bad_experiment_training_override(config):
    config["experiments"]["animation"]["training"]["warmup_steps"] = 0
    message = config_error(config)
    assert "experiments.animation.training.warmup_steps" in message and ">= 1" in message


def test_misspelled_key(config):
    config["lowdim_training"]["epoch"] = config["lowdim_training"].pop("epochs")
    message = config_error(config)
    assert "lowdim_training" in message and "['epoch']" in message and "unknown" in message


def test_unknown_model(config):
    config["experiments"]["toy2d"]["datasets"]["toy4"] = ["mim", "iwae"]
    message = config_error(config)
    assert "experiments.toy2d.datasets.toy4[1]" in message and "iwae" in message and "vae-plusH" in message


def test_bad_fidelity_switch(config):
    config["fidelity"]["mim_decoder_qx"] = "2020"
    message = config_error(config)
    assert "fidelity.mim_decoder_qx" in message and "2020" in message
    assert "2019" in message and "importance" in message


def test_undefined_run_experiment(config):
    config["run_experiments"] = ["toy2d", "toy3d"]
    message = config_error(config)
    assert "run_experiments" in message and "toy3d" in message and "toy2d_entropy" in message


def test_lowdim_run_settings_merge(config):
    s = lowdim_run_settings(config, "animation", "toyMIM", "mim", "2", "50", "1")
    assert (s["epochs"], s["warmup_steps"]) == (49, 25)
    assert (s["batch_size"], s["lr"], s["act"], s["dataset_size"]) == (128, 0.001, "tanh", 10000)
    assert (s["dataset"], s["model"], s["z_dim"], s["mid_dim"], s["seed"]) == ("toyMIM", "mim", 2, 50, 1)
    assert s["mim_decoder_qx"] == "importance"  # the animation experiment's override (the 2020 GIFs)
    assert lowdim_run_settings(config, "toy2d", "toy4", "mim", 2, 5, 3)["mim_decoder_qx"] == "2019"
    assert lowdim_run_settings(config, "toy2d_entropy", "toy4", "mim-minusH", 2, 5, 3)["beta_schedule"] == "constant"
    assert lowdim_run_settings(config, "toy2d_entropy", "toy4", "vae-plusH", 2, 5, 3)["beta_schedule"] == "warmup"
    assert "beta_schedule" not in lowdim_run_settings(config, "toy2d", "toy4", "vae", 2, 5, 3)
    run = LowdimRunConfig.from_dict(s)
    assert run.epochs == 49 and run.warmup_steps == 25

    plain = lowdim_run_settings(config, "toy2d", "toy4", "vae", 2, 5, 3)
    assert (plain["epochs"], plain["warmup_steps"]) == (200, 3)

    config["fidelity"]["mim_decoder_qx"] = "importance"
    assert lowdim_run_settings(config, "toy2d", "toy4", "mim", 2, 5, 3)["mim_decoder_qx"] == "importance"
    assert config["lowdim_training"]["epochs"] == 200  # the merge does not mutate the config
    with pytest.raises(ConfigError, match="toy3d"):
        lowdim_run_settings(config, "toy3d", "toy4", "mim", 2, 5, 3)


def test_experiment_runs(config):
    toy2d = list(experiment_runs(config, "toy2d"))
    assert len(toy2d) == 160
    assert len({tuple(sorted(r.items())) for r in toy2d}) == 160
    assert {r["model"] for r in toy2d} == {"mim", "vae"}
    assert {r["mid_dim"] for r in toy2d} == {5, 20, 50, 100, 200, 300, 400, 500}
    assert {r["seed"] for r in toy2d} == set(range(1, 11))
    bottleneck = list(experiment_runs(config, "bottleneck_toy4_20"))
    assert len(bottleneck) == 200
    assert {r["z_dim"] for r in bottleneck} == set(range(2, 21, 2))
    animation = list(experiment_runs(config, "animation"))
    assert sorted((r["dataset"], r["model"], r["seed"]) for r in animation) == \
        [("toyAE", "ae", 1), ("toyMIM", "mim", 1), ("toyVAE", "vae", 1)]
    assert run_dir(**toy2d[0]).startswith("results/runs/toy2d/toy4/")


def test_settings_hash_is_order_free_and_sensitive(config):
    a = lowdim_run_settings(config, "toy2d", "toy4", "mim", 2, 5, 3)
    b = dict(reversed(list(a.items())))
    assert settings_hash(a) == settings_hash(b)
    assert settings_hash(a) != settings_hash({**a, "seed": 4})


def test_run_config_from_dict_validation():
    base = dict(dataset="toy4", model="mim", z_dim=2, mid_dim=5, seed=1)
    assert LowdimRunConfig.from_dict(base) == LowdimRunConfig(**base)
    with pytest.raises(ValueError, match="unknown run setting"):
        LowdimRunConfig.from_dict({**base, "epoch": 3})
    with pytest.raises(ValueError, match="z_dim must be >= 1"):
        LowdimRunConfig.from_dict({**base, "z_dim": 0})
    with pytest.raises(ValueError, match="mim_decoder_qx"):
        LowdimRunConfig.from_dict({**base, "mim_decoder_qx": "2020"})
    cfg = LowdimRunConfig.from_dict(base)
    assert LowdimRunConfig.from_dict(cfg.to_dict()) == cfg


def test_evaluation_config_from_yaml(config):
    ev = EvaluationConfig.from_dict(config["evaluation"])
    assert ev == EvaluationConfig(ksg_k=5, ksg_max_points=10000, knn_neighbors=(1, 3, 5, 10))


def test_command_line_strings_are_coerced_to_the_schema_types(config):
    """`snakemake --config seeds=[1,2,3] run_images=false` hands the config strings (YAML BaseLoader)."""
    cfg = copy.deepcopy(config)
    cfg.update(seeds=["1", "2", "3"], run_images="false")
    cfg["experiments"]["toy2d"]["z_dims"] = ["2"]
    cfg["lowdim_training"] = {**cfg["lowdim_training"], "lr": "1e-3"}
    check_config(cfg, SCHEMA_PATH)
    assert cfg["seeds"] == [1, 2, 3] and cfg["run_images"] is False
    assert cfg["experiments"]["toy2d"]["z_dims"] == [2] and cfg["lowdim_training"]["lr"] == 0.001
    cfg["seeds"] = ["one"]
    with pytest.raises(ConfigError, match=r"config key seeds\[0\]: value 'one' is not allowed"):
        check_config(cfg, SCHEMA_PATH)


def test_dataset_switches_cannot_be_overridden_per_experiment(config):
    config["experiments"]["bottleneck_fmnist20"]["fidelity"] = {"pca_sign": "sklearn-1.9"}
    message = config_error(config)
    assert "experiments.bottleneck_fmnist20.fidelity.pca_sign" in message and "globally" in message


def test_a_batch_size_that_cannot_stack_is_said_at_planning(config):
    from mimflow.workflow import planning_notes

    check_config(config, SCHEMA_PATH)
    assert planning_notes(config) == []  # the paper's 128 stacks
    name = config["run_experiments"][0]
    config["experiments"][name].setdefault("training", {})["batch_size"] = 120
    config["seeds"] = [1, 2, 3]
    check_config(config, SCHEMA_PATH)
    assert planning_notes(config) == [
        f"mimflow: experiment {name}: batch_size 120 is not a multiple of 32, so its 3 seeds train one by one in "
        "their group job (the same numbers, more time; docs/architecture.md)"]
    config["seeds"] = [1]
    assert planning_notes(config) == []  # one seed: nothing to stack
