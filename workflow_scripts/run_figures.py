"""Snakemake adapter: reconstruction.png and grid.png of one run (rule run_figures)."""

import numpy as np
import torch

from mimflow.data import toy_mixture
from mimflow.joblog import job_logger
from mimflow.plots.style import model_label
from mimflow.plots.toy2d import reconstruction_figure, samples_figure
from mimflow.runs import load_checkpoint

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
plots = sm.params.plots
model, cfg, state = load_checkpoint(sm.input.model)
mixture = toy_mixture(cfg.dataset)
title = f"{model_label(cfg.model)}, {cfg.dataset}, z{cfg.z_dim}-h{cfg.mid_dim}, seed {cfg.seed}, epoch {state['best_epoch']}"
seed = int(np.random.SeedSequence([cfg.seed, 2]).generate_state(1)[0])
stats = reconstruction_figure(model, mixture, torch.Generator().manual_seed(seed), sm.output.reconstruction,
                              dpi=plots["run_dpi"], n_points=plots["run_points"], n_show=plots["run_show_points"],
                              ksg_points=plots["run_ksg_points"], title=title)
samples_figure(model, mixture, torch.Generator().manual_seed(seed + 1), sm.output.grid, dpi=plots["run_dpi"],
               n_show=plots["run_show_points"], title=title)
log.info("figure stats %s", stats)
