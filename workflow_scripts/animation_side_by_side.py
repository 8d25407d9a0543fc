"""Snakemake adapter: the animations side by side in one GIF (rule animation_side_by_side)."""
from pathlib import Path

from mimflow.joblog import job_logger
from mimflow.plots.animation import load_gif, save_gif, save_mp4, side_by_side

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
frames = side_by_side([load_gif(path) for path in sm.input])
save_gif(frames, sm.output[0], sm.params.fps)
log.info("wrote %s (%d frames from %s)", sm.output[0], len(frames), list(sm.input))
log.info(save_mp4(frames, Path(sm.output[0]).with_suffix(".mp4"), sm.params.fps))
