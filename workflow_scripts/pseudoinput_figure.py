"""Snakemake adapter: the first 64 VampPrior pseudo-inputs of one run (rule pseudoinput_figure)."""

import torch

from mimflow.image_train import load_image_checkpoint
from mimflow.joblog import job_logger
from mimflow.plots.images import as_images, image_grid

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
model, cfg, state = load_image_checkpoint(sm.input.model, torch.device("cpu"))
with torch.no_grad():
    pseudo = model.pseudoinputs()[:64].numpy()
image_grid(as_images(pseudo, cfg.dataset), sm.output[0],
           title=f"pseudo-inputs: {cfg.arch}-{cfg.objective}, {cfg.dataset}, seed {cfg.seed}")
log.info("wrote %s", sm.output[0])
