"""Download and dataset rules through real Snakemake against the fixture HTTP server."""
from __future__ import annotations

import pytest

import yaml

from .conftest import copy_workflow, pending_outputs, snakemake, write_data_override

pytestmark = pytest.mark.workflow  # runs real Snakemake jobs: not in make test-fast

TARGET = "resources/raw/mnist/train-labels-idx1-ubyte.gz"
ARGS = ("--cores", "1", "--configfile", "presets/smoke.yaml")


def test_corrupted_download_gives_one_line_and_leaves_nothing(tmp_path, fixture_server):
    workdir = copy_workflow(tmp_path / "wf")
    override = write_data_override(workdir, fixture_server, prefix="corrupt/")
    proc = snakemake(workdir, TARGET, *ARGS, override, check=False)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("mimflow:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    expected = fixture_server.checksums["mnist"]["train-labels-idx1-ubyte.gz"]
    assert "checksum mismatch for train-labels-idx1-ubyte.gz" in lines[0] and f"expected md5 {expected}" in lines[0]
    folder = workdir / "resources" / "raw" / "mnist"
    assert not folder.exists() or list(folder.iterdir()) == []
    dry = snakemake(workdir, TARGET, "-n", *ARGS, override)
    assert "rule download" in dry.stdout  # nothing was taken as complete


def test_verified_files_are_not_refetched(tmp_path, fixture_server):
    workdir = copy_workflow(tmp_path / "wf")
    override = write_data_override(workdir, fixture_server)
    snakemake(workdir, TARGET, *ARGS, override)
    served = fixture_server.root / "mnist" / "train-labels-idx1-ubyte.gz"
    served.touch()  # the server's copy is newer now
    (workdir / "mirrors.yaml").write_text(yaml.safe_dump(
        {"data": {"sources": {"mnist": {"mirrors": ["http://127.0.0.1:9/unused/"]}}, "timeout_s": 5}}))
    assert pending_outputs(workdir, TARGET, *ARGS, override, "mirrors.yaml") == {}


def test_local_dir_builds_without_network(tmp_path, fixture_server):
    workdir = copy_workflow(tmp_path / "wf")
    override = write_data_override(workdir, fixture_server)
    (workdir / "local.yaml").write_text(yaml.safe_dump({"data": {"local_dir": str(fixture_server.root), "sources": {
        source: {"mirrors": ["http://127.0.0.1:9/unreachable/"]} for source in ("mnist", "fashion_mnist", "omniglot")}}}))
    snakemake(workdir, "resources/datasets/dynamic_mnist.pt", *ARGS, override, "local.yaml")
    assert (workdir / "resources" / "datasets" / "dynamic_mnist.pt").is_file()
    log = (workdir / "results" / "logs" / "download" / "mnist" / "train-images-idx3-ubyte.gz.log").read_text()
    assert "copied" in log
