"""Snakemake adapter: the first 64 VampPrior pseudo-inputs of one run (rule pseudoinput_figure)."""

import torch

from mimflow.core.io import save_figure
from mimflow.core.joblog import job_logger
from mimflow.images.figures import as_images, image_grid
from mimflow.images.model import load_image_model

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
model, cfg, state = load_image_model(sm.input.model, torch.device("cpu"))
with torch.no_grad():
    pseudo = model.pseudoinputs()[:64].numpy()
save_figure(image_grid(as_images(pseudo, cfg.dataset),
                       title=f"pseudo-inputs: {cfg.arch}-{cfg.objective}, {cfg.dataset}, seed {cfg.seed}"), sm.output[0])
log.info("wrote %s", sm.output[0])
