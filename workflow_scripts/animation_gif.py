"""Snakemake adapter: per-epoch reconstruction frames of one run as a GIF, plus MP4 if ffmpeg exists."""
from pathlib import Path

import numpy as np
import torch

from mimflow.data import toy_mixture
from mimflow.joblog import job_logger
from mimflow.plots.animation import render_frames, save_gif, save_mp4
from mimflow.plots.style import model_label
from mimflow.runs import load_checkpoint

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
plots = sm.params.plots
model, cfg, _ = load_checkpoint(sm.input.model)
recorded = torch.load(sm.input.states, weights_only=False)
frames = render_frames(model, recorded["states"], recorded["epochs"], toy_mixture(cfg.dataset),
                       seed=int(np.random.SeedSequence([cfg.seed, 3]).generate_state(1)[0]),
                       label=model_label(cfg.model), dpi=plots["animation_dpi"], n_points=plots["run_points"],
                       n_show=plots["run_show_points"], ksg_points=plots["run_ksg_points"])
save_gif(frames, sm.output[0], plots["animation_fps"])
log.info("wrote %s (%d frames)", sm.output[0], len(frames))
# The MP4 is an optional extra beside the GIF (not a rule output): ffmpeg may be missing.
log.info(save_mp4(frames, Path(sm.output[0]).with_suffix(".mp4"), plots["animation_fps"]))
