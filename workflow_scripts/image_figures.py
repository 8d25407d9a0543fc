"""Snakemake adapter: generations.png, real_recon.png and z_embed.png of one image run (rule image_figures)."""

import torch

from mimflow.core.io import save_figure
from mimflow.core.joblog import job_logger
from mimflow.core.seeds import stream
from mimflow.images.data import default_device, seeded_generators
from mimflow.images.evaluate import latent_samples, tsne_embedding
from mimflow.images.figures import (
    as_images,
    image_grid,
    latent_scatter,
    real_recon_grid,
)
from mimflow.images.model import load_run

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
device = default_device()
model, cfg, state, data = load_run(sm.input.model, sm.input.data, device)
_, noise = seeded_generators(stream(cfg.seed, "figures"), device)
n = sm.params.figure_images
title = f"{cfg.arch}-{cfg.objective}, {cfg.prior}, {cfg.dataset}, seed {cfg.seed}, epoch {state['best_epoch']}"
with torch.no_grad():
    samples = model.generate_x(n, noise).cpu().numpy()
    real = data.x_test[: min(n // 2, len(data.x_test))]
    recon = model.reconstruct_x(real.to(device), noise).cpu().numpy()
save_figure(image_grid(as_images(samples, cfg.dataset), title=f"samples: {title}"), sm.output.generations)
save_figure(real_recon_grid(as_images(real.numpy(), cfg.dataset), as_images(recon, cfg.dataset),
                            title=f"test images and reconstructions: {title}"), sm.output.real_recon)
z = latent_samples(model, data.x_test, cfg.test_batch_size, device, noise).numpy()
save_figure(latent_scatter(tsne_embedding(z, seed=cfg.seed), data.y_test.numpy(),
                           title=f"t-SNE of q(z|x) samples: {title}"), sm.output.z_embed)
log.info("wrote %s", list(sm.output))
