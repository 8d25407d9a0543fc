"""What the two runners of the ORIGINAL code share (bench/original_images.py, bench/original_lowdim.py):
unpacking one commit's files from a local git directory, and a timed copy of the original's stdout.
Nothing of the original is part of this repository: it only ever exists under a runner's --out."""
import io
import subprocess
import sys
import tarfile
import time
from pathlib import Path


def extract(git_dir, commit, dest, files, fail):
    """Resolve commit to 40 hex in git_dir; with dest, unpack `files` (paths in the repository) there.
    fail(message) ends the runner with one line."""
    git = ["git", "--git-dir", str(git_dir)]
    if not (Path(git_dir) / "HEAD").is_file():
        fail(f"no git directory at {git_dir}")
    rev = subprocess.run(git + ["rev-parse", "--verify", "--quiet", commit + "^{commit}"],
                         capture_output=True, text=True)
    if rev.returncode != 0:
        fail(f"commit {commit!r} not found in {git_dir}")
    sha = rev.stdout.strip()
    if dest is not None:
        tar = subprocess.run(git + ["archive", "--format=tar", sha] + list(files), capture_output=True)
        if tar.returncode != 0:
            fail(f"git archive {sha} failed: {tar.stderr.decode().strip()}")
        with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as t:
            t.extractall(dest, filter="data")
    return sha


class TimedTee:
    """stdout to the console and to a log whose lines carry the seconds since start (kept in .lines)."""

    def __init__(self, path, t0):
        self.console, self.log, self.t0, self.buf, self.lines = sys.stdout, open(path, "w", buffering=1), t0, "", []

    def write(self, s):
        self.console.write(s)
        *done, self.buf = (self.buf + s).split("\n")
        for line in done:
            self.lines.append((time.time() - self.t0, line))
            self.log.write(f"{self.lines[-1][0]:9.2f} | {line}\n")
        return len(s)

    def flush(self):
        self.console.flush()
        self.log.flush()
