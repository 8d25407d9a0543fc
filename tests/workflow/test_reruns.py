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


def test_a_present_run_of_a_grown_seed_group_names_the_target_that_builds_it(smoke_run):
    """Snakemake builds nothing for a present target, even when `seeds` has grown around it: planning says so in
    one line naming the missing seed's path, and nothing is planned silently wrong (the dry run plans nothing)."""
    from .conftest import snakemake

    seed1 = sorted(smoke_run.glob("results/runs/toy2d/*/*/*/seed1/metrics.json"))[0].relative_to(smoke_run)
    seed2 = seed1.as_posix().replace("/seed1/", "/seed2/")
    grown = snakemake(smoke_run, "-n", "--cores", "1", seed1.as_posix(), *SMOKE_ARGS, "--config", "seeds=[1,2]")
    notes = [line for line in grown.stderr.splitlines() if line.startswith("mimflow:") and "present" in line]
    assert notes == [f"mimflow: {seed1.as_posix()} is present, so Snakemake builds nothing for it, but its seed group "
                     f"(seeds [1, 2]) lacks seed(s) [2]: target {seed2} to build the group (its present runs are "
                     "kept from their finished resume.pt, not retrained)"], grown.stderr
    # the named target plans the group's jobs
    assert "train_lowdim" in snakemake(smoke_run, "-n", "--cores", "1", seed2, *SMOKE_ARGS, "--config",
                                       "seeds=[1,2]").stdout
    same = snakemake(smoke_run, "-n", "--cores", "1", seed1.as_posix(), *SMOKE_ARGS)
    assert "present" not in same.stderr, same.stderr
