"""Snakemake adapter: reconstruction.png and grid.png of one run (rule run_figures)."""
import torch

from mimflow.core.io import save_figure
from mimflow.core.joblog import job_logger
from mimflow.core.seeds import stream
from mimflow.lowdim.figure_data import load_toy_run, run_figure_arrays
from mimflow.lowdim.figures import run_figures
from mimflow.names import model_label

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
model, cfg, mixture, state = load_toy_run(sm.input.model)
# The figures draw their own fresh points, from a stream seeded apart from training's and evaluation's.
arrays = run_figure_arrays(model, mixture, sm.params.plots, stream(cfg.seed, "figures"), sm.params.density_plane)
title = f"{model_label(cfg.model)}, {cfg.dataset}, z{cfg.z_dim}-h{cfg.mid_dim}, seed {cfg.seed}, epoch {state['best_epoch']}"
reconstruction, grid = run_figures(arrays, dpi=sm.params.plots["run_dpi"], title=title)
save_figure(reconstruction, sm.output.reconstruction)
save_figure(grid, sm.output.grid)
log.info("figure stats %s", arrays.reconstruction.stats)
