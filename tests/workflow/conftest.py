"""Fixtures that run the real workflow with real Snakemake in a scratch copy of the repository."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import time
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


def summary_rows(workdir: Path, *args: str) -> list[dict[str, str]]:
    """Snakemake's machine-readable --summary, one dict per output file of the DAG (output_file, date, rule,
    log-file(s), status, plan)."""
    proc = snakemake(workdir, "--summary", *args)
    lines = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
    header = lines[0]
    assert header[0] == "output_file" and "plan" in header, proc.stdout[:2000]
    return [dict(zip(header, row)) for row in lines[1:]]


def pending_outputs(workdir: Path, *args: str) -> dict[str, str]:
    """Every output file whose plan is not "no update", with that plan (for example "update pending")."""
    return {row["output_file"]: row["plan"] for row in summary_rows(workdir, *args) if row["plan"] != "no update"}


GROUP_RULES = ("train_lowdim", "evaluate_lowdim", "run_figures")  # one job per seed group


def planned_jobs(workdir: Path, *args: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job that --summary plans to run, read back from its output paths: a run's
    files belong to its run's job, or to its seed group's job for the group rules (no seed then); any
    other output file stands for its own job (wildcards {"output": path})."""
    from mimflow.workflow import IMAGE_RUN_DIR, RUN_DIR, template_pattern

    run_pattern, image_pattern = template_pattern(RUN_DIR), template_pattern(IMAGE_RUN_DIR)
    jobs: dict[tuple, tuple[str, dict[str, str]]] = {}
    for row in summary_rows(workdir, *args):
        if row["plan"] == "no update":
            continue
        rule, path = row["rule"], row["output_file"]
        match = image_pattern.match(path) or run_pattern.match(path)
        wildcards = match.groupdict() if match else {"output": path}
        if match and rule in GROUP_RULES:
            wildcards.pop("seed", None)
        jobs.setdefault((rule, tuple(sorted(wildcards.items()))), (rule, wildcards))
    return list(jobs.values())


def write_data_override(workdir: Path, server, prefix: str = "", name: str = "test_data.yaml") -> str:
    (workdir / name).write_text(yaml.safe_dump(data_override(server.url, server.checksums, prefix, server.root)))
    return name


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, fixture_server) -> Path:
    """The smoke preset, run once through `snakemake --cores 2` against the fixture server."""
    workdir = copy_workflow(tmp_path_factory.mktemp("smoke"))
    override = write_data_override(workdir, fixture_server)
    snakemake(workdir, "--cores", "2", "--configfile", "presets/smoke.yaml", override)
    return workdir


def report_captions(report: Path) -> dict[str, str]:
    """Every report item's caption as a reader reads it (tags dropped, white space collapsed), by the item's
    path."""
    text = report.read_text(errors="replace")
    start = text.index('<script id="results">')
    block = text[text.index("{", start):text.index("</script>", start)]
    results = json.loads(block[:block.rindex("}") + 1])
    return {path: " ".join(re.sub(r"<[^>]+>", "", entry["caption"]).split()) for path, entry in results.items()}


SMOKE_ARGS = ("--configfile", "presets/smoke.yaml", "test_data.yaml")


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size: str = "4m", read_only: bool = False):
    """A small tmpfs mounted at `where` for the block (a full disk, a read-only folder, for real); the test is
    skipped, saying why, where this machine does not let the tests mount (they need root)."""
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill_device(folder: Path) -> Path:
    """Fill the file system of `folder` to the last byte with one file; returns it (delete it to free the space)."""
    filler = folder / ".filler"
    with open(filler, "wb", buffering=0) as out:  # unbuffered: every write reaches the device, none at close
        for block in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    out.write(b"\0" * block)
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
    return filler


def script_processes(script: str, workdir: Path | None = None, slurm_job: str | None = None) -> list[int]:
    """PIDs of the processes that run a job script named `script` (e.g. evaluate_lowdim.py; Snakemake runs it
    from .snakemake/scripts/tmp<...>.<script>), for the Snakemake run in `workdir` (its cwd) or inside SLURM
    job `slurm_job` (its environment; readable as root)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if workdir is not None and os.readlink(proc / "cwd") != os.path.realpath(workdir):
                continue
            if slurm_job is not None and f"SLURM_JOB_ID={slurm_job}".encode() not in \
                    (proc / "environ").read_bytes().split(b"\0"):
                continue
        except OSError:  # gone, or not ours to read
            continue
        if any(a.endswith(f".{script}".encode()) for a in argv):
            pids.append(int(proc.name))
    return pids


def wait_until(predicate, what: str, proc: subprocess.Popen | None = None, poll_s: float = 0.05):
    """Poll `predicate` until it returns something truthy and return that; fail naming `what` if `proc`
    ends first. The cap (HANG_GUARD_S) only guards against hangs: nothing here races the clock."""
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read()[-3000:] if proc.stdout else ""
            raise AssertionError(f"the process ended (rc {proc.returncode}) before {what}:\n{out}")
        time.sleep(poll_s)
    raise AssertionError(f"no {what} within {HANG_GUARD_S} s")
