"""Faults injected for real at the file level (docs/faults.md): writes that hit a full device (/dev/full
answers every write with ENOSPC), files cut short, a log that cannot be opened; what each writer and
reader then does."""
from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch

import mimflow.core.io as io
from mimflow.core.io import DiskFullError, UnreadableFileError

FULL_DEVICE = Path("/dev/full")


@pytest.fixture
def full_disk(monkeypatch, tmp_path):
    """Every atomic write goes through a temporary name that is a link to /dev/full, so it fails with ENOSPC
    (the link, not the device, is what the writer removes afterwards)."""
    if not FULL_DEVICE.exists():
        pytest.skip("/dev/full is not available")
    made = []

    def full_temporary_name(path):
        link = Path(path).with_name(f".{Path(path).name}.tmp-full")
        link.unlink(missing_ok=True)
        link.symlink_to(FULL_DEVICE)
        made.append(link)
        return link

    monkeypatch.setattr(io, "temporary_name", full_temporary_name)
    return made


@dataclass
class Row:
    epoch: int
    loss: float


def _figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


WRITERS = {
    "torch (model.pt, resume.pt, dataset tensors)": lambda p: io.save_torch_atomic({"w": torch.ones(1000)}, p),
    "json (metrics.json, provenance)": lambda p: io.write_json_atomic({"MI": 1.0}, p),
    "csv (train_log.csv)": lambda p: io.write_csv_atomic([Row(1, 0.5)], p),
    "bytes (tables)": lambda p: io.write_bytes_atomic(b"a,b\n1,2\n" * 100, p),
    "figure (png)": lambda p: io.save_figure(_figure(), p),
}


@pytest.mark.parametrize("kind", WRITERS)
def test_a_full_disk_names_the_file_and_keeps_the_earlier_copy(tmp_path, full_disk, kind):
    target = tmp_path / "out.png"  # a figure takes its format from the name
    target.write_bytes(b"the earlier, complete copy")
    with pytest.raises(DiskFullError) as caught:
        WRITERS[kind](target)
    message = str(caught.value)
    assert str(target) in message and "no space left" in message and "\n" not in message
    assert target.read_bytes() == b"the earlier, complete copy"
    assert full_disk and not any(link.is_symlink() for link in full_disk)  # no temporary left behind
    assert FULL_DEVICE.exists()


def test_a_full_disk_stops_a_download_at_once_naming_the_file(tmp_path, monkeypatch):
    """A download that hits a full disk is not retried on the other mirrors: it names the file at once."""
    from mimflow.data import download as download_module
    from mimflow.data.download import RemoteFile

    calls = []

    def stream_into_full_device(url, tmp, timeout):
        calls.append(url)
        with open(FULL_DEVICE, "wb") as out:
            out.write(b"x" * 65536)
            out.flush()

    monkeypatch.setattr(download_module, "_stream", stream_into_full_device)
    remote = RemoteFile("train.gz", ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"), {"md5": "0" * 32})
    dest = tmp_path / "raw" / "train.gz"
    with pytest.raises(DiskFullError, match=f"writing {dest}"):
        download_module.download(remote, dest, retries=3, backoff_s=0)
    assert calls == ["http://127.0.0.1:9/a"] and not dest.exists()


def _truncated(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


def test_a_truncated_torch_file_is_unreadable_naming_it(tmp_path):
    path = tmp_path / "dynamic_mnist.pt"
    io.save_torch_atomic({"x": torch.arange(10000)}, path)
    _truncated(path)
    with pytest.raises(UnreadableFileError) as caught:
        io.load_torch(path)
    assert str(path) in str(caught.value) and "truncated or corrupt" in str(caught.value)
    assert "rerun Snakemake, which rebuilds it" in str(caught.value)
    path.write_bytes(b"")
    with pytest.raises(UnreadableFileError):
        io.load_torch(path)


def test_a_truncated_model_checkpoint_names_the_file(tmp_path):
    from mimflow.core.checkpoint import load_checkpoint
    from mimflow.lowdim.model import load_lowdim_model

    path = tmp_path / "model.pt"
    io.save_torch_atomic({"state_dict": {"w": torch.ones(5000)}, "run_config": {}}, path)
    _truncated(path, 0.9)
    for load in (load_checkpoint, load_lowdim_model):
        with pytest.raises(UnreadableFileError, match="model.pt cannot be read"):
            load(path)


def test_a_truncated_raw_download_names_the_file_and_how_to_fetch_it_again(tmp_path):
    from mimflow.data.images import read_idx_gz

    path = tmp_path / "train-labels-idx1-ubyte.gz"
    header = (2049).to_bytes(4, "big") + (3000).to_bytes(4, "big")
    path.write_bytes(gzip.compress(header + bytes(range(10)) * 300))
    assert len(read_idx_gz(path)) == 3000
    _truncated(path)
    with pytest.raises(UnreadableFileError) as caught:
        read_idx_gz(path)
    assert str(path) in str(caught.value) and "downloads it again" in str(caught.value)


def test_an_unreadable_resume_state_is_logged_once_and_training_starts_afresh(tmp_path, caplog):
    """A resume.pt is a cache: cut short, it is reported in one line and the run trains from epoch 1,
    to the same result as a run that never had one; the first epoch's save replaces it."""
    from tests.unit.test_core import fit_with_losses
    from mimflow.core.fit import StopRule

    reference_model, reference = fit_with_losses([3.0, 2.0, 1.0], StopRule(1, 1, 5))
    fit_with_losses([3.0, 2.0, 1.0], StopRule(1, 1, 5), tmp_path)
    resume = tmp_path / "resume.pt"
    for damage in (lambda p: _truncated(p), lambda p: p.write_bytes(b"not a checkpoint"),
                   lambda p: io.save_torch_atomic([1, 2, 3], p)):
        damage(resume)
        caplog.clear()
        seen = []
        with caplog.at_level(logging.WARNING, logger="mimflow.core.fit"):
            model, result = fit_with_losses([3.0, 2.0, 1.0], StopRule(1, 1, 5), tmp_path,
                                            lambda m, r: seen.append(r.epoch))
        lines = [r.getMessage() for r in caplog.records if "resume checkpoint unusable" in r.getMessage()]
        assert len(lines) == 1 and str(resume) in lines[0], caplog.text
        assert seen == [1, 2, 3]  # afresh
        assert [r.val_loss for r in result.history] == [r.val_loss for r in reference.history]
        assert model.weight.item() == reference_model.weight.item()
        assert torch.load(resume, weights_only=False)["finished"]  # replaced by a good one


JOB = """
import sys
from mimflow.core.joblog import job_logger
from mimflow.core.io import DiskFullError
log = job_logger(sys.argv[1], "job")
log.info("started")
if sys.argv[2] == "full":
    raise DiskFullError(28, "no space left on the device while writing results/x/model.pt (No space left on device)")
raise ValueError("a bug")
"""


def _job(tmp_path, log_path, mode):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    return subprocess.run([sys.executable, str(script), str(log_path), mode], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])


def test_a_job_fault_ends_the_job_in_one_line_in_the_log_and_on_stderr(tmp_path):
    log_path = tmp_path / "job.log"
    proc = _job(tmp_path, log_path, "full")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: no space left on the device while writing results/x/model.pt (No space left on device)"]
    assert "error: no space left" in log_path.read_text() and "Traceback" not in log_path.read_text()
    # any other error keeps its traceback, on stderr and in the log
    proc = _job(tmp_path, log_path, "bug")
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "ValueError: a bug" in log_path.read_text()


def test_a_log_that_cannot_be_written_stops_the_job_in_one_line(tmp_path):
    log_path = tmp_path / "logs" / "job.log"
    log_path.parent.mkdir()
    log_path.mkdir()  # a folder where the log file should be: unwritable even for root
    proc = _job(tmp_path, log_path, "full")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: cannot write the job log {log_path} (Is a directory): "
                                                "make its folder writable and rerun"]


def test_recorded_failures_leave_the_run_out_of_the_summary_and_name_it(tmp_path):
    from mimflow.core.tables import experiment_table, failed_runs_text
    from mimflow.workflow import RUN_DIR, template_pattern

    paths = []
    for seed, metrics in ((1, {"MI_ksg": 1.0}), (2, {"failed": "non-finite encoder-path loss (nan) at epoch 1",
                                                    "failed_in": "train"}), (3, {"MI_ksg": 3.0})):
        folder = tmp_path / RUN_DIR.format(experiment="toy2d", dataset="toy4", model="vae", z_dim=2, mid_dim=5,
                                           seed=seed)
        folder.mkdir(parents=True)
        (folder / "provenance.json").write_text(json.dumps({"settings": {"lr": 0.001}}))
        (folder / "metrics.json").write_text(json.dumps(metrics))
        paths.append(folder / "metrics.json")
    runs, summary = experiment_table(paths, template_pattern(RUN_DIR))
    assert runs["failed"].isna().tolist() == [True, False, True]
    row = summary.iloc[0]
    assert (row["MI_ksg_mean"], row["MI_ksg_count"]) == (2.0, 2)
    assert row["failed_runs"] == "seed 2 (train: non-finite encoder-path loss (nan) at epoch 1)"
    assert failed_runs_text(summary) == "vae z2-h5: seed 2 (train: non-finite encoder-path loss (nan) at epoch 1)"
    # nothing failed: the tables have no failure columns (and are what they were before failures were recorded)
    runs, summary = experiment_table([paths[0], paths[2]], template_pattern(RUN_DIR))
    assert "failed" not in runs.columns and "failed_runs" not in summary.columns and failed_runs_text(summary) == ""


def test_a_stats_figure_names_the_failed_runs_it_leaves_out_in_its_caption():
    import pandas as pd

    from mimflow.lowdim.stats_figure import stats_figure

    summary = pd.DataFrame({"experiment": ["toy2d"] * 2, "dataset": ["toy4"] * 2, "model": ["mim", "vae"],
                            "z_dim": [2, 2], "mid_dim": [5, 5], "MI_ksg_mean": [1.0, 0.5], "MI_ksg_std": [0.1, 0.1],
                            "MI_ksg_count": [2, 1], "failed_runs": ["", "seed 2 (train: non-finite loss)"]})
    caption = [t.get_text() for t in stats_figure(summary, "MI_ksg", "toy2d").texts]
    assert caption == ["Left out, failed: vae z2-h5: seed 2 (train: non-finite loss)"]
    assert stats_figure(summary.drop(columns="failed_runs"), "MI_ksg", "toy2d").texts == []
    plt.close("all")


def test_a_bad_failed_runs_value_is_one_line_naming_the_allowed():
    import yaml

    from tests.unit.test_registry import REPO_ROOT, one_line_error

    config = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    config["failed_runs"] = "ignore"
    assert one_line_error(config) == "config key failed_runs: value 'ignore' is not allowed; allowed: one of stop, record"
