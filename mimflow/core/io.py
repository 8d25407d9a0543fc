"""Atomic file writes and checksums: no partial file ever looks complete.

Every writer goes through a hidden temporary name beside the target (`.<name>.tmp-<pid>`, so two
processes writing the same file never share one) and renames it into place. A write that fails for a
full disk raises DiskFullError naming the file; a file that cannot be read back (truncated, corrupt)
raises UnreadableFileError naming it. Both are JobErrors: a workflow job reports them in one line
(mimflow.core.joblog).
"""
from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import pickle
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Iterator


class JobError(Exception):
    """A fault the user can act on: a job reports its message in one line, without a traceback."""

    def __str__(self) -> str:  # the message alone (an OSError would prefix "[Errno N]")
        return self.strerror if isinstance(self, OSError) and self.strerror else super().__str__()


class DiskFullError(JobError, OSError):
    """A write stopped for lack of space (or quota); the target is untouched."""


class UnreadableFileError(JobError, OSError):
    """A file exists but cannot be read back: truncated or corrupt."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def disk_full_error(err: BaseException, path: str | Path) -> DiskFullError | None:
    """The DiskFullError naming `path` when `err` is a write that failed for lack of space, else None."""
    if not isinstance(err, OSError) or isinstance(err, JobError) or err.errno not in DISK_FULL_ERRNOS:
        return None
    return DiskFullError(err.errno, f"no space left on the device while writing {path} ({os.strerror(err.errno)}); "
                         "any earlier copy of it is untouched: free space there and rerun")


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
    except OSError as err:
        full = disk_full_error(err, path)
        if full is not None:
            raise full from err
        raise
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

    # Through a Python file object, so a failed write raises OSError with its errno (torch.save on a path
    # reports a full disk as an opaque RuntimeError).
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)


# What reading a truncated or corrupt file raises, by format: torch (zip or pickle), gzip, numpy, JSON.
_READ_ERRORS = (EOFError, RuntimeError, ValueError, OSError, KeyError, IndexError, TypeError, AttributeError,
                ImportError, pickle.UnpicklingError, zipfile.BadZipFile)


@contextmanager
def reading(path: str | Path, rebuild: str = "delete it and rerun Snakemake, which rebuilds it") -> Iterator[None]:
    """Turn a failure to read `path` into UnreadableFileError naming it and what to do (`rebuild`). A missing
    file stays FileNotFoundError; a JobError raised inside (a nested read) passes through."""
    try:
        yield
    except (JobError, FileNotFoundError):
        raise
    except _READ_ERRORS as err:
        why = " ".join(str(err).split())  # one line, whatever the reader's message
        raise UnreadableFileError(errno.EIO, f"{path} cannot be read ({type(err).__name__}: {why}); it is truncated "
                                  f"or corrupt: {rebuild}") from err


def load_numpy(path: str | Path) -> Any:
    """np.load (no pickles) of an array file this workflow wrote; UnreadableFileError when it cannot be read."""
    import numpy as np

    with reading(path):
        return np.load(path, allow_pickle=False)


def load_json(path: str | Path) -> Any:
    """A JSON file this workflow wrote; UnreadableFileError when it cannot be read."""
    with reading(path):
        return json.loads(Path(path).read_text())


def load_torch(path: str | Path) -> Any:
    """torch.load (full pickle, tensors on the CPU) of a file this workflow wrote; UnreadableFileError when
    it cannot be read."""
    import torch

    with reading(path):
        return torch.load(path, weights_only=False, map_location="cpu")


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
