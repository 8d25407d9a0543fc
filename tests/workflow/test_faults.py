"""Faults through real Snakemake: a killed job resumes, NaN fails clearly, runs are bit-identical,
and two invocations sharing resources/ corrupt nothing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import torch
import yaml

from .conftest import (
    HANG_GUARD_S,
    SNAKEMAKE,
    copy_workflow,
    snakemake,
    write_data_override,
)

RUN = "results/runs/toy2d/toy4/mim/z2-h20/seed3"
LONG = {"lowdim_training": {"epochs": 30, "warmup_steps": 30, "dataset_size": 6400}}  # no early stop before 30


def workflow_with(tmp_path, name: str, override: dict):
    workdir = copy_workflow(tmp_path / name)
    (workdir / "override.yaml").write_text(yaml.safe_dump(override))
    return workdir, ("--cores", "1", "--configfile", "presets/smoke.yaml", "override.yaml")


def test_sigkilled_training_resumes_to_identical_metrics(tmp_path):
    target = f"{RUN}/metrics.json"
    reference, args = workflow_with(tmp_path, "reference", LONG)
    snakemake(reference, target, *args)

    interrupted, args = workflow_with(tmp_path, "interrupted", LONG)
    proc = subprocess.Popen([SNAKEMAKE, target, *args], cwd=interrupted, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    resume = interrupted / RUN / "resume.pt"
    # Poll progress, not the clock: the deadline is only a hang guard, and 22 epochs remain after the
    # kill point, far more than one 0.1 s poll on any machine.
    deadline = time.monotonic() + HANG_GUARD_S
    epoch = 0
    while time.monotonic() < deadline and epoch < 8 and proc.poll() is None:
        time.sleep(0.1)
        if resume.exists():
            try:
                epoch = torch.load(resume, weights_only=False)["epoch"]
            except Exception:  # noqa: BLE001 - caught mid-replace; read again
                pass
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and the training job, mid-run
    proc.wait(timeout=30)
    assert 8 <= epoch < 30, f"training was not caught mid-run (epoch {epoch})"
    assert not (interrupted / RUN / "model.pt").exists()

    snakemake(interrupted, "--unlock", *args)
    snakemake(interrupted, target, *args)
    log = (interrupted / "results/logs/train_lowdim/toy2d/toy4/mim/z2-h20/seed3.log").read_text()
    assert "resuming from" in log
    assert json.loads((interrupted / target).read_text()) == json.loads((reference / target).read_text())
    assert torch.load(interrupted / RUN / "resume.pt", weights_only=False)["finished"]  # kept, finished


def test_same_seed_twice_gives_bit_identical_metrics(tmp_path):
    target = f"{RUN}/metrics.json"
    first, args = workflow_with(tmp_path, "first", {})
    second, _ = workflow_with(tmp_path, "second", {})
    snakemake(first, target, *args)
    snakemake(second, target, *args)
    assert (first / target).read_bytes() == (second / target).read_bytes()


def test_nan_loss_fails_the_job_naming_epoch_and_term(tmp_path):
    workdir, args = workflow_with(tmp_path, "nan", {"experiments": {"toy2d": {"training": {"lr": 1.0e8}}}})
    proc = snakemake(workdir, f"{RUN}/model.pt", *args, check=False)
    assert proc.returncode != 0
    log = (workdir / "results/logs/train_lowdim/toy2d/toy4/mim/z2-h20/seed3.log").read_text()
    assert "non-finite encoder-path loss" in log and "at epoch 1" in log
    assert not (workdir / RUN / "model.pt").exists()


def test_two_invocations_sharing_resources(tmp_path, fixture_server):
    shared = tmp_path / "shared_resources"
    shared.mkdir()
    workdirs = []
    for name in ("a", "b"):
        workdir = copy_workflow(tmp_path / name)
        (workdir / "resources").symlink_to(shared, target_is_directory=True)
        write_data_override(workdir, fixture_server)
        workdirs.append(workdir)
    targets = ["resources/datasets/dynamic_fashion_mnist.pt", "resources/datasets/pca-fashion-mnist20-train.pt"]
    results = {}

    def run(workdir):
        results[workdir.name] = snakemake(workdir, *targets, "--cores", "1", "--configfile", "presets/smoke.yaml",
                                          "test_data.yaml", check=False)

    threads = [threading.Thread(target=run, args=(w,)) for w in workdirs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Both may build the same files; each writes through its own temporary name and renames atomically,
    # so at least one succeeds, every file present is complete, and a rerun has nothing to do.
    assert any(r.returncode == 0 for r in results.values()), {k: r.stderr[-2000:] for k, r in results.items()}
    raw = shared / "raw" / "fashion_mnist"
    for name, md5 in fixture_server.checksums["fashion_mnist"].items():
        import hashlib
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5
    assert not list(shared.rglob(".*.tmp-*"))
    for workdir in workdirs:
        snakemake(workdir, *targets, "--cores", "1", "--configfile", "presets/smoke.yaml", "test_data.yaml")
    for target in targets:
        torch.load(shared / target.removeprefix("resources/"), weights_only=False)  # loads: not corrupt
