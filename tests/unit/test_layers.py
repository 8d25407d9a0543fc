"""The house's layers: no import circle inside mimflow, image objectives open to plugins like the
low-dimensional ones, and the job layer's failure policy and context without Snakemake."""
from __future__ import annotations

import ast
import copy
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from mimflow.core.failures import FAILURE_FILE, RunFailure
from mimflow.jobs import JobContext
from mimflow.jobs.failures import FailedRuns
from mimflow.plugins import forget_plugin, load_plugins
from mimflow.registry import IMAGE_OBJECTIVES
from mimflow.workflow import ConfigError, check_config, image_run_settings, wildcard_patterns

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "mimflow"
SCHEMA = REPO_ROOT / "schemas" / "config.schema.yaml"
IMAGE_PLUGIN = "docs/examples/image_beta_vae.py"


# --- one direction: no import circle -------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_arrows() -> dict[str, set[str]]:
    """module -> the package modules it imports, lazy (function-local) imports included, those under
    `if TYPE_CHECKING:` left out."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    arrows: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        nodes = [ast.parse(path.read_text())]
        while nodes:
            node = nodes.pop()
            if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
                nodes.extend(node.orelse)
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            arrows[name].update(t for t in targets if t in modules and t != name)
            nodes.extend(ast.iter_child_nodes(node))
    return arrows


def _circles(arrows: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in arrows[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                members.add(w)
                if w == v:
                    break
            if len(members) > 1:
                found.append(members)

    for v in arrows:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_in_the_package():
    arrows = _import_arrows()
    assert arrows["mimflow.names"] == set()  # constants only
    assert arrows["mimflow.registry"] == {"mimflow.names"}  # the kernel knows nothing above it: constants only
    assert _circles(arrows) == []


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


# --- an image objective is one plugin file plus config lines -------------------------------------------------


@pytest.fixture
def config() -> dict:
    return copy.deepcopy(yaml.safe_load((REPO_ROOT / "config.yaml").read_text()))


@pytest.fixture
def image_plugin(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    load_plugins([IMAGE_PLUGIN])
    yield IMAGE_OBJECTIVES["bvae"]
    IMAGE_OBJECTIVES.unregister("bvae")  # leave the registry as the built-ins made it
    forget_plugin(IMAGE_PLUGIN)


def test_a_plugin_file_registers_an_image_objective(image_plugin, config):
    config["plugins"] = [IMAGE_PLUGIN]
    config["images"]["models"] = ["convhvae_2level-bvae", "convhvae_2level-vae"]
    config["images"]["objective_settings"] = {"bvae": {"kl_weight": 1.0}}
    check_config(config, SCHEMA)
    assert re.fullmatch(wildcard_patterns(config)["objective"], "bvae")
    settings = image_run_settings(config, "mnist5k", "convhvae_2level", "bvae", "standard", 1)
    assert settings["objective_settings"] == {"kl_weight": 1.0}
    assert "objective_settings" not in image_run_settings(config, "mnist5k", "convhvae_2level", "vae", "standard", 1)

    config["images"]["objective_settings"] = {"bvae": {"weight": 1.0}}
    with pytest.raises(ConfigError, match=r"^config key images.objective_settings.bvae: unknown setting 'weight'; "
                                          r"allowed: \['kl_weight'\]$"):
        check_config(config, SCHEMA)


def test_an_unregistered_image_model_is_one_line(config):
    config["images"]["models"] = ["convhvae_2level-bvae"]
    with pytest.raises(ConfigError) as info:
        check_config(config, SCHEMA)
    assert "'convhvae_2level-bvae'" in str(info.value) and "convhvae_2level-amim" in str(info.value)
    assert "\n" not in str(info.value)


def test_the_image_plugin_at_weight_one_is_the_vae_bit_for_bit(image_plugin):
    from mimflow.images.losses import image_loss
    from tests.unit.test_hvae import binary_images, make_model

    model = make_model("convhvae_2level", "standard")
    x = binary_images(4)
    vae, vae_terms = image_loss(model, x, "vae", 0.5, torch.Generator().manual_seed(3))
    same, same_terms = image_loss(model, x, "bvae", 0.5, torch.Generator().manual_seed(3), {"kl_weight": 1.0})
    heavy, _ = image_loss(model, x, "bvae", 0.5, torch.Generator().manual_seed(3))  # the default kl_weight 4
    assert torch.equal(vae, same) and torch.equal(vae_terms["loss"], same_terms["loss"])
    assert torch.allclose(heavy - vae, 0.5 * 3.0 * vae_terms["kl"].mean())


# --- the job layer without Snakemake -------------------------------------------------------------------------


def _failure(tmp_path, seed):
    return RunFailure((tmp_path / f"seed{seed}").as_posix(), "train", f"non-finite loss at epoch {seed}")


def test_failed_runs_stop_records_and_fails_the_job_naming_each(tmp_path):
    policy, written = FailedRuns("stop", logging.getLogger("test")), []
    policy.add(_failure(tmp_path, 1), lambda: written.append(1))
    policy.add(_failure(tmp_path, 2), lambda: written.append(2))
    assert written == [] and (tmp_path / "seed1" / FAILURE_FILE).is_file()
    with pytest.raises(SystemExit) as info:
        policy.finish()
    message = str(info.value.code)
    assert "\n" not in message and "seed1 failed in train" in message and "seed2 failed in train" in message
    assert message.endswith("set failed_runs: record (docs/faults.md)")


def test_failed_runs_record_writes_stand_ins_and_the_job_succeeds(tmp_path):
    policy, written = FailedRuns("record", logging.getLogger("test")), []
    policy.add(_failure(tmp_path, 3), lambda: written.append(3))
    assert written == [3] and (tmp_path / "seed3" / FAILURE_FILE).is_file()
    policy.finish()  # no exit
    FailedRuns("stop", logging.getLogger("test")).finish()  # nothing failed: no exit
    with pytest.raises(ValueError, match="failed_runs 'keep' is not one of"):
        FailedRuns("keep", logging.getLogger("test"))


def test_a_job_runs_from_plain_inputs(tmp_path):
    """The experiment-table job, given plain lists instead of Snakemake's objects."""
    from mimflow.jobs.tables import experiment_table

    run = tmp_path / "results/runs/toy2d/toy4/mim/z2-h5/seed1"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text('{"MI_ksg": 1.5, "H_q_x": 2.0}')
    (run / "provenance.json").write_text('{"settings": {"run": {"epochs": 3}}}')
    output = SimpleNamespace(runs=str(tmp_path / "runs.csv"), summary=str(tmp_path / "summary.csv"),
                             page=str(tmp_path / "summary.html"))
    job = JobContext("experiment_table", input=SimpleNamespace(metrics=[str(run / "metrics.json")]), output=output,
                     wildcards=SimpleNamespace(experiment="toy2d"), log_file=str(tmp_path / "job.log")).setup()
    experiment_table(job)
    assert "MI_ksg" in Path(output.summary).read_text() and "1 runs, 1 groups" in (tmp_path / "job.log").read_text()
    assert "<h1>Experiment toy2d</h1>" in Path(output.page).read_text()
