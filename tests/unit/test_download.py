"""Checksummed downloads against a real HTTP server on 127.0.0.1 serving files in the real formats."""
from __future__ import annotations

import hashlib

import pytest

from mimflow.data.download import ChecksumError, DownloadError, RemoteFile, download

NAME = "train-labels-idx1-ubyte.gz"


@pytest.fixture
def server(fixture_server):
    return fixture_server


def remote(server, prefix="", md5=None):
    return RemoteFile(NAME, (f"{server.url}/{prefix}mnist/{NAME}",),
                      {"md5": md5 or server.checksums["mnist"][NAME]})


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_success_verifies_and_renames(server, tmp_path):
    dest = tmp_path / NAME
    hashes = download(remote(server), dest, retries=1, backoff_s=0)
    assert dest.read_bytes() == (server.root / "mnist" / NAME).read_bytes()
    assert hashes["md5"] == server.checksums["mnist"][NAME]
    assert hashes["sha256"] == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert leftovers(tmp_path) == [NAME]


def test_checksum_mismatch_is_one_line_and_leaves_nothing(server, tmp_path):
    with pytest.raises(ChecksumError) as err:
        download(remote(server, "corrupt/"), tmp_path / NAME, retries=3, backoff_s=0)
    message = str(err.value)
    assert "\n" not in message
    actual = hashlib.md5((server.root / "mnist" / NAME).read_bytes()[:-1]).hexdigest()  # not the corrupt one
    assert NAME in message and server.checksums["mnist"][NAME] in message and "got" in message
    assert actual not in message or actual == server.checksums["mnist"][NAME]
    assert leftovers(tmp_path) == []


def test_wrong_expected_checksum_names_both_hashes(server, tmp_path):
    bogus = "0" * 32
    with pytest.raises(ChecksumError, match=f"expected md5 {bogus}, got {server.checksums['mnist'][NAME]}"):
        download(remote(server, md5=bogus), tmp_path / NAME, retries=1, backoff_s=0)
    assert leftovers(tmp_path) == []


def test_truncated_transfer_is_retried_then_fails_cleanly(server, tmp_path):
    with pytest.raises(DownloadError, match="truncated"):
        download(remote(server, "truncate/"), tmp_path / NAME, retries=2, backoff_s=0)
    assert server.handler.counts[f"/truncate/mnist/{NAME}"] == 2
    assert leftovers(tmp_path) == []


def test_server_error_is_retried_until_success(server, tmp_path):
    download(remote(server, "fail2/"), tmp_path / NAME, retries=3, backoff_s=0)
    assert server.handler.counts[f"/fail2/mnist/{NAME}"] == 3
    assert (tmp_path / NAME).read_bytes() == (server.root / "mnist" / NAME).read_bytes()


def test_server_error_beyond_retries_fails(server, tmp_path):
    with pytest.raises(DownloadError, match="after 2 attempt"):
        download(remote(server, "fail5/"), tmp_path / NAME, retries=2, backoff_s=0)
    assert leftovers(tmp_path) == []


def test_missing_file_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        download(RemoteFile("nope.gz", (f"{server.url}/mnist/nope.gz",)), tmp_path / "nope.gz", retries=3, backoff_s=0)
    assert server.handler.counts["/mnist/nope.gz"] == 1


def test_mirror_fallback(server, tmp_path):
    r = RemoteFile(NAME, (f"{server.url}/missing/{NAME}", f"{server.url}/mnist/{NAME}"),
                   {"md5": server.checksums["mnist"][NAME]})
    download(r, tmp_path / NAME, retries=1, backoff_s=0)
    assert (tmp_path / NAME).exists()


def test_local_dir_is_copied_and_verified(server, tmp_path):
    dest = tmp_path / "out" / NAME
    download(remote(server, md5=server.checksums["mnist"][NAME]), dest, local_dir=server.root / "mnist")
    assert dest.read_bytes() == (server.root / "mnist" / NAME).read_bytes()
    with pytest.raises(ChecksumError):
        download(remote(server, md5="1" * 32), tmp_path / "other" / NAME, local_dir=server.root / "mnist")
    assert not (tmp_path / "other" / NAME).exists()
    with pytest.raises(DownloadError, match="not found in data.local_dir"):
        download(remote(server), tmp_path / "x" / NAME, local_dir=tmp_path / "empty")


def test_stale_partial_files_are_removed(server, tmp_path):
    stale = tmp_path / f".{NAME}.tmp-99999"
    stale.write_bytes(b"half a file")
    download(remote(server), tmp_path / NAME, retries=1, backoff_s=0)
    assert leftovers(tmp_path) == [NAME]
