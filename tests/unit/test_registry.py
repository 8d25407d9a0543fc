"""The extension points: registries, plugins by config, objective settings, and one's own vectors."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mimflow.data.vectors import VectorFileError, VectorSource, load_vectors
from mimflow.datasets import DATASETS, dataset_family
from mimflow.lowdim.settings import LowdimRunConfig
from mimflow.objectives import OBJECTIVES
from mimflow.plugins import forget_plugin, load_plugins
from mimflow.registry import Registry, register_objective
from mimflow.workflow import ConfigError, check_config, dataset_file, lowdim_run_settings, wildcard_patterns

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = REPO_ROOT / "schemas" / "config.schema.yaml"
EXAMPLE_PLUGIN = "docs/examples/beta_vae.py"


@pytest.fixture
def config() -> dict:
    return copy.deepcopy(yaml.safe_load((REPO_ROOT / "config.yaml").read_text()))


@pytest.fixture
def example_plugin(monkeypatch):
    """The documented beta-VAE plugin, loaded from its file (relative to the repository root)."""
    monkeypatch.chdir(REPO_ROOT)
    load_plugins([EXAMPLE_PLUGIN])
    yield OBJECTIVES["beta-vae"]
    # leave the registry as the built-ins made it, so no other test sees the plugin
    OBJECTIVES.unregister("beta-vae")
    forget_plugin(EXAMPLE_PLUGIN)


def one_line_error(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        check_config(config, SCHEMA)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_registry_names_unknown_and_doubled_entries():
    registry = Registry("widget")
    registry.register(type("W", (), {"name": "a"})())
    with pytest.raises(ValueError, match=r"widget 'b' is not registered; registered: \['a'\]"):
        registry["b"]
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        registry.register(type("W", (), {"name": "a"})())


def test_builtin_objective_cannot_be_registered_again():
    with pytest.raises(ValueError, match="objective 'mim' is registered twice"):
        register_objective("mim", lambda t, beta: t)


def test_a_plugin_file_registers_an_objective_with_its_settings(example_plugin, config):
    assert example_plugin.settings == {"kl_weight": 4.0} and example_plugin.label == "β-VAE"
    config["plugins"] = [EXAMPLE_PLUGIN]
    config["experiments"]["toy2d"]["datasets"]["toy4"].append("beta-vae")
    config["experiments"]["toy2d"]["objective_settings"] = {"beta-vae": {"kl_weight": 2}}
    check_config(config, SCHEMA)
    settings = lowdim_run_settings(config, "toy2d", "toy4", "beta-vae", 2, 50, 1)
    assert settings["objective_settings"] == {"kl_weight": 2}
    assert "objective_settings" not in lowdim_run_settings(config, "toy2d", "toy4", "vae", 2, 50, 1)
    assert re.fullmatch(wildcard_patterns(config)["model"], "beta-vae")
    cfg = LowdimRunConfig.from_dict(settings)
    assert cfg.objective_settings == {"kl_weight": 2}


def test_the_plugin_loss_weights_the_kl_term(example_plugin):
    from mimflow.lowdim.model import PathTerms

    terms = PathTerms(*(torch.tensor([v]) for v in (1.0, -2.0, -0.5, -1.5, -3.0, 0.0)))
    vae = OBJECTIVES["vae"].loss(terms, 0.5)
    beta_vae = example_plugin.loss(terms, 0.5, kl_weight=3.0)
    kl = terms.log_q_z_given_x - terms.log_p_z
    assert torch.allclose(beta_vae - vae, 0.5 * (3.0 - 1.0) * kl)


def test_objective_settings_errors_name_the_bad_value(example_plugin, config):
    config["plugins"] = [EXAMPLE_PLUGIN]
    bad = copy.deepcopy(config)
    bad["objective_settings"] = {"beta-vae": {"weight": 2}}
    assert "objective_settings.beta-vae: unknown setting 'weight'; allowed: ['kl_weight']" in one_line_error(bad)
    bad = copy.deepcopy(config)
    bad["objective_settings"] = {"beta-vae": {"kl_weight": "big"}}
    assert "kl_weight: value 'big' is not allowed; allowed: a value of type float" in one_line_error(bad)
    bad = copy.deepcopy(config)
    bad["objective_settings"] = {"gamma-vae": {}}
    assert "objective 'gamma-vae' is not registered" in one_line_error(bad)
    bad = copy.deepcopy(config)
    bad["objective_settings"] = {"vae": {"kl_weight": 1.0}}
    assert "none (this objective has no settings)" in one_line_error(bad)


def test_unknown_objective_in_an_experiment_lists_the_registered(config):
    config["experiments"]["toy2d"]["datasets"]["toy4"] = ["gamma-vae"]
    message = one_line_error(config)
    assert "experiments.toy2d.datasets.toy4[0]: value 'gamma-vae' is not allowed; allowed: one of mim" in message


def test_a_plugin_that_cannot_be_imported_is_one_line(config):
    config["plugins"] = ["no_such_module_xyz"]
    assert "plugin 'no_such_module_xyz' cannot be imported" in one_line_error(config)
    config["plugins"] = ["missing/plugin.py"]
    assert "plugin 'missing/plugin.py' cannot be imported (no file" in one_line_error(config)


def test_duplicate_seeds_are_rejected(config):
    config["seeds"] = [1, 1]
    assert one_line_error(config) == ("config key seeds: value [1, 1] is not allowed; allowed: distinct values "
                                      "(each at most once)")
    config["seeds"] = [1]
    config["experiments"]["toy2d"]["seeds"] = [2, 3, 2]
    assert "experiments.toy2d.seeds: value [2, 3, 2] is not allowed" in one_line_error(config)


# ---- one's own vectors -----------------------------------------------------------------------------------

def write_vectors(path: Path, **override) -> Path:
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.normal(size=(300, 3)), y_train=rng.integers(0, 2, 300),
                  x_test=rng.normal(size=(200, 3)), y_test=rng.integers(0, 2, 200))
    arrays.update(override)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_vector_file_loads_and_streams_shuffled_whole_batches(tmp_path):
    data = load_vectors(write_vectors(tmp_path / "v.npz"))
    assert data["x_train"].dtype == torch.float32 and data["y_test"].dtype == torch.int64
    source = VectorSource(data, batch_size=128)
    x, y = source.train_pass(torch.Generator().manual_seed(1))
    assert x.shape == (256, 3) and y.shape == (256,) and source.x_dim == 3
    assert source.true_log_prob(x) is None
    # every training vector drawn is one of the file's, with its own label
    rows = {tuple(r): int(l) for r, l in zip(data["x_train"].tolist(), data["y_train"].tolist())}
    assert all(rows[tuple(r)] == int(l) for r, l in zip(x.tolist(), y.tolist()))
    x2, _ = source.train_pass(torch.Generator().manual_seed(2))
    assert not torch.equal(x, x2)


@pytest.mark.parametrize("override, message", [
    (dict(y_test=None), r"array\(s\) \['y_test'\] missing"),
    (dict(x_train=np.zeros(300)), r"x_train has shape \(300,\); needs \(n, d\)"),
    (dict(x_test=np.full((200, 3), np.nan)), "x_test holds 600 non-finite value"),
    (dict(y_train=np.zeros(299, dtype=int)), r"y_train has shape \(299,\); needs \(300,\)"),
    (dict(y_train=np.zeros(300)), "y_train has dtype float64; needs integer labels"),
    (dict(x_test=np.zeros((200, 4))), "x_test has 4 columns, x_train 3"),
    (dict(x_train=np.array([["a"] * 3] * 300)), "x_train has dtype <U1; needs real numbers"),
])
def test_a_bad_vector_file_names_the_array(tmp_path, override, message):
    path = write_vectors(tmp_path / "v.npz", **override)
    with pytest.raises(VectorFileError, match=message) as info:
        load_vectors(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_vector_file_that_is_no_npz_or_too_small(tmp_path):
    (tmp_path / "bad.npz").write_text("not an archive")
    with pytest.raises(VectorFileError, match="not a readable .npz file"):
        load_vectors(tmp_path / "bad.npz")
    with pytest.raises(VectorFileError, match="no such file"):
        load_vectors(tmp_path / "none.npz")
    with pytest.raises(VectorFileError, match="x_test has 200 rows, fewer than one batch"):
        VectorSource(load_vectors(write_vectors(tmp_path / "v.npz")), batch_size=256)


def test_vector_datasets_by_config(tmp_path, config):
    path = write_vectors(tmp_path / "mine.npz")
    config["vector_datasets"] = {"mine": {"path": str(path)}}
    config["experiments"]["toy2d"]["datasets"]["mine"] = ["vae"]
    check_config(config, SCHEMA)
    assert dataset_family("mine").name == "vectors:mine" and not dataset_family("mine").density
    assert re.fullmatch(wildcard_patterns(config)["dataset"], "mine")
    settings = lowdim_run_settings(config, "toy2d", "mine", "vae", 2, 50, 1)
    assert "dataset_size" not in settings
    assert dataset_file("mine", settings) == str(path)
    from mimflow.lowdim.data import lowdim_source

    source = lowdim_source(LowdimRunConfig.from_dict(settings), str(path))
    assert isinstance(source, VectorSource) and source.x_dim == 3
    DATASETS.unregister("vectors:mine")


def test_an_unconfigured_dataset_lists_the_families(config):
    config["experiments"]["toy2d"]["datasets"]["mine2"] = ["vae"]
    message = one_line_error(config)
    assert message.startswith("config key experiments.toy2d.datasets: value 'mine2' is not allowed; allowed: toy<k>")
    assert message.endswith("or a file of one's own vectors named under vector_datasets")


def test_a_plugin_objective_trains_and_at_weight_one_is_the_vae_bit_for_bit(example_plugin):
    from mimflow.lowdim.train import train_lowdim_runs

    base = dict(dataset="toy4", z_dim=2, mid_dim=8, seed=1, epochs=3, warmup_steps=1, dataset_size=256)

    def trained(model, **settings):
        cfg = LowdimRunConfig(model=model, objective_settings=settings, **base)
        (outcome,) = train_lowdim_runs([cfg])
        return outcome.model.state_dict(), [r.train_loss for r in outcome.result.history]

    vae, vae_losses = trained("vae")
    same, same_losses = trained("beta-vae", kl_weight=1.0)
    heavy, heavy_losses = trained("beta-vae", kl_weight=4.0)
    assert same_losses == vae_losses and all(torch.equal(vae[k], same[k]) for k in vae)
    assert heavy_losses != vae_losses


def test_planning_imports_no_torch():
    """The registries, the documented plugin and the config check import no torch (a fresh interpreter)."""
    import subprocess
    import sys

    code = (
        "import sys, yaml\n"
        "from mimflow.workflow import check_config, wildcard_patterns\n"
        "config = yaml.safe_load(open('config.yaml'))\n"
        "config['plugins'] = ['docs/examples/beta_vae.py']\n"
        "check_config(config, 'schemas/config.schema.yaml')\n"
        "wildcard_patterns(config)\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'sklearn', 'matplotlib') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def planning_error_with_vectors(config, path) -> str:
    """The one-line planning error of a config whose planned experiment toy2d trains on the vector file `path`
    (registered as dataset "mine")."""
    config["vector_datasets"] = {"mine": {"path": str(path)}}
    config["experiments"]["toy2d"]["datasets"]["mine"] = ["vae"]
    config["run_experiments"] = ["toy2d"]
    try:
        return one_line_error(config)
    finally:
        DATASETS.unregister("vectors:mine")


@pytest.mark.parametrize("override, message", [
    (dict(x_train=np.full((300, 3), np.nan)), "x_train holds 900 non-finite value(s)"),
    (dict(y_test=np.zeros(199, dtype=int)), "y_test has shape (199,); needs (200,)"),
    (dict(x_test=np.zeros((100, 3)), y_test=np.zeros(100, dtype=int)), "x_test has 100 row(s); needs at least 128"),
])
def test_a_bad_vector_file_stops_planning_in_one_line(tmp_path, config, override, message):
    """A planned experiment's vector file is checked when the config is (the dry run), not in its jobs."""
    path = write_vectors(tmp_path / "mine.npz", **override)
    error = planning_error_with_vectors(config, path)
    assert error.startswith(f"config key vector_datasets.mine.path: vector dataset {path}: ") and message in error
    # the same file is not read while no planned experiment uses it
    config["run_experiments"] = [e for e in config["experiments"] if e != "toy2d"][:1]
    check_config(config, SCHEMA)
    DATASETS.unregister("vectors:mine")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_a_truncated_vector_file_stops_planning_in_one_line_naming_it(tmp_path, config, keep):
    """A file cut short (a copy interrupted): one line naming the config key and the file, no traceback."""
    path = write_vectors(tmp_path / "mine.npz")
    whole = path.read_bytes()
    path.write_bytes(whole[:int(len(whole) * keep)])
    error = planning_error_with_vectors(config, path)
    assert error.startswith(f"config key vector_datasets.mine.path: vector dataset {path}: not a readable .npz "
                            "file (") and "truncated or corrupt" in error


def test_only_the_settings_a_dataset_reads_are_recorded():
    """Provenance and tables show a run's settings without those its data never read: the toy pass size for
    files of vectors and PCA data, the PCA switches for toy data and vectors."""
    from mimflow.datasets import register_vector_datasets
    from mimflow.lowdim.settings import LowdimRunConfig

    register_vector_datasets({"mine": {"path": "mine.npz"}})
    try:
        recorded = {name: set(LowdimRunConfig(dataset=name, model="vae", z_dim=2, mid_dim=5, seed=1).recorded())
                    for name in ("toy4", "pca-fashion-mnist20", "mine")}
    finally:
        DATASETS.unregister("vectors:mine")
    pca = {"pca_fit", "pca_sign", "affine_geometry"}
    assert "dataset_size" in recorded["toy4"] and not pca & recorded["toy4"]
    assert "dataset_size" not in recorded["pca-fashion-mnist20"] and pca <= recorded["pca-fashion-mnist20"]
    assert not ({"dataset_size"} | pca) & recorded["mine"] and {"z_dim", "batch_size", "seed"} <= recorded["mine"]


def test_a_malformed_vector_dataset_entry_is_one_line(config):
    config["vector_datasets"] = {"mine": "data/mine.npz"}
    assert one_line_error(config).startswith("config key vector_datasets: value {'mine': 'data/mine.npz'} is not "
                                             "allowed; allowed: a mapping of dataset name -> {path: an .npz file}")
