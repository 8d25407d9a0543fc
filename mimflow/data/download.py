"""Checksummed downloads: mirrors, retries, a temporary name, and a rename only once verified.

A file that fails its checksum is deleted and reported in one line naming the file and both hashes;
nothing that could pass for a complete file is ever left behind.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..core.io import disk_full_error, file_digest, temporary_name

log = logging.getLogger(__name__)
HASHES = ("sha256", "md5")


class ChecksumError(RuntimeError):
    """A file's content does not match the configured checksum."""


class DownloadError(RuntimeError):
    """No mirror delivered the file."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its name, mirrors in order of preference, and expected hashes."""

    name: str
    urls: tuple[str, ...]
    checksums: dict[str, str] = field(default_factory=dict)  # {"md5": hex} and/or {"sha256": hex}

    @classmethod
    def from_config(cls, name: str, entry: dict) -> "RemoteFile":
        sums = {algo: str(entry[algo]).lower() for algo in HASHES if entry.get(algo)}
        return cls(name=name, urls=tuple(entry.get("urls", [])), checksums=sums)


def verify(path: Path, remote: RemoteFile) -> dict[str, str]:
    """Check every configured hash; returns the file's sha256 and md5."""
    actual = {algo: file_digest(path, algo) for algo in HASHES}
    for algo, expected in remote.checksums.items():
        if actual[algo] != expected:
            raise ChecksumError(f"checksum mismatch for {remote.name}: expected {algo} {expected}, got {actual[algo]}")
    if not remote.checksums:
        log.warning("no checksum configured for %s: recorded sha256 %s (add it to the config)", remote.name,
                    actual["sha256"])
    return actual


def _stream(url: str, tmp: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
        expected = response.headers.get("Content-Length")
        shutil.copyfileobj(response, out, 1 << 20)
    size = tmp.stat().st_size
    if expected is not None and size != int(expected):
        raise DownloadError(f"truncated transfer of {url}: {size} of {expected} bytes")


def _pid_alive(pid: str) -> bool:
    """Whether the process that owns a partial download still runs (another job fetching the same file)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _retryable(err: Exception) -> bool:
    if isinstance(err, urllib.error.HTTPError):
        return err.code >= 500 or err.code == 429
    return isinstance(err, (urllib.error.URLError, DownloadError, TimeoutError, ConnectionError, OSError))


def download(remote: RemoteFile, dest: str | Path, retries: int = 3, timeout: float = 60.0, backoff_s: float = 1.0,
          local_dir: str | Path | None = None) -> dict[str, str]:
    """Put a verified copy of `remote` at `dest` (from local_dir if given, else the mirrors).

    Returns the verified hashes. Transfer failures are retried (with backoff) on every mirror; a
    checksum mismatch stops at once. The partial file is always removed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(dest)
    for stale in dest.parent.glob(f".{dest.name}.tmp-*"):  # left by a killed job, not a running one
        if not _pid_alive(stale.name.rsplit("-", 1)[-1]):
            stale.unlink(missing_ok=True)
    try:
        if local_dir is not None:
            source = Path(local_dir) / remote.name
            if not source.is_file():
                raise DownloadError(f"{remote.name} not found in data.local_dir {local_dir}")
            shutil.copyfile(source, tmp)
            hashes = verify(tmp, remote)
            os.replace(tmp, dest)
            log.info("copied %s from %s", remote.name, source)
            return hashes
        if not remote.urls:
            raise DownloadError(f"no URL configured for {remote.name}")
        errors, dead = [], set()
        for attempt in range(1, retries + 1):
            for url in remote.urls:
                if url in dead:
                    continue
                try:
                    _stream(url, tmp, timeout)
                except Exception as err:  # noqa: BLE001 - classified by _retryable
                    tmp.unlink(missing_ok=True)
                    if disk_full_error(err, dest) is not None:  # no mirror can help
                        raise
                    errors.append(f"{url}: {err}")
                    log.warning("attempt %d of %s failed: %s", attempt, url, err)
                    if not _retryable(err):
                        dead.add(url)  # e.g. 404: this mirror will not get better
                    continue
                hashes = verify(tmp, remote)
                os.replace(tmp, dest)
                log.info("downloaded %s from %s (sha256 %s)", remote.name, url, hashes["sha256"])
                return hashes
            if len(dead) == len(remote.urls):
                break
            if attempt < retries:
                time.sleep(backoff_s * attempt)
        raise DownloadError(f"could not download {remote.name} after {attempt} attempt(s): {errors[-1]}")
    except OSError as err:
        full = disk_full_error(err, dest)
        if full is not None:
            raise full from err
        raise
    finally:
        tmp.unlink(missing_ok=True)
