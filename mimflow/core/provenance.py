"""What produced a result: code version, settings, packages, machine, times, input checksums."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from .io import sha256_file

PACKAGES = ("mimflow", "torch", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "snakemake")
CODE_ROOT = Path(__file__).resolve().parents[2]


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def git_state(root: Path = CODE_ROOT) -> dict[str, Any]:
    """Commit and dirty flag of the code that ran (the mimflow checkout), or 'unknown' outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": dirty}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads)"


def settings_hash(settings: dict[str, Any]) -> str:
    """A short, order-independent fingerprint of a settings dict."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def provenance_record(settings: dict[str, Any], started: str, inputs: dict[str, str] | None = None,
                      extra: dict[str, Any] | None = None, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """`code` is the checkout's commit (dirty: tracked files edited); `source` (mimflow.core.source_code) the
    files this job ran, each with its sha256, naming those modified or untracked, plugin files included."""
    record = {
        "code": git_state(),
        **({"source": source} if source is not None else {}),
        "settings": settings,
        "settings_hash": settings_hash(settings),
        "packages": package_versions(),
        "python": platform.python_version(),
        "device": device_description(),
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "started": started,
        "finished": now(),
        "input_files": {name: str(path) for name, path in (inputs or {}).items()},
        "inputs_sha256": {name: sha256_file(path) for name, path in (inputs or {}).items()},
    }
    record.update(extra or {})
    return record
