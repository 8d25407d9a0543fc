"""Stale-only reruns, checked on the smoke run with Snakemake's machine-readable --summary."""
from __future__ import annotations

import pytest
import yaml

from .conftest import SMOKE_ARGS
from .conftest import planned_jobs as summary_jobs

pytestmark = pytest.mark.workflow  # runs real Snakemake jobs: not in make test-fast


def planned_jobs(workdir, override: dict) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job the override would rerun (Snakemake's --summary)."""
    (workdir / "change.yaml").write_text(yaml.safe_dump(override))
    return summary_jobs(workdir, "--cores", "2", *SMOKE_ARGS, "change.yaml")


def rules_of(jobs) -> set[str]:
    return {rule for rule, _ in jobs}


def test_training_change_reruns_only_that_experiment(smoke_run):
    jobs = planned_jobs(smoke_run, {"experiments": {"toy2d_entropy": {"training": {"lr": 0.002}}}})
    trained = [w for rule, w in jobs if rule == "train_lowdim"]
    assert trained and all(w["experiment"] == "toy2d_entropy" for w in trained)
    assert len(trained) == 2  # the smoke grid of toy2d_entropy: 2 models x 1 dim x 1 seed
    assert rules_of(jobs) <= {"train_lowdim", "evaluate_lowdim", "run_figures", "experiment_table", "stats_figure",
                              "fidelity_scorecard", "all"}
    assert all(w.get("experiment", "toy2d_entropy") == "toy2d_entropy" for _, w in jobs)


def test_evaluation_change_reruns_evaluation_and_figures_not_training(smoke_run):
    jobs = planned_jobs(smoke_run, {"evaluation": {"ksg_k": 4}})
    rules = rules_of(jobs)
    assert "train_lowdim" not in rules and "train_image" not in rules and "download" not in rules
    assert {"evaluate_lowdim", "experiment_table", "stats_figure"} <= rules
    assert sum(rule == "evaluate_lowdim" for rule, _ in jobs) == 13  # every low-dimensional run


def test_adding_a_seed_reruns_only_the_seed_groups_that_gain_it(smoke_run):
    """Seeds train as one job per seed group, so the groups of experiments on the global list rerun; the group
    job then trains only the new seed (the old one is kept from its finished resume.pt: see
    tests/workflow/test_stacking.py, which runs it). animation keeps its own seed list and is not touched."""
    jobs = planned_jobs(smoke_run, {"seeds": [1, 2]})
    trained = [w for rule, w in jobs if rule.startswith("train_lowdim")]
    assert trained and all("seed" not in w for w in trained)  # group jobs: every seed of the group
    assert {w["experiment"] for w in trained} == {"toy2d", "toy2d_entropy", "bottleneck_toy4_20", "bottleneck_fmnist20",
                                                  "bottleneck_fmnist20_trainfit"}
    assert len(trained) == 10
    assert "train_image" not in rules_of(jobs)  # image seeds are their own list


def test_fidelity_switch_retrains_only_affected_runs(smoke_run):
    jobs = planned_jobs(smoke_run, {"fidelity": {"mim_decoder_qx": "importance"}})
    trained = [w for rule, w in jobs if rule == "train_lowdim"]
    assert trained and all(w["model"] in ("mim", "mim-minusH") for w in trained)
