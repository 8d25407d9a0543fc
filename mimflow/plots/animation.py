"""Training animations: one reconstruction frame per epoch, assembled into GIFs (and MP4 with ffmpeg)."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch
from PIL import Image

from ..data.toy import GaussianMixture
from ..models.lowdim import LowdimModel
from .toy2d import reconstruction_figure


def render_frames(model: LowdimModel, states: list[dict], epochs: list[int], mixture: GaussianMixture, seed: int,
                  label: str, dpi: int, n_points: int, n_show: int, ksg_points: int) -> list[Image.Image]:
    """One frame per recorded epoch, all on the same fresh points (same generator seed) to avoid flicker."""
    frames = []
    for epoch, state in zip(epochs, states):
        model.load_state_dict(state)
        buffer = io.BytesIO()
        reconstruction_figure(model, mixture, torch.Generator().manual_seed(seed), buffer, dpi=dpi,
                              n_points=n_points, n_show=n_show, ksg_points=ksg_points,
                              title=f"{label}, epoch {epoch}")
        buffer.seek(0)
        frames.append(Image.open(buffer).convert("RGB"))
    return frames


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def save_gif(frames: list[Image.Image], path: str | Path, fps: float) -> None:
    if not frames:
        raise ValueError(f"no frames for {path}: the run recorded no epoch states")
    duration = int(round(1000 / fps))
    _write_atomic(Path(path), lambda tmp: frames[0].save(tmp, save_all=True, append_images=frames[1:],
                                                          duration=duration, loop=0, optimize=True))


def load_gif(path: str | Path) -> list[Image.Image]:
    frames = []
    with Image.open(path) as gif:
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(gif.convert("RGB"))
    return frames


def side_by_side(panels: list[list[Image.Image]]) -> list[Image.Image]:
    """Concatenate animations horizontally; shorter ones hold their last frame."""
    length = max(len(p) for p in panels)
    frames = []
    for index in range(length):
        tiles = [p[min(index, len(p) - 1)] for p in panels]
        frame = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)), "white")
        x = 0
        for tile in tiles:
            frame.paste(tile, (x, 0))
            x += tile.width
        frames.append(frame)
    return frames


def save_mp4(frames: list[Image.Image], path: str | Path, fps: float) -> str:
    """H.264 MP4 via ffmpeg when it is installed; returns a note for the log either way (never raises)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return f"ffmpeg not found: skipped {path}"
    with tempfile.TemporaryDirectory() as tmp:
        for index, frame in enumerate(frames):
            frame.save(Path(tmp) / f"frame_{index:04d}.png")
        cmd = [ffmpeg, "-y", "-loglevel", "error", "-framerate", str(fps), "-i", str(Path(tmp) / "frame_%04d.png"),
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as err:
            return f"ffmpeg failed ({err}): skipped {path}"
    if proc.returncode != 0:
        Path(path).unlink(missing_ok=True)
        return f"ffmpeg failed ({proc.stderr.strip()[:200]}): skipped {path}"
    return f"wrote {path}"
