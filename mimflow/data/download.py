"""Checksummed raw files: from data.local_dir, an installed system package, or the mirrors, in that order.

Every copy goes to a temporary name and is renamed only once verified. A file that fails its checksum is
deleted and reported in one line naming the file and both hashes; nothing that could pass for a complete
file is ever left behind. `content_sha256` checks what a file holds (the decompressed bytes of a .gz), so
a re-compressed copy of the same data, such as Debian's dataset-fashion-mnist, passes and nothing else does.
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..core.io import disk_full_error, file_digest, temporary_name

log = logging.getLogger(__name__)
HASHES = ("sha256", "md5")  # of the file's bytes
CONTENT_HASH = "content_sha256"  # of what the file holds: the decompressed bytes of a .gz, else the bytes


class ChecksumError(RuntimeError):
    """A file's content does not match the configured checksum."""


class DownloadError(RuntimeError):
    """No mirror delivered the file."""


@dataclass(frozen=True)
class InstalledCopy:
    """A folder where a system package installs the files (e.g. Debian's dataset-fashion-mnist)."""

    folder: str
    package: str

    def install_hint(self) -> str:
        return f"apt-get install {self.package}"


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its name, mirrors in order of preference, expected hashes, and where a system
    package may have installed it."""

    name: str
    urls: tuple[str, ...]
    checksums: dict[str, str] = field(default_factory=dict)  # md5, sha256 (file bytes), content_sha256
    installed: InstalledCopy | None = None

    @classmethod
    def from_config(cls, name: str, entry: dict) -> "RemoteFile":
        sums = {algo: str(entry[algo]).lower() for algo in (*HASHES, CONTENT_HASH) if entry.get(algo)}
        installed = entry.get("installed")
        return cls(name=name, urls=tuple(entry.get("urls", [])), checksums=sums,
                   installed=InstalledCopy(installed["dir"], installed["package"]) if installed else None)


def content_digest(path: Path) -> str:
    """sha256 of what a file holds: its decompressed bytes if it is gzip-compressed, else its bytes."""
    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    if not compressed:
        return file_digest(path, "sha256")
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ChecksumError(f"{path.name} is not a readable gzip file: {err}") from err
    return digest.hexdigest()


def verify(path: Path, remote: RemoteFile) -> dict[str, str]:
    """Check every configured hash; returns the file's sha256 and md5 (and content_sha256 where checked)."""
    actual = {algo: file_digest(path, algo) for algo in HASHES}
    for algo in HASHES:
        expected = remote.checksums.get(algo)
        if expected and actual[algo] != expected:
            raise ChecksumError(f"checksum mismatch for {remote.name}: expected {algo} {expected}, got {actual[algo]}")
    expected = remote.checksums.get(CONTENT_HASH)
    if expected:
        actual[CONTENT_HASH] = content_digest(path)
        if actual[CONTENT_HASH] != expected:
            raise ChecksumError(f"checksum mismatch for {remote.name}: expected content sha256 (decompressed) "
                                f"{expected}, got {actual[CONTENT_HASH]}")
    if not remote.checksums:
        log.warning("no checksum configured for %s: recorded sha256 %s (add it to the config)", remote.name,
                    actual["sha256"])
    return actual


def package_version(package: str) -> str | None:
    """The installed version of a Debian package (dpkg-query), or None where dpkg cannot tell."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    version = out.stdout.strip()
    return version if out.returncode == 0 and version else None


def _copy_verified(source: Path, tmp: Path, dest: Path, remote: RemoteFile, origin: dict) -> dict:
    shutil.copyfile(source, tmp)
    record = verify(tmp, remote)
    os.replace(tmp, dest)
    log.info("copied %s from %s (%s)", remote.name, source, origin["source"])
    return {**record, "origin": origin}


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
          local_dir: str | Path | None = None) -> dict:
    """Put a verified copy of `remote` at `dest`: from local_dir if given (and only from there), else from
    the system package's folder where it holds the file, else from the mirrors.

    Returns the verified hashes and "origin" (where the copy came from: local_dir, package or mirror).
    Transfer failures are retried (with backoff) on every mirror; a checksum mismatch stops at once. The
    partial file is always removed.
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
            return _copy_verified(source, tmp, dest, remote, {"source": "data.local_dir", "path": str(source)})
        installed = remote.installed
        if installed is not None and (Path(installed.folder) / remote.name).is_file():
            source = Path(installed.folder) / remote.name
            return _copy_verified(source, tmp, dest, remote, {
                "source": f"package {installed.package}", "path": str(source),
                "package_version": package_version(installed.package)})
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
                return {**hashes, "origin": {"source": "mirror", "url": url}}
            if len(dead) == len(remote.urls):
                break
            if attempt < retries:
                time.sleep(backoff_s * attempt)
        failed = f"could not download {remote.name} after {attempt} attempt(s): {errors[-1]}"
        if installed is not None:  # name both ways in: the package, or the files in data.local_dir
            raise DownloadError(f"{failed}; {installed.package} is not installed (no {installed.folder}/"
                                f"{remote.name}): run `{installed.install_hint()}`, or put the files in "
                                f"<dir>/{Path(dest).parent.name}/ and set data.local_dir: <dir>")
        raise DownloadError(failed)
    except OSError as err:
        full = disk_full_error(err, dest)
        if full is not None:
            raise full from err
        raise
    finally:
        tmp.unlink(missing_ok=True)
