"""Faults through real Snakemake: a killed job resumes, NaN fails clearly, runs are bit-identical,
and two invocations sharing resources/ corrupt nothing."""
from __future__ import annotations

import pytest

import json
import os
import signal
import subprocess
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

pytestmark = pytest.mark.workflow  # runs real Snakemake jobs: not in make test-fast

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
    """Two Snakemake invocations download and build the same shared files at the same time. Their downloads go
    through the fixture server's gate, which holds every request until the test opens it: the test waits for
    both invocations to be downloading at once, so the two runs provably overlap (whatever the machine speed)."""
    shared = tmp_path / "shared_resources"
    shared.mkdir()
    workdirs = []
    for name in ("a", "b"):
        workdir = copy_workflow(tmp_path / name)
        (workdir / "resources").symlink_to(shared, target_is_directory=True)
        write_data_override(workdir, fixture_server, prefix="gate/")
        # a held request must not time out while the other invocation starts
        (workdir / "patient.yaml").write_text(yaml.safe_dump({"data": {"timeout_s": HANG_GUARD_S}}))
        workdirs.append(workdir)
    targets = ["resources/datasets/dynamic_fashion_mnist.pt", "resources/datasets/pca-fashion-mnist20-train.pt"]
    args = ("--cores", "1", "--configfile", "presets/smoke.yaml", "test_data.yaml", "patient.yaml")
    procs = {w.name: subprocess.Popen([SNAKEMAKE, *targets, *args], cwd=w, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True) for w in workdirs}
    # The state waited for: a download request of each invocation held at the gate (the cap is a hang guard).
    deadline = time.monotonic() + HANG_GUARD_S
    while fixture_server.waiting_at_gate() < 2:
        assert time.monotonic() < deadline, "the two invocations never downloaded at the same time"
        assert all(p.poll() is None for p in procs.values()), {k: p.communicate()[0][-2000:] for k, p in procs.items()}
        time.sleep(0.1)
    assert all(p.poll() is None for p in procs.values())  # both are running, each inside a download
    fixture_server.handler.gate.set()
    outputs = {name: p.communicate(timeout=HANG_GUARD_S)[0] for name, p in procs.items()}
    # Both built the same files; each writes through its own temporary name and renames atomically, so at
    # least one succeeds, every file present is complete, and a rerun of either has nothing to do.
    assert any(p.returncode == 0 for p in procs.values()), {k: v[-2000:] for k, v in outputs.items()}
    raw = shared / "raw" / "fashion_mnist"
    for name, md5 in fixture_server.checksums["fashion_mnist"].items():
        import hashlib
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5
    assert not list(shared.rglob(".*.tmp-*"))
    for workdir in workdirs:
        snakemake(workdir, *targets, *args)
    for target in targets:
        torch.load(shared / target.removeprefix("resources/"), weights_only=False)  # loads: not corrupt
