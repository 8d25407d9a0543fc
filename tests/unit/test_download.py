"""Checksummed downloads against a real HTTP server on 127.0.0.1 serving files in the real formats."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from mimflow.data.download import ChecksumError, DownloadError, InstalledCopy, RemoteFile, download

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


# ---- verified by content: a re-compressed copy (Debian's dataset-fashion-mnist) and the installed-package folder


def served_bytes(server) -> bytes:
    return (server.root / "mnist" / NAME).read_bytes()


def by_content(server, urls=None, installed=None) -> RemoteFile:
    """The file checked only by the sha256 of its decompressed bytes, as config.yaml pins Fashion-MNIST."""
    content = hashlib.sha256(gzip.decompress(served_bytes(server))).hexdigest()
    return RemoteFile(NAME, tuple(urls if urls is not None else [f"{server.url}/mnist/{NAME}"]),
                      {"content_sha256": content}, installed)


def recompressed(folder, data: bytes) -> InstalledCopy:
    """A package folder holding `data` gzip-compressed afresh (no file name, another time stamp: other bytes)."""
    folder.mkdir(parents=True)
    (folder / NAME).write_bytes(gzip.compress(data, mtime=1591347949))
    return InstalledCopy(str(folder), "dataset-test-package")


def test_content_checksum_passes_a_recompressed_copy_and_nothing_else(server, tmp_path):
    content = gzip.decompress(served_bytes(server))
    package = recompressed(tmp_path / "pkg", content)
    assert (Path(package.folder) / NAME).read_bytes() != served_bytes(server)  # other .gz bytes, same content
    record = download(by_content(server, urls=[], installed=package), tmp_path / "out" / NAME)
    assert record["content_sha256"] == hashlib.sha256(content).hexdigest()
    assert record["origin"]["source"] == "package dataset-test-package"
    assert record["origin"]["path"] == str(Path(package.folder) / NAME)
    download(by_content(server), tmp_path / "official" / NAME, retries=1, backoff_s=0)  # the served .gz passes too
    altered = content[:-1] + bytes([content[-1] ^ 1])
    other = recompressed(tmp_path / "pkg2", altered)
    with pytest.raises(ChecksumError, match="expected content sha256 .decompressed.") as err:
        download(by_content(server, urls=[], installed=other), tmp_path / "bad" / NAME)
    assert "\n" not in str(err.value) and hashlib.sha256(altered).hexdigest() in str(err.value)
    assert not (tmp_path / "bad" / NAME).exists()
    (tmp_path / "pkg3").mkdir()
    (tmp_path / "pkg3" / NAME).write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(ChecksumError, match="not a readable gzip file"):
        download(by_content(server, urls=[], installed=InstalledCopy(str(tmp_path / "pkg3"), "p")), tmp_path / "x" / NAME)


def test_installed_copy_comes_before_the_mirrors_and_local_dir_before_both(server, tmp_path):
    package = recompressed(tmp_path / "pkg", gzip.decompress(served_bytes(server)))
    unreachable = ["http://127.0.0.1:9/nothing/" + NAME]
    record = download(by_content(server, urls=unreachable, installed=package), tmp_path / "a" / NAME, retries=1)
    assert record["origin"]["source"] == "package dataset-test-package"
    record = download(by_content(server, installed=package), tmp_path / "b" / NAME, local_dir=server.root / "mnist")
    assert record["origin"] == {"source": "data.local_dir", "path": str(server.root / "mnist" / NAME)}
    assert (tmp_path / "b" / NAME).read_bytes() == served_bytes(server)
    missing = InstalledCopy(str(tmp_path / "not-installed"), "dataset-test-package")
    record = download(by_content(server, installed=missing), tmp_path / "c" / NAME, retries=1)  # falls back
    assert record["origin"] == {"source": "mirror", "url": f"{server.url}/mnist/{NAME}"}


def test_neither_package_nor_mirror_is_one_line_naming_both_ways_in(server, tmp_path):
    missing = InstalledCopy(str(tmp_path / "not-installed"), "dataset-fashion-mnist")
    dest = tmp_path / "fashion_mnist" / NAME
    with pytest.raises(DownloadError) as err:
        download(by_content(server, urls=["http://127.0.0.1:9/offline/" + NAME], installed=missing), dest,
                 retries=1, backoff_s=0, timeout=5)
    message = str(err.value)
    assert "\n" not in message
    assert f"could not download {NAME}" in message
    assert "apt-get install dataset-fashion-mnist" in message and "data.local_dir" in message
    assert "<dir>/fashion_mnist/" in message
    assert leftovers(dest.parent) == []
