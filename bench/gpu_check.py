"""GPU check (bench/gpu_check.sh): one convhvae_2level VampPrior epoch on MNIST-shaped data and one
evaluation batch; prints epoch time, images/s and peak GPU memory. Runs on CPU too (much slower)."""
from __future__ import annotations

import sys
import time

import torch

from mimflow.images.data import default_device
from mimflow.images.losses import image_loss, importance_sampled_nll
from mimflow.images.model import build_image_model
from mimflow.images.optim import AdamNormGrad
from mimflow.images.settings import ImageRunConfig


def main(n_train: int = 50000, objective: str = "smim", is_samples: int = 5000) -> None:
    device = default_device()
    print(f"device: {device} ({torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}), torch {torch.__version__}")
    cfg = ImageRunConfig(dataset="dynamic_mnist", arch="convhvae_2level", objective=objective, prior="vampprior",
                         seed=1, warmup=1)
    generator = torch.Generator().manual_seed(1)
    x_train = torch.rand(n_train, 784, generator=generator)  # grey levels of MNIST shape
    torch.manual_seed(1)
    model = build_image_model(cfg)
    model.init_pseudoinputs(x_train, generator)
    model.to(device)
    optimizer = AdamNormGrad(model.parameters(), lr=cfg.lr)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    start = time.perf_counter()
    model.train()
    for batch in x_train.split(cfg.batch_size):
        x = torch.bernoulli(batch).to(device)
        optimizer.zero_grad(set_to_none=True)
        loss, _ = image_loss(model, x, cfg.objective, 1.0)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    epoch_s = time.perf_counter() - start
    model.eval()
    start = time.perf_counter()
    nll = importance_sampled_nll(model, torch.bernoulli(x_train[:100]).to(device), is_samples, 100)
    if device.type == "cuda":
        torch.cuda.synchronize()
    eval_s = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else float("nan")
    print(f"train epoch ({n_train} images, {objective}, batch {cfg.batch_size}): {epoch_s:.1f} s, "
          f"{n_train / epoch_s:.0f} images/s, final loss {loss.item():.2f}")
    print(f"evaluation batch (100 test images x S={is_samples} importance samples): {eval_s:.1f} s, mean NLL {nll.mean():.2f}")
    print(f"peak GPU memory: {peak:.0f} MiB")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(*(a if i == 1 else int(a) for i, a in enumerate(args)))
