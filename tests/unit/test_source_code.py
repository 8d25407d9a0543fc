"""The source a job runs (mimflow.core.source_code, mimflow.sources): which files, and their hash."""
from __future__ import annotations

from pathlib import Path

import pytest

from mimflow.core.source_code import (
    PACKAGE_ROOT,
    StageSource,
    code_digest,
    git_file_states,
    imports_of,
    module_file,
    script_job,
    stage_files,
)
from mimflow.plugins import configure
from mimflow.sources import SCRIPTS_DIR, stage_code, stage_source

REPO = PACKAGE_ROOT.parent


def names(files) -> set[str]:
    return {Path(f).resolve().relative_to(REPO).as_posix() for f in files}


def test_every_workflow_script_runs_the_job_function_of_its_name():
    scripts = sorted(SCRIPTS_DIR.glob("*.py"))
    assert len(scripts) >= 19
    for script in scripts:
        module, function = script_job(script)
        assert function == script.stem, script
        assert module_file(module) is not None


def test_relative_imports_resolve_to_modules_and_their_packages():
    found = imports_of(module_file("mimflow.objectives"))
    assert {"mimflow.objectives.mim", "mimflow.objectives.vae", "mimflow.registry", "mimflow"} <= found


def test_a_stage_runs_its_own_modules_and_not_the_other_stages():
    stop = frozenset({"mimflow.objectives.mim", "mimflow.objectives.vae"})
    train = names(stage_files(SCRIPTS_DIR / "train_lowdim.py", stop=stop))
    figures = names(stage_files(SCRIPTS_DIR / "run_figures.py", stop=stop))
    evaluate = names(stage_files(SCRIPTS_DIR / "evaluate_lowdim.py", stop=stop))
    assert {"workflow_scripts/train_lowdim.py", "mimflow/jobs/lowdim.py", "mimflow/lowdim/train.py",
            "mimflow/lowdim/stacked.py", "mimflow/lowdim/model.py", "mimflow/datasets.py"} <= train
    assert not {"mimflow/lowdim/figures.py", "mimflow/lowdim/evaluate.py", "mimflow/objectives/mim.py",
                "mimflow/objectives/vae.py", "workflow_scripts/run_figures.py"} & train
    assert "mimflow/lowdim/figures.py" in figures and "mimflow/lowdim/train.py" not in figures
    assert "mimflow/lowdim/evaluate.py" in evaluate and "mimflow/lowdim/figures.py" not in evaluate
    with_mim = names(stage_files(SCRIPTS_DIR / "train_lowdim.py", (module_file("mimflow.objectives.mim"),), stop))
    assert with_mim - train == {"mimflow/objectives/mim.py", "mimflow/core/losses.py"}  # and what it imports


def test_each_objective_is_in_its_own_runs_training_only():
    configure({})
    mim = names(stage_source("train_lowdim", {"model": "mim", "dataset": "toy4"}).files)
    vae = names(stage_source("train_lowdim", {"model": "vae", "dataset": "toy4"}).files)
    assert "mimflow/objectives/mim.py" in mim - vae and "mimflow/objectives/vae.py" in vae - mim
    figures = names(stage_source("run_figures", {"model": "mim", "dataset": "toy4"}).files)
    assert "mimflow/objectives/mim.py" not in figures
    image = names(stage_source("train_image", {"objective": "amim", "dataset": "mnist5k"}).files)
    assert "mimflow/images/objectives.py" in image and "mimflow/images/figures.py" not in image


def test_the_rule_param_is_the_stage_hash():
    configure({})

    class Wildcards(dict):
        pass

    wildcards = Wildcards(experiment="x", dataset="toy4", model="mim", z_dim="2", mid_dim="50")
    assert stage_code("train_lowdim")(wildcards) == stage_source("train_lowdim", wildcards).sha256
    assert stage_code("train_lowdim")(wildcards) != stage_code("evaluate_lowdim")(wildcards)


def test_the_hash_ignores_docstrings_and_comments_and_sees_code(tmp_path):
    file = tmp_path / "m.py"
    file.write_text('"""Module."""\nimport os\n\n\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n')
    before = code_digest(file)
    file.write_text('"""Other words."""\nimport os\n\n# a comment\ndef f(x):\n    """More."""\n    return x + 1\n')
    assert code_digest(file) == before
    file.write_text('"""Module."""\nimport os\n\n\ndef f(x):\n    """Doc."""\n    return x + 2\n')
    assert code_digest(file) != before
    file.write_text('import os\n\n\ndef f(x):\n    return x + 1\n')  # no docstring at all: same code
    assert code_digest(file) == before


def test_the_record_names_each_file_with_its_sha256_and_what_git_lacks(tmp_path):
    import hashlib

    plugin = tmp_path / "plugin.py"
    plugin.write_text("X = 1\n")
    tracked = module_file("mimflow.registry")
    record = StageSource((tracked, plugin)).record()
    assert record["files"]["mimflow/registry.py"] == hashlib.sha256(tracked.read_bytes()).hexdigest()
    assert record["untracked"] == [plugin.resolve().as_posix()] or record["untracked"] == ["plugin.py"]
    assert git_file_states([tracked]) in ({"modified": [], "untracked": []},
                                          {"modified": ["mimflow/registry.py"], "untracked": []})


@pytest.mark.parametrize("bad", ["mimflow.no_such_module", "numpy"])
def test_a_name_that_is_no_mimflow_module_has_no_file(bad):
    assert module_file(bad) is None


def test_forced_training_reaches_the_jobs_through_the_environment(monkeypatch):
    """--forcerun of a training rule (or --forceall) as the planning process announces it, and config
    retrain, are what a training job reads; any other rule forced, or none, retrains nothing."""
    from mimflow.core.retrain import FORCED_TRAINING_ENV, announce_forced_training
    from mimflow.jobs.context import JobContext

    monkeypatch.delenv(FORCED_TRAINING_ENV, raising=False)
    rules = ["train_lowdim", "train_lowdim_one_run", "train_image"]
    job = JobContext(rule="train_lowdim", input=None, output=None)
    assert job.retrain() == ""
    assert announce_forced_training(False, {"run_figures"}, rules) == set() and job.retrain() == ""
    assert announce_forced_training(False, {"train_lowdim", "stats_figure"}, rules) == {"train_lowdim"}
    assert job.retrain() == "--forcerun train_lowdim"
    assert JobContext(rule="train_lowdim_one_run", input=None, output=None).retrain() == ""
    announce_forced_training(True, set(), rules)
    assert JobContext(rule="train_image", input=None, output=None).retrain() == "--forceall"
    announce_forced_training(False, set(), rules)  # a later, unforced invocation clears it
    assert job.retrain() == ""
    assert JobContext(rule="train_lowdim", input=None, output=None, config={"retrain": True}).retrain() == \
        "config retrain=true"
