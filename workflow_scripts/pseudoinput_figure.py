"""Snakemake adapter: the first 64 VampPrior pseudo-inputs of one run (rule pseudoinput_figure)."""
import logging

import torch

from mimflow.image_train import load_image_checkpoint
from mimflow.plots.images import as_images, image_grid

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s", force=True)
model, cfg, state = load_image_checkpoint(sm.input.model, torch.device("cpu"))
with torch.no_grad():
    pseudo = model.pseudoinputs()[:64].numpy()
image_grid(as_images(pseudo, cfg.dataset), sm.output[0],
           title=f"pseudo-inputs: {cfg.arch}-{cfg.objective}, {cfg.dataset}, seed {cfg.seed}")
logging.info("wrote %s", sm.output[0])
