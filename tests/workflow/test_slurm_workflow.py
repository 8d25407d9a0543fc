"""The workflow through a real SLURM cluster on localhost, with the cluster instructions of docs/cluster.md."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from mimflow.workflow import IMAGE_RUN_DIR, image_runs

from .conftest import (SNAKEMAKE, copy_workflow, pending_outputs, planned_jobs, script_processes, snakemake,
                       write_data_override)
from .test_smoke_workflow import smoke_config

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

# docs/cluster.md: the profile, plus squeue polling on a cluster without accounting.
NO_ACCOUNTING = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
                 "--seconds-between-status-checks", "2")


# The part of the smoke preset sent through SLURM: every kind of job once (a download on the submitting host,
# a dataset build, seed-group chains, image chains with and without the VampPrior) at a third of the jobs;
# the local smoke run covers the rest of the grid.
# images.device auto: the jobs ask for a GPU and get a fake one, on which CUDA is unusable, so they train on the CPU.
SLURM_SMOKE = {"run_experiments": ["toy2d", "toy2d_entropy"], "build_datasets": ["dynamic_mnist"],
               "images": {"models": ["convhvae_2level-vae", "pixelhvae_2level-amim"], "device": "auto"}}


def test_smoke_preset_through_slurm(tmp_path, slurm_cluster, fixture_server):
    workdir = copy_workflow(tmp_path / "wf")
    override = write_data_override(workdir, fixture_server)
    (workdir / "slurm_smoke.yaml").write_text(yaml.safe_dump(SLURM_SMOKE))
    args = ("--configfile", "presets/smoke.yaml", override, "slurm_smoke.yaml")
    planned = planned_jobs(workdir, *args)  # Snakemake's --summary, before the run
    assert {"download", "build_dynamic_mnist_like", "train_lowdim", "train_image", "pseudoinput_figure"} <= \
        {rule for rule, _ in planned}
    snakemake(workdir, "--profile", "profiles/slurm", *args, *NO_ACCOUNTING)
    assert pending_outputs(workdir, *args) == {}
    # The SLURM job of every job that wrote a provenance record, from the records themselves.
    records = [json.loads(p.read_text()) for p in workdir.glob("results/runs/**/*provenance.json")]
    submitted = {r["slurm_job_id"] for r in records}
    assert None not in submitted and submitted, records[:2]
    jobs_with_records = [job for job in planned if job[0].startswith(("train_", "evaluate_"))]
    assert len(submitted) < len(jobs_with_records) / 1.9, (len(submitted), len(jobs_with_records))  # grouped chains
    for name in SLURM_SMOKE["run_experiments"]:
        assert (workdir / "results" / "tables" / f"{name}_summary.csv").is_file()
    assert (workdir / "resources" / "datasets" / "dynamic_mnist.pt").is_file()
    # a seed group's train -> evaluate -> figures chain went out as one SLURM job, one per group
    folders = sorted(p.parent for p in workdir.glob("results/runs/toy2d/**/provenance.json"))
    train_jobs = [json.loads((f / "provenance.json").read_text())["slurm_job_id"] for f in folders]
    eval_jobs = [json.loads((f / "eval_provenance.json").read_text())["slurm_job_id"] for f in folders]
    assert all(train_jobs) and train_jobs == eval_jobs and len(set(train_jobs)) == len(folders)  # smoke: 1 seed
    # image jobs ran under SLURM with a GPU assigned (fake devices 0/1)
    config = smoke_config()
    config["images"] = {**yaml.safe_load((workdir / "presets" / "smoke.yaml").read_text())["images"],
                        **SLURM_SMOKE["images"]}
    runs = list(image_runs(config))
    assert len(runs) == 4
    for run in runs:
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
                       check=False)
    assert failed.returncode != 0
    logs = [p.read_text() for p in workdir.glob("results/logs/train_lowdim/**/*.log")]
    assert any("non-finite" in text for text in logs), logs  # the job's own log names the failure
    assert not (workdir / target).exists()
    snakemake(workdir, target, *base, "--configfile", "presets/smoke.yaml", *NO_ACCOUNTING)
    # The rerun under SLURM gives exactly the run a local Snakemake builds from nothing (not a leftover of the
    # failed attempt, which trained at another learning rate), and it ran as a SLURM job.
    reference = copy_workflow(tmp_path / "local")
    snakemake(reference, target, "--cores", "1", "--configfile", "presets/smoke.yaml")
    assert (workdir / target).read_bytes() == (reference / target).read_bytes()
    provenance = json.loads((workdir / target).with_name("eval_provenance.json").read_text())
    assert provenance["slurm_job_id"], provenance


def _wait_for(predicate, what: str, timeout: float, proc: subprocess.Popen):
    """Poll `predicate` until it returns something truthy; fail naming `what` if Snakemake ends first."""
    deadline = time.monotonic() + timeout  # a hang guard only: nothing here races the clock
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(f"snakemake ended (rc {proc.returncode}) before {what}:\n{proc.stdout.read()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s")


def test_time_limit_then_retry_resumes_training(tmp_path, slurm_cluster):
    """A training job killed by its SLURM time limit is resubmitted (--retries) and resumes from resume.pt.

    Nothing depends on how fast an epoch runs: once the first attempt has logged 2 epochs the test
    freezes its training process (SIGSTOP) and lowers the job's time limit to 1 minute, so SLURM
    certainly kills it for TIMEOUT mid-training; the retry's limit (2 x 30 min) is far above the work.
    """
    workdir = copy_workflow(tmp_path / "wf")
    run = "results/runs/toy2d/toy4/mim/z2-h20/seed4"
    log_path = workdir / "results/logs/train_lowdim/toy2d/toy4/mim/z2-h20/seed4.log"
    (workdir / "long.yaml").write_text(yaml.safe_dump(
        {"lowdim_training": {"epochs": 40, "warmup_steps": 40, "dataset_size": 12800},
         "job_runtime_min": {"train_lowdim": 30}}))
    proc = subprocess.Popen([SNAKEMAKE, f"{run}/model.pt", "--profile", "profiles/slurm", "--retries", "1",
                             "--configfile", "presets/smoke.yaml", "long.yaml", *NO_ACCOUNTING],
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: log_path.exists() and "epoch 2 " in log_path.read_text(), "epoch 2 in the job log", 600, proc)
        squeue = slurm_cluster.run(["squeue", "-h", "-t", "R", "-o", "%i"]).stdout.split()
        assert len(squeue) == 1, squeue
        first_job = squeue[0]
        frozen = _wait_for(lambda: script_processes("train_lowdim.py", slurm_job=first_job), "training process", 60, proc)
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        slurm_cluster.run(["scontrol", "update", f"JobId={first_job}", "TimeLimit=1"])
        output, _ = proc.communicate(timeout=1800)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output[-4000:]
    slurm_logs = "".join(p.read_text() for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert f"JOB {first_job} ON" in slurm_logs and "DUE TO TIME LIMIT" in slurm_logs, slurm_logs[-3000:]
    log = log_path.read_text()
    assert "resuming from" in log, log[-2000:]
    resumed_at = int(re.search(r"epoch (\d+) ", log.split("resuming from", 1)[1]).group(1))
    assert resumed_at > 2, log[-2000:]  # continued where the first attempt stopped, not from epoch 1
    history = (workdir / run / "train_log.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in history[1:]] == list(range(1, 41))  # each epoch exactly once
    assert torch.load(workdir / run / "resume.pt", weights_only=False)["finished"]  # kept once finished



def test_image_runs_share_one_gpu_allocation(tmp_path, slurm_cluster):
    """docs/cluster.md, "Several image runs on one GPU": Snakemake's local executor inside one SLURM allocation of
    one GPU runs two image trainings at once there, each in its own job slot (images.jobs_per_gpu 2). The fake
    GPUs leave CUDA unusable, so images.device auto trains on the CPU: this checks the allocation and the
    overlap; the slots themselves are tests/unit/test_image_device.py's."""
    workdir = copy_workflow(tmp_path / "wf")
    packed = {"run_experiments": [], "build_datasets": ["mnist5k"], "seeds": [1],
              "data": {"mnist5k": {"test_per_class": 5, "validation_per_class": 5}},
              "images": {"datasets": ["mnist5k"], "models": ["convhvae_2level-vae", "convhvae_2level-smim"],
                         "priors": ["standard"], "seeds": [1], "device": "auto", "threads": 1, "mem_mb": 1500,
                         "jobs_per_gpu": 2, "training": {"epochs": 1, "warmup": 1, "max_train_images": 300},
                         "evaluation": {"is_samples": 2, "ksg_points": 20, "figure_images": 4},
                         "showcase": {"rows": []}}}
    (workdir / "packed.yaml").write_text(yaml.safe_dump(packed))
    (workdir / "resources").mkdir(exist_ok=True)
    snakemake(workdir, "--cores", "1", "resources/datasets/mnist5k.pt", "--configfile", "packed.yaml")
    command = f"{SNAKEMAKE} --cores 2 --resources gpu=2 --configfile packed.yaml"
    job, proc = slurm_cluster.sbatch_wait(["-D", str(workdir), "--gpus=1", "--cpus-per-task=2", "--mem=6000",
                                           "--wrap", command], timeout=1800)
    assert proc.returncode == 0, (proc.stdout, proc.stderr, (workdir / f"slurm-{job}.out").read_text()[-3000:])
    folders = sorted(workdir.glob("results/runs/images/mnist5k/*/standard/seed1"))
    trains = [json.loads((f / "provenance.json").read_text()) for f in folders]
    assert len(trains) == 2 and all((f / "metrics.json").is_file() for f in folders)
    assert {r["slurm_job_id"] for r in trains} == {job}  # both in the one allocation
    assert trains[0]["cuda_visible_devices"] in {"0", "1"}  # of one GPU
    assert trains[0]["cuda_visible_devices"] == trains[1]["cuda_visible_devices"]
    first, second = sorted(trains, key=lambda r: r["started"])
    assert second["started"] < first["finished"]  # the two trainings ran at the same time
