"""One full-size epoch of image models on a built dataset, timed (issue 28's GPU check): not a test.

For each model it runs the real training code (mimflow.images.train.train_image, epochs = 1: the training
steps over every training image plus the validation loss over every validation image) on a built dataset file
(resources/datasets/<dataset>.pt), at the seed README's settings (batch 100, VampPrior with K = 500
pseudo-inputs initialised from the training data), and prints one Markdown row per (model, precision): the
epoch's seconds, images/s, the first epoch's losses, the peak GPU memory, and what the paper's 2,000-epoch
cap would cost at that speed. The first epoch pays cuDNN autotuning and allocator warm-up, so it is a bound
from above on the steady epoch.

Usage: python bench/image_epoch.py resources/datasets/dynamic_fashion_mnist.pt --device cuda
           [--models pixelhvae_2level-amim,pixelhvae_2level-vae] [--prior vampprior] [--precisions fp32]
           [--max-train-images N]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from mimflow.core.device import resolve_device
from mimflow.images.data import load_image_data
from mimflow.images.settings import ImageRunConfig
from mimflow.images.train import train_image

EPOCH_CAP = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset_file", type=Path)
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--models", default="pixelhvae_2level-amim,pixelhvae_2level-vae",
                        help="comma-separated <arch>-<objective>")
    parser.add_argument("--prior", default="vampprior")
    parser.add_argument("--precisions", default="fp32")
    parser.add_argument("--max-train-images", type=int, default=0, help="0 = all (a prefix otherwise)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    dataset = args.dataset_file.stem
    data = load_image_data(args.dataset_file, args.max_train_images)
    n_train, n_val = len(data.x_train), len(data.x_val)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{dataset}: {n_train} training + {n_val} validation images per epoch; device {device} ({name}), "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print()
    print("| model | prior | precision | epoch s (train + validation) | training images/s | epoch-1 train loss | "
          "epoch-1 validation loss | peak GPU MiB | hours at the 2,000-epoch cap |")
    print("|---|---|---|---|---|---|---|---|---|")
    for precision in args.precisions.split(","):
        for model_name in args.models.split(","):
            arch, objective = model_name.rsplit("-", 1)
            cfg = ImageRunConfig(dataset=dataset, arch=arch, objective=objective, prior=args.prior, seed=1,
                                 epochs=1, image_precision=precision, max_train_images=args.max_train_images)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
            start = time.perf_counter()
            _, result = train_image(cfg, data, device)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - start
            record = result.history[0]
            peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
            print(f"| {model_name} | {args.prior} | {precision} | {seconds:.1f} | {n_train / seconds:.0f} | "
                  f"{record.train_loss:.2f} | {record.val_loss:.2f} | {peak:.0f} | "
                  f"{EPOCH_CAP * seconds / 3600:.1f} |", flush=True)


if __name__ == "__main__":
    main()
