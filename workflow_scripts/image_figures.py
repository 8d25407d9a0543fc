"""Snakemake adapter: the per-run image figures of the original (rule image_figures): generations.png,
real.png and reconstructions.png (the first 64 test images and their reconstructions), real_recon.png
(row pairs of the first 32 of them) and z_embed.png."""

import torch

from mimflow.core.io import save_figure
from mimflow.core.joblog import job_logger
from mimflow.core.seeds import stream
from mimflow.images.data import seeded_generators
from mimflow.core.device import claim_job_device_or_exit, numerics
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
job = claim_job_device_or_exit(sm.params.device, log)  # holds this job's GPU until it ends
device = job.device
model, cfg, state, data = load_run(sm.input.model, sm.input.data, device)
_, noise = seeded_generators(stream(cfg.seed, "figures"), device)
n = sm.params.figure_images
title = f"{cfg.arch}-{cfg.objective}, {cfg.prior}, {cfg.dataset}, seed {cfg.seed}, epoch {state['best_epoch']}"
with torch.no_grad(), numerics(cfg.image_precision, device):
    samples = model.generate_x(n, noise).float().cpu().numpy()
    real = data.x_test[: min(n, len(data.x_test))]
    # one reconstruction call for both figures, as the original (real_recon shows the first half of it)
    recon = model.reconstruct_x(real.to(device), noise).float().cpu().numpy()
    z = latent_samples(model, data.x_test, cfg.test_batch_size, device, noise).float().numpy()
real_images, recon_images = as_images(real.numpy(), cfg.dataset), as_images(recon, cfg.dataset)
save_figure(image_grid(as_images(samples, cfg.dataset), title=f"samples: {title}"), sm.output.generations)
save_figure(image_grid(real_images, title=f"test images: {title}"), sm.output.real)
save_figure(image_grid(recon_images, title=f"reconstructions: {title}"), sm.output.reconstructions)
half = max(1, len(real_images) // 2)
save_figure(real_recon_grid(real_images[:half], recon_images[:half],
                            title=f"test images and reconstructions: {title}"), sm.output.real_recon)
save_figure(latent_scatter(tsne_embedding(z, seed=cfg.seed), data.y_test.numpy(),
                           title=f"t-SNE of q(z|x) samples: {title}"), sm.output.z_embed)
log.info("wrote %s", list(sm.output))
