"""Code is an input like data (mimflow.sources): an edit plans again exactly the jobs whose source it changes,
a forced training rule retrains, and provenance.json names the files a run ran with their sha256.

The workflow and the mimflow package are copied, and PYTHONPATH puts the copy first, so the edits below
reach both the planning process and the jobs without touching the repository.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from .conftest import REPO, SNAKEMAKE, copy_workflow

EXPERIMENT = "code_tracking"
CONFIG = {
    "plugins": ["docs/examples/beta_vae.py"],
    "vector_datasets": {"moons": {"path": "resources/own/moons.npz"}},
    "run_experiments": [EXPERIMENT],
    "build_datasets": [],
    "run_images": False,
    "seeds": [1],
    "experiments": {EXPERIMENT: {
        "description": "three objectives, one run each, for the code-tracking test",
        "datasets": {"moons": ["beta-vae", "vae", "mim"]},
        "z_dims": [2], "mid_dims": [20], "figures": ["stats", "runs"],
        "training": {"epochs": 2, "warmup_steps": 1},
    }},
}


def run_snakemake(workdir, *args, check=True):
    env = {**os.environ, "PYTHONPATH": str(workdir)}
    proc = subprocess.run([SNAKEMAKE, *args, "--configfile=code_tracking.yaml"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=3600)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def planned(workdir) -> set[tuple[str, str]]:
    """(rule, model) of every run job a dry run plans ((rule, path) for other jobs), from --summary."""
    lines = [line.split("\t") for line in run_snakemake(workdir, "--summary", "--cores", "1").stdout.splitlines()
             if "\t" in line]
    header = lines[0]
    jobs = set()
    for row in (dict(zip(header, fields)) for fields in lines[1:]):
        if row["plan"] == "no update":
            continue
        path = row["output_file"]
        model = path.split("/")[4] if path.startswith(f"results/runs/{EXPERIMENT}/") else path
        jobs.add((row["rule"], model))
    return jobs


def edit(path, old, new):
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.mark.workflow
def test_an_edit_plans_exactly_the_jobs_whose_source_it_changes(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    shutil.copytree(REPO / "mimflow", workdir / "mimflow", ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / "code_tracking.yaml").write_text(yaml.safe_dump(CONFIG))
    subprocess.run([sys.executable, "docs/examples/make_moons.py", "resources/own/moons.npz"], cwd=workdir,
                   check=True, capture_output=True)
    run_snakemake(workdir, "--cores", "2")
    assert planned(workdir) == set()

    # provenance names the plugin file and its sha256 (and the built-in objective a built-in run used)
    run = workdir / f"results/runs/{EXPERIMENT}/moons/beta-vae/z2-h20/seed1"
    source = json.loads((run / "provenance.json").read_text())["source"]
    plugin = workdir / "docs/examples/beta_vae.py"
    assert source["files"]["docs/examples/beta_vae.py"] == hashlib.sha256(plugin.read_bytes()).hexdigest()
    assert "mimflow/objectives/vae.py" not in source["files"] and "mimflow/lowdim/train.py" in source["files"]
    assert "docs/examples/beta_vae.py" in source["untracked"]  # the copy is in no git checkout
    vae_source = json.loads((run.parents[2] / "vae/z2-h20/seed1/provenance.json").read_text())["source"]
    assert "mimflow/objectives/vae.py" in vae_source["files"] and "mimflow/objectives/mim.py" not in vae_source["files"]

    # a comment or docstring is no code: nothing to do
    edit(workdir / "mimflow/objectives/vae.py", '"""', '"""A docstring edit. ')
    (workdir / "mimflow/lowdim/figures.py").write_text((workdir / "mimflow/lowdim/figures.py").read_text() + "# note\n")
    assert planned(workdir) == set()

    # the plugin's loss: its run trains again, and what follows from it; no other run
    edit(plugin, "kl_weight * beta * (t.", "1.0 * kl_weight * beta * (t.")
    jobs = planned(workdir)
    assert {model for rule, model in jobs if rule.startswith("train_lowdim")} == {"beta-vae"}, jobs
    assert {rule for rule, model in jobs if model in ("vae", "mim")} == set(), jobs
    run_snakemake(workdir, "--cores", "2")
    assert planned(workdir) == set()

    # a built-in objective's module: its runs' training, not the other objective's
    edit(workdir / "mimflow/objectives/vae.py", "def ", "_EDITED = True\n\n\ndef ")
    jobs = planned(workdir)
    assert {model for rule, model in jobs if rule.startswith("train_lowdim")} == {"vae"}, jobs
    run_snakemake(workdir, "--cores", "2")
    vae_log = (workdir / f"results/logs/train_lowdim/{EXPERIMENT}/moons/vae/z2-h20.log").read_text()
    assert "was written for other settings or code: starting afresh" in vae_log, vae_log  # not re-emitted

    # a per-run figure module: the figure jobs only
    edit(workdir / "mimflow/lowdim/figures.py", "\nimport matplotlib", "\n_EDITED = True\nimport matplotlib")
    jobs = planned(workdir)
    assert jobs and {rule for rule, model in jobs} == {"run_figures"}, jobs
    assert {model for rule, model in jobs} == {"beta-vae", "vae", "mim"}
    run_snakemake(workdir, "--cores", "2")

    # --forcerun of the training rule retrains (a finished resume.pt does not stand for the run)
    train_log = workdir / f"results/logs/train_lowdim/{EXPERIMENT}/moons/mim/z2-h20.log"
    proc = run_snakemake(workdir, "--cores", "2", "--forcerun", "train_lowdim")
    text = train_log.read_text()
    assert "retraining: a finished resume.pt does not stand for its run (--forcerun train_lowdim)" in text, text
    assert "kept from its finished resume.pt" not in text.split("retraining:")[-1]
    assert proc.returncode == 0
    # without forcing, the training job run again (its model.pt deleted and asked for) keeps the finished state
    model = f"results/runs/{EXPERIMENT}/moons/mim/z2-h20/seed1/model.pt"
    (workdir / model).unlink()
    run_snakemake(workdir, "--cores", "2", model)
    text = train_log.read_text()
    assert "kept from its finished resume.pt, not retrained" in text and "retraining" not in text, text
