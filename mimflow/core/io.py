"""Atomic file writes and checksums: no partial file ever looks complete.

Every writer goes through a hidden temporary name beside the target (`.<name>.tmp-<pid>`, so two
processes writing the same file never share one) and renames it into place.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Iterator


def temporary_name(path: str | Path) -> Path:
    """The hidden temporary name a write to `path` goes through."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `path` only when the block ends without error."""
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(data: bytes, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(data: Any, path: str | Path) -> None:
    write_bytes_atomic((json.dumps(data, indent=2, sort_keys=False, default=str) + "\n").encode(), path)


def write_csv_atomic(records: list, path: str | Path) -> None:
    """Dataclass records (one per row) as CSV with a header."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(records[0])] if records else [])
    writer.writeheader()
    writer.writerows(asdict(r) for r in records)
    write_bytes_atomic(buffer.getvalue().encode(), path)


def save_torch_atomic(obj: Any, path: str | Path) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def file_digest(path: str | Path, algo: str = "sha256") -> str:
    """Hex digest of a file's bytes with any hashlib algorithm (read in 1 MiB blocks)."""
    digest = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    return file_digest(path, "sha256")


def save_figure(fig, path: str | Path) -> None:
    """Write a matplotlib figure atomically, in the format its file name ends with, and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip("."))
    finally:
        plt.close(fig)
