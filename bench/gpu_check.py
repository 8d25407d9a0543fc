"""Image-model throughput check (bench/gpu_check.sh): one Markdown table for bench/RESULTS.md.

For each of the 8 (model, prior) combinations of the paper's image grid (convhvae-vae, convhvae-smim,
pixelhvae-vae, pixelhvae-amim; VampPrior and standard prior) and each precision (fp32, the original's, and
the opt-in fast path bf16), it times the real training code (mimflow.images.train.train_image: epoch =
training steps + validation at the dataset's train/validation ratio) on MNIST-shaped data, then the
importance-sampled test NLL (mimflow.images.evaluate's estimator, passes sized to the device, VampPrior
encoded once) against the original's layout of 100 copies per pass. It reports images/s, peak GPU memory,
and projects the GPU-hours of the 240-run grid at its epoch cap. Runs on the CPU too, at reduced sizes.
First, one line on the PCA Fashion-MNIST training pass (lowdim_device: cuda): a pass of 59,904 images
augmented and projected on the device against the same pass on the CPU (same generator: the projections
must agree to float32 rounding), and both pass times.

Usage: python bench/gpu_check.py [--train-images N] [--is-samples S] [--is-images M] [--precisions fp32,bf16]
"""
from __future__ import annotations

import argparse
import contextlib
import platform
import time

import torch

from mimflow.images.data import ImageData, sampling_generator
from mimflow.core.device import numerics, resolve_device
from mimflow.images.losses import auto_pass_copies, importance_sampled_nll
from mimflow.images.model import build_image_model
from mimflow.images.settings import ImageRunConfig
from mimflow.images.train import train_image

GRID_MODELS = [("convhvae_2level", "vae"), ("convhvae_2level", "smim"), ("pixelhvae_2level", "vae"),
               ("pixelhvae_2level", "amim")]
PRIORS = ("vampprior", "standard")
# (train, validation, test) images of the three datasets (MNIST and Fashion-MNIST alike; OMNIGLOT).
DATASET_SIZES = {"dynamic_mnist": (50000, 10000, 10000), "dynamic_fashion_mnist": (50000, 10000, 10000),
                 "omniglot": (23000, 1345, 8070)}
SEEDS, EPOCH_CAP, IS_SAMPLES = 10, 2000, 5000


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fake_mnist(n_train: int, n_val: int, n_test: int, seed: int = 0) -> ImageData:
    """Blocky grey images of MNIST shape (the speed does not depend on the pixel values)."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_val + n_test
    coarse = torch.rand(n, 1, 7, 7, generator=g)
    grey = torch.nn.functional.interpolate(coarse, scale_factor=4).view(n, 784)
    binary = torch.bernoulli(grey, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    return ImageData(grey[:n_train], labels[:n_train], binary[n_train:n_train + n_val],
                     labels[n_train:n_train + n_val], binary[n_train + n_val:], labels[n_train + n_val:])


def time_training(cfg: ImageRunConfig, data: ImageData, device: torch.device) -> float:
    """Seconds of the second epoch (the first pays cuDNN autotuning and allocator warm-up)."""
    stamps: list[float] = []

    def stamp(model, record) -> None:
        synchronize(device)
        stamps.append(time.perf_counter())

    synchronize(device)
    start = time.perf_counter()
    train_image(cfg, data, device, None, stamp)
    return stamps[1] - stamps[0] if len(stamps) > 1 else stamps[0] - start


def time_is_nll(cfg: ImageRunConfig, data: ImageData, device: torch.device, n_samples: int,
                pass_copies: int, prior_once: bool = True, repeats: int = 3) -> float:
    """Seconds per test image of the importance-sampled NLL with `pass_copies` copies per pass (best of
    `repeats`); prior_once=False re-encodes the VampPrior's pseudo-inputs in every pass, as the original."""
    torch.manual_seed(cfg.seed)
    model = build_image_model(cfg).to(device).eval()
    noise = sampling_generator(torch.Generator().manual_seed(cfg.seed), device)
    x = data.x_test.to(device)
    per_call = max(1, pass_copies // n_samples)
    fixed = model.fixed_prior() if prior_once else contextlib.nullcontext()
    with torch.no_grad(), numerics(cfg.image_precision, device), fixed:
        importance_sampled_nll(model, x[:per_call], n_samples, pass_copies, noise)  # warm-up
        best = float("inf")
        for _ in range(repeats):  # best of a few: the least disturbed by other load
            synchronize(device)
            start = time.perf_counter()
            for chunk in x.split(per_call):
                importance_sampled_nll(model, chunk, n_samples, pass_copies, noise)
            synchronize(device)
            best = min(best, time.perf_counter() - start)
    return best / len(x)


def pca_stream_check(device: torch.device, n: int = 59904) -> str:
    """The PCA training pass on `device` against the CPU's, from the same generator (MNIST-sized random
    images and a random 20-D basis: the path, not the data, is what is checked)."""
    from mimflow.data.pca import PCASource

    rng = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=rng)
    data = {"train_images": images, "train_labels": torch.arange(n) % 10,
            "train_mean": images.float().mean(0).reshape(-1) / 255, "train_basis": torch.randn(20, 784, generator=rng)}
    cpu_source = PCASource(data, batch_size=128)
    start = time.perf_counter()
    cpu_x, cpu_y = cpu_source.train_pass(torch.Generator().manual_seed(1))
    cpu_s = time.perf_counter() - start
    device_source = cpu_source.on_device(device)
    device_source.train_pass(torch.Generator().manual_seed(2))  # warm-up
    synchronize(device)
    start = time.perf_counter()
    dev_x, dev_y = device_source.train_pass(torch.Generator().manual_seed(1))
    synchronize(device)
    dev_s = time.perf_counter() - start
    diff = (dev_x.cpu() - cpu_x).abs().max().item()
    scale = cpu_x.abs().max().item()
    ok = torch.equal(dev_y, cpu_y) and diff <= 1e-5 * scale
    return (f"PCA training pass ({n} images): {device} {dev_s:.3f} s, cpu {cpu_s:.3f} s; labels equal "
            f"{torch.equal(dev_y, cpu_y)}, max |x_{device.type} - x_cpu| {diff:.3g} (of |x| up to {scale:.3g}): "
            + ("OK" if ok else "MISMATCH"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--train-images", type=int, default=None, help="per epoch (default 10000 GPU, 200 CPU)")
    parser.add_argument("--is-samples", type=int, default=None, help="S (default 5000 GPU, 200 CPU)")
    parser.add_argument("--is-images", type=int, default=None, help="test images timed (default 10 GPU, 4 CPU)")
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args()
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    n_train = args.train_images or (10000 if gpu else 200)
    n_samples = args.is_samples or (IS_SAMPLES if gpu else 200)
    n_is = args.is_images or (10 if gpu else 4)
    data = fake_mnist(n_train, n_train // 5, n_is)  # MNIST's train:validation ratio
    name = torch.cuda.get_device_name(device) if gpu else platform.processor() or "cpu"
    print(f"device: {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}; "
          f"{n_train} training + {n_train // 5} validation images per epoch; IS-NLL S = {n_samples} on {n_is} images")
    print()
    print(pca_stream_check(device), flush=True)
    print()
    print("| model | prior | precision | train images/s (epoch incl. validation) | IS-NLL images/s, sized passes "
          "(copies) | IS-NLL images/s, the original's passes (100 copies, prior re-encoded) | peak GPU MiB | projected GPU-h, 30 runs |")
    print("|---|---|---|---|---|---|---|---|")
    total_h = {}
    for precision in args.precisions.split(","):
        total_h[precision] = 0.0
        for arch, objective in GRID_MODELS:
            for prior in PRIORS:
                cfg = ImageRunConfig(dataset="dynamic_mnist", arch=arch, objective=objective, prior=prior, seed=1,
                                     epochs=2, warmup=1, image_precision=precision,
                                     use_training_data_init=n_train >= 500)  # K = 500 pseudo-inputs
                if gpu:
                    torch.cuda.reset_peak_memory_stats(device)
                epoch_s = time_training(cfg, data, device)
                train_ips = n_train / epoch_s
                probe = build_image_model(cfg).to(device).eval()
                with numerics(precision, device):
                    copies = auto_pass_copies(probe, n_samples, device)
                del probe
                is_s = time_is_nll(cfg, data, device, n_samples, copies)
                is_s_original = time_is_nll(cfg, data, device, n_samples, 100, prior_once=False)
                peak = torch.cuda.max_memory_allocated(device) / 2**20 if gpu else float("nan")
                # Projection at the paper's S and epoch cap: 10 seeds x 3 datasets of this (model, prior).
                per_image_is = is_s * IS_SAMPLES / n_samples
                hours = 0.0
                for n_tr, _, n_te in DATASET_SIZES.values():
                    hours += SEEDS * (EPOCH_CAP * n_tr / train_ips + n_te * per_image_is) / 3600
                total_h[precision] += hours
                print(f"| {arch}-{objective} | {prior} | {precision} | {train_ips:.0f} | {1 / is_s:.2f} ({copies}) | "
                      f"{1 / is_s_original:.2f} | {peak:.0f} | {hours:.0f} |", flush=True)
    print()
    for precision, hours in total_h.items():
        print(f"projected 240-run grid at {precision}: {hours:.0f} device-hours at the {EPOCH_CAP}-epoch cap "
              f"(early stopping ends most runs sooner), IS-NLL at S = {IS_SAMPLES}"
              + ("" if gpu else "; CPU figures, at reduced sizes"))


if __name__ == "__main__":
    main()
