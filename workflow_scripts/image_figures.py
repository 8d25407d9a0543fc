"""Snakemake adapter: generations.png, real_recon.png and z_embed.png of one image run (rule image_figures)."""

import numpy as np
import torch

from mimflow.image_evaluate import latent_samples
from mimflow.image_train import default_device, load_image_checkpoint, load_image_data, sampling_generator
from mimflow.joblog import job_logger
from mimflow.plots.images import as_images, image_grid, latent_tsne, real_recon_grid

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
device = default_device()
model, cfg, state = load_image_checkpoint(sm.input.model, device)
data = load_image_data(sm.input.data, cfg.max_train_images)
seed = int(np.random.SeedSequence([cfg.seed, 2]).generate_state(1)[0])
torch.manual_seed(seed)
noise = sampling_generator(torch.Generator().manual_seed(seed), device)
n = sm.params.figure_images
title = f"{cfg.arch}-{cfg.objective}, {cfg.prior}, {cfg.dataset}, seed {cfg.seed}, epoch {state['best_epoch']}"
with torch.no_grad():
    samples = model.generate_x(n, noise).cpu().numpy()
    real = data.x_test[: min(n // 2, len(data.x_test))]
    recon = model.reconstruct_x(real.to(device), noise).cpu().numpy()
image_grid(as_images(samples, cfg.dataset), sm.output.generations, title=f"samples: {title}")
real_recon_grid(as_images(real.numpy(), cfg.dataset), as_images(recon, cfg.dataset), sm.output.real_recon,
                title=f"test images and reconstructions: {title}")
z = latent_samples(model, data.x_test, cfg.test_batch_size, device, noise).numpy()
latent_tsne(z, data.y_test.numpy(), sm.output.z_embed, seed=cfg.seed, title=f"t-SNE of q(z|x) samples: {title}")
log.info("wrote %s", list(sm.output))
