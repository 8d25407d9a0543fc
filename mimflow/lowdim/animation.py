"""Training animations: one reconstruction frame per epoch, assembled into GIFs (and MP4 with ffmpeg).

Pure drawing from mimflow.lowdim.figure_data.AnimationArrays; files are written atomically.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # jobs have no display

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from PIL import Image

from ..core.io import atomic_path
from .figures import AnimationArrays, reconstruction_figure


def animation_gif(arrays: AnimationArrays, label: str, dpi: int) -> list[Image.Image]:
    """The frames of one run's animation: its reconstruction figure at each recorded epoch."""
    frames = []
    for epoch, frame in zip(arrays.epochs, arrays.frames):
        fig = reconstruction_figure(frame, arrays.density, arrays.prior_scale, dpi=dpi, title=f"{label}, epoch {epoch}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        buffer.seek(0)
        frames.append(Image.open(buffer).convert("RGB"))
    return frames


def animation_side_by_side(panels: list[list[Image.Image]]) -> list[Image.Image]:
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


def load_gif(path: str | Path) -> list[Image.Image]:
    frames = []
    with Image.open(path) as gif:
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(gif.convert("RGB"))
    return frames


def save_gif(frames: list[Image.Image], path: str | Path, fps: float) -> None:
    if not frames:
        raise ValueError(f"no frames for {path}: the run recorded no epoch states")
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=int(round(1000 / fps)),
                       loop=0, optimize=True)


def save_mp4(frames: list[Image.Image], path: str | Path, fps: float) -> str:
    """H.264 MP4 via ffmpeg when it is installed; returns a note for the log either way (never raises)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return f"ffmpeg not found: skipped {path}"
    try:
        with tempfile.TemporaryDirectory() as frame_dir, atomic_path(path) as tmp:
            for index, frame in enumerate(frames):
                frame.save(Path(frame_dir) / f"frame_{index:04d}.png")
            cmd = [ffmpeg, "-y", "-loglevel", "error", "-framerate", str(fps), "-i",
                   str(Path(frame_dir) / "frame_%04d.png"), "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264",
                   "-pix_fmt", "yuv420p", "-f", "mp4", str(tmp)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr.strip()[:200])
    except (OSError, subprocess.SubprocessError, RuntimeError) as err:
        Path(path).unlink(missing_ok=True)  # no stale MP4 beside a new GIF
        return f"ffmpeg failed ({err}): skipped {path}"
    return f"wrote {path}"


def save_animation(frames: list[Image.Image], path: str | Path, fps: float) -> str:
    """The GIF at `path`, and an MP4 beside it when ffmpeg exists (an optional extra, not a rule output);
    returns the MP4's note for the log."""
    save_gif(frames, path, fps)
    return save_mp4(frames, Path(path).with_suffix(".mp4"), fps)
