"""The rows of docs/faults.md that tests/workflow/test_faults.py does not cover, each fault injected for real
through real Snakemake: a job killed mid-evaluation or mid-figure, a truncated resume state, model, dataset
tensor or raw download, a full disk and an unwritable log folder (real tmpfs mounts), two invocations on the
same targets, an interrupted `make demo`, and a run whose loss turns non-finite, alone or in a seed group,
with failed_runs: stop (the default) and record."""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from .test_faults import LONG, RUN
from .test_faults import workflow_with as faults_workflow
from .conftest import (
    HANG_GUARD_S,
    REPO,
    SNAKEMAKE,
    copy_workflow,
    fill_device,
    mounted_tmpfs,
    pending_outputs,
    script_processes,
    snakemake,
    wait_until,
    write_data_override,
)

pytestmark = pytest.mark.workflow  # runs real Snakemake jobs: not in make test-fast

TRAIN_LOG = "results/logs/train_lowdim/toy2d/toy4/mim/z2-h20/seed3.log"
ARGS = ("--cores", "1", "--configfile", "presets/smoke.yaml", "override.yaml")  # what workflow_with sets up
PLUGIN = REPO / "tests" / "workflow" / "plugins" / "nan_member.py"


def workflow_with(tmp_path, name: str, override: dict | None = None) -> Path:
    return faults_workflow(tmp_path, name, override or {})[0]


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error: ")]


def start(workdir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([SNAKEMAKE, *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=HANG_GUARD_S)


@pytest.mark.parametrize("script, output", [("evaluate_lowdim.py", "metrics.json"), ("run_figures.py", "grid.png")])
def test_a_job_killed_mid_run_leaves_no_partial_output_and_a_rerun_completes_it(tmp_path, script, output):
    workdir = workflow_with(tmp_path, "wf")
    snakemake(workdir, f"{RUN}/model.pt", *ARGS)
    proc = start(workdir, f"{RUN}/{output}", *ARGS)
    # The state waited for: the job's own process exists (it then still imports torch, long before any write).
    pids = wait_until(lambda: script_processes(script, workdir), f"a running {script}", proc)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)  # frozen where it was, then killed with Snakemake
    assert not (workdir / RUN / output).exists()
    kill_group(proc)
    assert not (workdir / RUN / output).exists()  # no partial file under the real name
    snakemake(workdir, "--unlock", *ARGS)
    snakemake(workdir, f"{RUN}/{output}", *ARGS)
    if output == "metrics.json":
        assert all(math.isfinite(v) for v in json.loads((workdir / RUN / output).read_text()).values())
    else:
        assert (workdir / RUN / output).stat().st_size > 1000


def test_an_unreadable_resume_state_in_a_seed_group_is_logged_and_that_run_trains_afresh(tmp_path):
    """A resume.pt cut short no longer blocks its group: one log line names it, that run trains from epoch 1
    (to the numbers it had), and the other seed is re-emitted from its own finished state."""
    workdir = workflow_with(tmp_path, "wf", {"seeds": [1, 2]})
    group = "results/runs/toy2d/toy4/mim/z2-h5"
    targets = [f"{group}/seed{seed}/metrics.json" for seed in (1, 2)]
    snakemake(workdir, *targets, *ARGS)
    before = [(workdir / t).read_bytes() for t in targets]
    resume = workdir / group / "seed2" / "resume.pt"
    resume.write_bytes(resume.read_bytes()[: resume.stat().st_size // 2])
    (workdir / group / "seed2" / "model.pt").unlink()
    snakemake(workdir, f"{group}/seed2/model.pt", *targets, *ARGS)  # the group job reruns for the missing model
    log = (workdir / "results/logs/train_lowdim/toy2d/toy4/mim/z2-h5.log").read_text()
    warnings = [line for line in log.splitlines() if "resume checkpoint unusable" in line]
    assert len(warnings) == 1 and str(resume.relative_to(workdir)) in warnings[0], log[-3000:]
    assert "seed 2 epoch 1 " in log.split("resume checkpoint unusable", 1)[1]  # afresh
    assert "seed 1: best epoch" in log and "kept from its finished resume.pt" in log
    assert [(workdir / t).read_bytes() for t in targets] == before
    assert torch.load(resume, weights_only=False)["finished"]  # a good one replaced it


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


# (name, what to build first, the file to cut short, the target that reads it, what the line says to do)
UNREADABLE = [
    ("model", f"{RUN}/model.pt", f"{RUN}/model.pt", f"{RUN}/metrics.json", "rerun Snakemake, which rebuilds it"),
    ("dataset tensor", "resources/datasets/pca-fashion-mnist20-per_split.pt",
     "resources/datasets/pca-fashion-mnist20-per_split.pt",
     "results/runs/bottleneck_fmnist20/pca-fashion-mnist20/mim/z2-h50/seed1/model.pt",
     "rerun Snakemake, which rebuilds it"),
    ("raw download", "resources/raw/fashion_mnist/t10k-labels-idx1-ubyte.gz",
     "resources/raw/fashion_mnist/t10k-labels-idx1-ubyte.gz", "resources/datasets/dynamic_fashion_mnist.pt",
     "rerun Snakemake, which downloads it again"),
]


@pytest.mark.parametrize("name, first, damaged, target, advice", UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_a_truncated_file_is_named_in_one_line_and_the_advice_works(tmp_path, fixture_server, name, first, damaged,
                                                                   target, advice):
    workdir = workflow_with(tmp_path, "wf")
    data = write_data_override(workdir, fixture_server)
    snakemake(workdir, first, *ARGS, data)
    _truncate(workdir / damaged)
    proc = snakemake(workdir, target, *ARGS, data, check=False)
    assert proc.returncode != 0
    lines = error_lines(proc)
    assert len(lines) == 1, (proc.stdout + proc.stderr)[-4000:]
    assert lines[0].startswith(f"error: {damaged} cannot be read (") and "truncated or corrupt" in lines[0]
    assert advice in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (workdir / target).exists()
    (workdir / damaged).unlink()  # what the line says to do
    snakemake(workdir, target, *ARGS, data)
    assert (workdir / target).is_file()


def test_a_full_disk_during_training_names_the_file_and_the_run_resumes_once_space_is_freed(tmp_path):
    reference = workflow_with(tmp_path, "reference", LONG)
    snakemake(reference, f"{RUN}/metrics.json", *ARGS)
    workdir = workflow_with(tmp_path, "wf", LONG)
    with mounted_tmpfs(workdir / RUN, size="2m") as run:
        proc = start(workdir, f"{RUN}/metrics.json", *ARGS)
        resume = run / "resume.pt"

        def saved_epoch():
            try:
                return resume.exists() and torch.load(resume, weights_only=False)["epoch"] >= 3
            except Exception:  # noqa: BLE001 - read mid-replace; read again
                return False

        wait_until(saved_epoch, "a resume.pt of epoch 3", proc)
        filler = fill_device(run)  # the disk is full from now on, mid-training
        output, _ = proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode != 0
        lines = [line for line in output.splitlines() if line.startswith("error: ")]
        assert len(lines) == 1, output[-4000:]
        assert lines[0].startswith(f"error: no space left on the device while writing {RUN}/resume.pt"), lines
        assert "Traceback" not in output
        kept = torch.load(resume, weights_only=False)  # the last complete state is whole
        assert 3 <= kept["epoch"] < 30 and not (run / "model.pt").exists()
        filler.unlink()  # free the space, then rerun
        snakemake(workdir, "--unlock", *ARGS)
        snakemake(workdir, f"{RUN}/metrics.json", *ARGS)
        assert "resuming from" in (workdir / TRAIN_LOG).read_text()
        assert (workdir / RUN / "metrics.json").read_bytes() == (reference / RUN / "metrics.json").read_bytes()


def test_a_log_folder_that_cannot_be_written_stops_before_the_job_naming_it(tmp_path):
    """Snakemake creates each job's log folder before the job starts: where it cannot (here a read-only file
    system), it stops, naming the folder, and runs nothing. (A log that Snakemake could prepare but the job
    cannot open ends the job in one line of its own: tests/unit/test_faults.py.)"""
    workdir = workflow_with(tmp_path, "wf")
    with mounted_tmpfs(workdir / "results/logs/train_lowdim", size="1m", read_only=True):
        proc = snakemake(workdir, f"{RUN}/model.pt", *ARGS, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"Failed to create output directory {Path(TRAIN_LOG).parent}" in output, output[-3000:]
    assert "Read-only file system" in output and "Traceback" not in output
    assert not (workdir / RUN / "resume.pt").exists()  # no job ran
    snakemake(workdir, f"{RUN}/model.pt", *ARGS)  # writable again: the job runs


def test_a_second_invocation_on_the_same_targets_is_refused_and_the_first_finishes(tmp_path):
    workdir = workflow_with(tmp_path, "wf", LONG)
    first = start(workdir, f"{RUN}/metrics.json", *ARGS)
    wait_until(lambda: (workdir / TRAIN_LOG).exists() and "epoch 1 " in (workdir / TRAIN_LOG).read_text(),
               "the first invocation's training under way", first)
    second = snakemake(workdir, f"{RUN}/metrics.json", *ARGS, check=False)
    assert second.returncode != 0 and "Directory cannot be locked" in second.stdout + second.stderr
    output, _ = first.communicate(timeout=HANG_GUARD_S)
    assert first.returncode == 0, output[-3000:]
    assert json.loads((workdir / RUN / "metrics.json").read_text())["epoch"] >= 1
    assert pending_outputs(workdir, f"{RUN}/metrics.json", *ARGS) == {}


def test_an_interrupted_make_demo_keeps_every_finished_file_and_resumes_where_it_stopped(tmp_path):
    """Ctrl-C in `make demo` (SIGINT to its process group) once a seed group has trained and been evaluated:
    every file left is complete, and the next `make demo` plans what had not finished, not that group's
    training (profiles/default reruns the jobs Snakemake marked incomplete)."""
    workdir = copy_workflow(tmp_path / "wf")
    shutil.copy2(REPO / "Makefile", workdir / "Makefile")
    bin_dir = Path(sys.executable).parent
    # SIGINT as a terminal has it: a suite started from a background job (`make test &`) inherits SIGINT ignored,
    # and make and Snakemake would then never see the Ctrl-C this test sends
    make = subprocess.Popen(["make", "-o", ".venv/.mimflow-installed", "demo", f"BIN={bin_dir}"], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    evaluated = wait_until(lambda: list(workdir.glob("results/runs/**/metrics.json")), "an evaluated run", make)
    os.killpg(make.pid, signal.SIGINT)
    output, _ = make.communicate(timeout=HANG_GUARD_S)
    assert make.returncode != 0, output[-3000:]
    models = sorted(workdir.glob("results/runs/**/model.pt"))
    assert models and not list(workdir.glob("results/runs/**/failure.json"))
    for path in models:
        assert "state_dict" in torch.load(path, weights_only=False)  # complete
    for path in workdir.glob("results/runs/**/metrics.json"):
        json.loads(path.read_text())
    pending = pending_outputs(workdir, "--cores", "2", "--configfile", "presets/demo.yaml")
    trained = {str(p.relative_to(workdir)) for p in evaluated[0].parent.parent.glob("seed*/model.pt")}
    assert pending and trained and not trained & set(pending), sorted(trained & set(pending))


# One seed of a group (or one run alone) whose loss turns NaN: the plugin objective "nan-member" is the VAE's
# loss except for the run at position nan_member of the stack being trained (tests/workflow/plugins).
NAN_GRID = {"run_experiments": ["toy2d"], "build_datasets": [], "run_images": False, "seeds": [1, 2],
            "plugins": [str(PLUGIN)],
            "experiments": {"toy2d": {"datasets": {"toy4": ["vae", "nan-member"]}, "mid_dims": [5]}}}
FAILED = "results/runs/toy2d/toy4/nan-member/z2-h5/seed2"
ALONE = "results/runs/toy2d/toy4/nan-member/z2-h5/seed7"  # outside the seed list: a single-run job


def test_a_failed_seed_stops_the_grid_by_default_and_is_recorded(tmp_path):
    workdir = workflow_with(tmp_path, "wf", NAN_GRID)
    proc = snakemake(workdir, *ARGS, check=False)
    assert proc.returncode != 0
    lines = error_lines(proc)
    assert len(lines) == 1, (proc.stdout + proc.stderr)[-3000:]
    assert lines[0].startswith(f"error: {FAILED} failed in train: non-finite encoder-path loss (nan) at epoch 1")
    assert "set failed_runs: record" in lines[0]
    record = json.loads((workdir / FAILED / "failure.json").read_text())
    assert record == {"run": FAILED, "stage": "train", "error": "non-finite encoder-path loss (nan) at epoch 1"}
    assert not (workdir / "results/tables/toy2d.csv").exists()
    # the seed that trained keeps its finished state (its declared outputs went with the failed job)
    assert torch.load(workdir / FAILED.replace("seed2", "seed1") / "resume.pt", weights_only=False)["finished"]
    # a single run fails the same way, naming itself
    (workdir / "alone.yaml").write_text(yaml.safe_dump({"objective_settings": {"nan-member": {"nan_member": 0}}}))
    proc = snakemake(workdir, f"{ALONE}/model.pt", *ARGS, "alone.yaml", check=False)
    assert proc.returncode != 0 and error_lines(proc)[0].startswith(f"error: {ALONE} failed in train: non-finite")
    assert (workdir / ALONE / "failure.json").is_file() and not (workdir / ALONE / "model.pt").exists()


def test_with_failed_runs_record_the_tables_and_figures_build_from_the_runs_that_succeeded(tmp_path):
    workdir = workflow_with(tmp_path, "wf", {**NAN_GRID, "failed_runs": "record"})
    snakemake(workdir, *ARGS)
    runs = pd.read_csv(workdir / "results/tables/toy2d.csv")
    failed = runs[runs["failed"].notna()]
    assert failed[["model", "seed"]].values.tolist() == [["nan-member", 2]]
    assert failed["failed"].iloc[0] == "non-finite encoder-path loss (nan) at epoch 1"
    assert failed["MI_ksg"].isna().all() and runs.drop(failed.index)["MI_ksg"].notna().all()
    summary = pd.read_csv(workdir / "results/tables/toy2d_summary.csv").set_index("model")
    assert summary.loc["nan-member", "MI_ksg_count"] == 1 and summary.loc["vae", "MI_ksg_count"] == 2
    assert summary.loc["nan-member", "failed_runs"] == \
        "seed 2 (train: non-finite encoder-path loss (nan) at epoch 1)"
    assert json.loads((workdir / FAILED / "metrics.json").read_text())["failed"].startswith("non-finite")
    for metric in ("MI_ksg", "H_q_x", "x_recon_err", "clf_acc_KNN5"):
        assert (workdir / f"results/figures/toy2d/{metric}.png").stat().st_size > 1000
    # the seed that succeeded beside the failed one has exactly the numbers of the same loss alone: the VAE's
    ok = FAILED.replace("seed2", "seed1")
    assert (workdir / ok / "metrics.json").read_bytes() == \
        (workdir / ok.replace("nan-member", "vae") / "metrics.json").read_bytes()
    assert (workdir / FAILED / "failure.json").is_file()
    # a single run is recorded the same way
    (workdir / "alone.yaml").write_text(yaml.safe_dump({"objective_settings": {"nan-member": {"nan_member": 0}}}))
    snakemake(workdir, f"{ALONE}/metrics.json", *ARGS, "alone.yaml")
    assert json.loads((workdir / ALONE / "metrics.json").read_text()) == {
        "failed": "non-finite encoder-path loss (nan) at epoch 1", "failed_in": "train"}
