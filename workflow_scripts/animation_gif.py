"""Snakemake adapter: per-epoch reconstruction frames of one run as a GIF, plus MP4 if ffmpeg exists."""
import torch

from mimflow.core.io import load_torch
from mimflow.core.joblog import job_logger
from mimflow.core.seeds import stream
from mimflow.lowdim.animation import animation_gif, save_animation
from mimflow.lowdim.figure_data import animation_arrays, load_lowdim_run
from mimflow.names import model_label
from mimflow.registry import configure

sm = snakemake  # noqa: F821 (injected by Snakemake)
configure(sm.config)  # the config's plugins and vector datasets, as at planning
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
plots = sm.params.plots
model, cfg, mixture, _ = load_lowdim_run(sm.input.model, sm.input.get("data"))
recorded = load_torch(sm.input.states)  # {"epochs": [...], "states": [...]}
arrays = animation_arrays(model, recorded["states"], recorded["epochs"], mixture, plots, stream(cfg.seed, "animation"),
                          sm.params.density_plane)
frames = animation_gif(arrays, label=model_label(cfg.model), dpi=plots["animation_dpi"])
mp4_note = save_animation(frames, sm.output[0], plots["animation_fps"])
log.info("wrote %s (%d frames)", sm.output[0], len(frames))
log.info(mp4_note)
