"""Fixtures that run the real workflow with real Snakemake in a scratch copy of the repository."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixture_data import data_override

REPO = Path(__file__).resolve().parents[2]
WORKFLOW_PARTS = ["Snakefile", "rules", "workflow_scripts", "config.yaml", "presets", "schemas", "profiles", "envs",
                  "reference", "report", "docs"]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# Subprocess timeouts only guard against hangs: generous, so a slow or loaded machine never fails a test.
HANG_GUARD_S = 3600


def copy_workflow(dest: Path) -> Path:
    """A fresh working copy of the workflow (results and .snakemake live there, not in the repo)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / part)
    return dest


def snakemake(workdir: Path, *args: str, timeout: int = HANG_GUARD_S, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def pending_outputs(workdir: Path, *args: str) -> dict[str, str]:
    """Snakemake's machine-readable --summary: every output file of the DAG whose plan is not "no update",
    with that plan (for example "update pending")."""
    proc = snakemake(workdir, "--summary", *args)
    lines = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
    header, rows = lines[0], lines[1:]
    file_col, plan_col = header.index("output_file"), header.index("plan")
    return {row[file_col]: row[plan_col] for row in rows if row[plan_col] != "no update"}


def write_data_override(workdir: Path, server, prefix: str = "", name: str = "test_data.yaml") -> str:
    (workdir / name).write_text(yaml.safe_dump(data_override(server.url, server.checksums, prefix)))
    return name


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, fixture_server) -> Path:
    """The smoke preset, run once through `snakemake --cores 2` against the fixture server."""
    workdir = copy_workflow(tmp_path_factory.mktemp("smoke"))
    override = write_data_override(workdir, fixture_server)
    snakemake(workdir, "--cores", "2", "--configfile", "presets/smoke.yaml", override)
    return workdir


SMOKE_ARGS = ("--configfile", "presets/smoke.yaml", "test_data.yaml")
