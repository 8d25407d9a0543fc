"""The workflow through a real SLURM cluster on localhost, with the README's cluster instructions."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from mimflow.workflow_config import IMAGE_RUN_DIR, image_runs

from .conftest import copy_workflow, snakemake, write_data_override
from .test_smoke_workflow import smoke_config

pytestmark = pytest.mark.slurm

# README "Run on a SLURM cluster": the profile, plus squeue polling on a cluster without accounting.
NO_ACCOUNTING = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
                 "--seconds-between-status-checks", "2")


def submissions(output: str) -> set[str]:
    return set(re.findall(r"SLURM jobid (\d+)", output))


def test_smoke_preset_through_slurm(tmp_path, slurm_cluster, fixture_server):
    workdir = copy_workflow(tmp_path / "wf")
    override = write_data_override(workdir, fixture_server)
    proc = snakemake(workdir, "--profile", "profiles/slurm", "--configfile", "presets/smoke.yaml", override,
                     *NO_ACCOUNTING, timeout=1800)
    output = proc.stdout + proc.stderr
    total = int(re.findall(r"(\d+) of \1 steps \(100%\) done", output)[-1])
    submitted = submissions(output)
    assert submitted, output[-3000:]
    assert len(submitted) < total / 3, (len(submitted), total)  # grouping: far fewer submissions than jobs
    config = smoke_config()
    for name in config["run_experiments"]:
        assert (workdir / "results" / "tables" / f"{name}_summary.csv").is_file()
    # low-dimensional runs went out in groups: many runs share one SLURM job
    lowdim_jobs = [json.loads(p.read_text())["slurm_job_id"] for p in workdir.glob("results/runs/toy2d/**/provenance.json")]
    assert all(lowdim_jobs) and len(set(lowdim_jobs)) < len(lowdim_jobs)
    # image jobs ran under SLURM with a GPU assigned (fake devices 0/1)
    config["images"] = yaml.safe_load((workdir / "presets" / "smoke.yaml").read_text())["images"]
    for run in image_runs(config):
        folder = workdir / IMAGE_RUN_DIR.format(**run)
        prov = json.loads((folder / "provenance.json").read_text())
        assert prov["slurm_job_id"] and prov["cuda_visible_devices"] in {"0", "1"}, prov
        assert (folder / "metrics.json").is_file() and (folder / "generations.png").is_file()


def test_failed_job_is_reported_and_a_rerun_finishes_it(tmp_path, slurm_cluster):
    workdir = copy_workflow(tmp_path / "wf")
    target = "results/runs/toy2d/toy4/vae/z2-h5/seed1/metrics.json"
    (workdir / "explode.yaml").write_text(yaml.safe_dump({"experiments": {"toy2d": {"training": {"lr": 1.0e8}}}}))
    base = ("--profile", "profiles/slurm", "--retries", "0")
    failed = snakemake(workdir, target, *base, "--configfile", "presets/smoke.yaml", "explode.yaml", *NO_ACCOUNTING,
                       check=False, timeout=600)
    assert failed.returncode != 0
    assert "Error in rule train_lowdim" in failed.stdout + failed.stderr or "Error in group" in failed.stdout + failed.stderr
    assert not (workdir / target).exists()
    snakemake(workdir, target, *base, "--configfile", "presets/smoke.yaml", *NO_ACCOUNTING, timeout=600)
    assert json.loads((workdir / target).read_text())["MI_ksg"] is not None


def test_time_limit_then_retry_resumes_training(tmp_path, slurm_cluster):
    """A training job killed by its SLURM time limit is resubmitted (--retries) and resumes from resume.pt."""
    workdir = copy_workflow(tmp_path / "wf")
    run = "results/runs/toy2d/toy4/mim/z2-h20/seed4"
    # about 140 s of training (3.5 s an epoch here): over the first attempt's 1-minute limit, and what is
    # left after the kill fits the retry's 2 minutes
    # plus what the first attempt already did
    (workdir / "slow.yaml").write_text(yaml.safe_dump(
        {"lowdim_training": {"epochs": 40, "warmup_steps": 40, "dataset_size": 384000},
         "job_runtime_min": {"train_lowdim": 1}}))
    snakemake(workdir, f"{run}/model.pt", "--profile", "profiles/slurm", "--retries", "1",
              "--configfile", "presets/smoke.yaml", "slow.yaml", *NO_ACCOUNTING, timeout=900)
    log = (workdir / "results/logs/train_lowdim/toy2d/toy4/mim/z2-h20/seed4.log").read_text()
    assert "resuming from" in log, log[-2000:]
    history = (workdir / run / "train_log.csv").read_text().splitlines()
    assert len(history) == 41  # header + 40 epochs, each exactly once
    assert not (workdir / run / "resume.pt").exists()
