"""Small data files in the real formats (IDX .gz, OMNIGLOT .mat), and a local HTTP server for them.

The server serves a folder at http://127.0.0.1:<port>/ and fakes faults by path prefix:
  /fail<N>/<path>   answers 503 to the first N requests for <path>, then serves it
  /truncate/<path>  promises the full Content-Length but sends half the bytes
  /corrupt/<path>   serves the file with one byte changed
"""
from __future__ import annotations

import gzip
import hashlib
import struct
import threading
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

IDX_NAMES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
             "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX format: magic (0, 0, type 0x08 = ubyte, ndim), big-endian dims, raw bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def class_images(n: int, rng: np.random.Generator, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """28x28 uint8 images whose class decides a bright bar's row (2 + label): structure PCA and KNN find."""
    labels = rng.integers(0, n_classes, n)
    images = rng.integers(0, 40, (n, 28, 28))
    for i, label in enumerate(labels):
        images[i, 2 + label, 4:24] = 200 + rng.integers(0, 55)
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_mnist_like(folder: Path, n_train: int, n_test: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = class_images(n_train, rng)
    test_x, test_y = class_images(n_test, rng)
    for key, array in (("train_images", train_x), ("train_labels", train_y), ("test_images", test_x),
                       ("test_labels", test_y)):
        (folder / IDX_NAMES[key]).write_bytes(gzip.compress(idx_bytes(array), mtime=0))


def write_omniglot(folder: Path, n_train: int, n_test: int, seed: int) -> None:
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = class_images(n_train, rng, n_classes=20)
    test_x, test_y = class_images(n_test, rng, n_classes=20)
    savemat(folder / "chardata.mat", {
        "data": (train_x.reshape(n_train, -1).T / 255.0), "testdata": (test_x.reshape(n_test, -1).T / 255.0),
        "targetchar": train_y[None].astype(np.float64) + 1, "testtargetchar": test_y[None].astype(np.float64) + 1,
        "target": np.eye(50)[:, rng.integers(0, 50, n_train)], "testtarget": np.eye(50)[:, rng.integers(0, 50, n_test)],
    })


def make_fixture_files(root: Path) -> dict[str, dict[str, str]]:
    """All raw files under root/<source>/; returns {source: {filename: md5}}."""
    write_mnist_like(root / "mnist", 120, 64, seed=1)
    write_mnist_like(root / "fashion_mnist", 640, 256, seed=2)
    write_omniglot(root / "omniglot", 80, 40, seed=3)
    return {source.name: {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in sorted(source.iterdir())}
            for source in sorted(root.iterdir()) if source.is_dir()}


class FaultyHandler(SimpleHTTPRequestHandler):
    counts: Counter = Counter()

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        parts = self.path.lstrip("/").split("/", 1)
        mode = parts[0] if len(parts) == 2 else ""
        rest = parts[1] if len(parts) == 2 else ""
        type(self).counts[self.path] += 1
        if mode == "gate":  # held until the test opens the gate: proves that requests are in flight at once
            with type(self).lock:
                type(self).waiting[rest] += 1
            type(self).gate.wait()
            self.path = "/" + rest
        elif mode.startswith("fail") and mode[4:].isdigit():
            if type(self).counts[self.path] <= int(mode[4:]):
                self.send_error(503, "fixture: temporarily unavailable")
                return
            self.path = "/" + rest
        elif mode in ("truncate", "corrupt"):
            file = Path(self.directory) / rest
            if not file.is_file():
                self.send_error(404)
                return
            body = file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "truncate":
                self.wfile.write(body[: len(body) // 2])
            else:
                self.wfile.write(body[:-1] + bytes([body[-1] ^ 0xFF]))
            return
        super().do_GET()


class FixtureServer:
    """A threaded HTTP server on 127.0.0.1 (free port) serving `root`; use as a context manager."""

    def __init__(self, root: Path):
        handler = type("Handler", (FaultyHandler,), {"counts": Counter(), "gate": threading.Event(),
                                                     "waiting": Counter(), "lock": threading.Lock()})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: handler(*a, directory=str(root), **k))
        self.handler = handler
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FixtureServer":
        self.thread.start()
        return self

    def waiting_at_gate(self) -> int:
        """Requests under /gate/ that are held now or were held before the gate opened."""
        with self.handler.lock:
            return sum(self.handler.waiting.values())

    def __exit__(self, *exc) -> None:
        self.handler.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def content_sha256(path: Path) -> str:
    """sha256 of what a raw file holds (decompressed if gzipped), as config's content_sha256."""
    data = path.read_bytes()
    return hashlib.sha256(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).hexdigest()


def data_override(url: str, checksums: dict[str, dict[str, str]], prefix: str = "", root: Path | None = None) -> dict:
    """A config override pointing every source at the fixture server (with an optional fault prefix) and at
    no installed package (the tests serve their own files even where Debian's dataset-fashion-mnist is
    installed). With the served root, the files' content checksums too."""
    def entry(source: str, name: str, md5: str) -> dict:
        return {"md5": md5, "content_sha256": content_sha256(root / source / name) if root else None}

    return {"data": {"sources": {
        source: {"mirrors": [f"{url}/{prefix}{source}/"], "installed": None,
                 "files": {name: entry(source, name, md5) for name, md5 in files.items()}}
        for source, files in checksums.items()
    }}}
