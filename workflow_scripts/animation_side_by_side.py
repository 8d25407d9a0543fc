"""Snakemake adapter: the animations side by side in one GIF (rule animation_side_by_side)."""
from mimflow.core.joblog import job_logger
from mimflow.lowdim.animation import animation_side_by_side, load_gif, save_animation

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
frames = animation_side_by_side([load_gif(path) for path in sm.input])
mp4_note = save_animation(frames, sm.output[0], sm.params.fps)
log.info("wrote %s (%d frames from %s)", sm.output[0], len(frames), list(sm.input))
log.info(mp4_note)
