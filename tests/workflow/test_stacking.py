"""Seed groups through real Snakemake (issue 14): a run's metrics.json is byte-identical whatever seeds it
trained with, and adding a seed trains only that seed."""
from __future__ import annotations

import pytest

import json

import torch
import yaml

from .conftest import copy_workflow, snakemake

pytestmark = pytest.mark.workflow  # runs real Snakemake jobs: not in make test-fast

GROUP = "toy2d/toy4/vae/z2-h5"
RUN3 = f"results/runs/{GROUP}/seed3"
# Long enough for the seeds to stop early at different epochs, so the stack shrinks mid-run.
SETTINGS = {"lowdim_training": {"epochs": 30, "warmup_steps": 1, "dataset_size": 256},
            "experiments": {"toy2d": {"mid_dims": [5]}}}


def workflow(tmp_path, name: str, seeds: list[int]):
    workdir = copy_workflow(tmp_path / name)
    set_seeds(workdir, seeds)
    return workdir, ("--cores", "2", "--configfile", "presets/smoke.yaml", "seeds.yaml")


def set_seeds(workdir, seeds: list[int]) -> None:
    (workdir / "seeds.yaml").write_text(yaml.safe_dump({**SETTINGS, "seeds": seeds}))


def test_metrics_are_byte_identical_in_any_company(tmp_path):
    alone, alone_args = workflow(tmp_path, "alone", [3])
    crowd, crowd_args = workflow(tmp_path, "crowd", [4, 1, 3, 2])
    snakemake(alone, f"{RUN3}/metrics.json", *alone_args)
    snakemake(crowd, f"{RUN3}/metrics.json", *crowd_args)
    assert (alone / RUN3 / "metrics.json").read_bytes() == (crowd / RUN3 / "metrics.json").read_bytes()
    assert (alone / RUN3 / "model.pt").read_bytes() == (crowd / RUN3 / "model.pt").read_bytes()
    provenance = json.loads((crowd / RUN3 / "provenance.json").read_text())
    assert provenance["trained_with_seeds"] == [4, 1, 3, 2] and provenance["rule"] == "train_lowdim"
    epochs = {s: json.loads((crowd / f"results/runs/{GROUP}/seed{s}/provenance.json").read_text())["epochs_run"]
              for s in (1, 2, 3, 4)}
    assert len(set(epochs.values())) > 1, epochs  # members stopped at different epochs

    # A seed outside the configured list is built on its own by the single-run rule: same bytes again.
    run1 = f"results/runs/{GROUP}/seed1"
    snakemake(alone, f"{run1}/metrics.json", *alone_args)
    assert json.loads((alone / run1 / "provenance.json").read_text())["rule"] == "train_lowdim_one_run"
    assert (alone / run1 / "metrics.json").read_bytes() == (crowd / run1 / "metrics.json").read_bytes()


def test_adding_a_seed_trains_only_the_new_seed(tmp_path):
    workdir, args = workflow(tmp_path, "grow", [3])
    snakemake(workdir, f"{RUN3}/metrics.json", *args)
    before = (workdir / RUN3 / "metrics.json").read_bytes()

    set_seeds(workdir, [3, 5])
    snakemake(workdir, f"{RUN3}/metrics.json", f"results/runs/{GROUP}/seed5/metrics.json", *args)
    log = (workdir / f"results/logs/train_lowdim/{GROUP}.log").read_text()
    assert "seed 5 epoch 1 " in log and "seed 3 epoch" not in log, log[-3000:]
    assert "(kept from its finished resume.pt, not retrained: same settings and code" in log
    assert (workdir / RUN3 / "metrics.json").read_bytes() == before
    assert torch.load(workdir / RUN3 / "resume.pt", weights_only=False)["finished"]
