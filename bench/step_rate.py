"""Training steps per second of image models, through the real training code: not a test.

For each model it runs mimflow.images.train.train_image for `--epochs` epochs on random grey training images
(`--train-images`, batch 100, the seed README's settings: z1 = z2 = 40, VampPrior with K = 500 pseudo-inputs
from the training images) with one validation batch, and prints one Markdown row per model: the steps per
second of the last epoch (its wall time less nothing: the validation batch is included, about 1 step's worth)
and the train losses of every epoch, so that two checkouts can be compared number for number.

The CPU acceptance of issue 40 (before and after the light step, one run on 2 cores):
    python bench/step_rate.py --threads 2
"""
from __future__ import annotations

import argparse

import torch

from mimflow.core.device import resolve_device
from mimflow.images.data import ImageData
from mimflow.images.settings import ImageRunConfig
from mimflow.images.train import train_image

DEFAULT_MODELS = "pixelhvae_2level-amim-vampprior,convhvae_2level-vae-standard"


def random_images(n_train: int, seed: int = 0) -> ImageData:
    """Grey training images and one batch of binary validation images; labels are unused here."""
    g = torch.Generator().manual_seed(seed)
    grey = torch.rand(n_train, 784, generator=g)
    labels = torch.randint(0, 10, (n_train,), generator=g)
    val = torch.bernoulli(torch.rand(100, 784, generator=g), generator=g)
    return ImageData(grey, labels, val, labels[:100], val, labels[:100])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated <arch>-<objective>-<prior>")
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2, help="the last one is timed (the first warms up)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = random_images(args.train_images)
    steps = -(-args.train_images // 100)
    print(f"{args.train_images} training images ({steps} steps of 100) per epoch, {args.epochs} epochs, "
          f"device {device}, {args.threads} threads, torch {torch.__version__}, precision {args.precision}")
    print()
    print("| model | prior | steps/s (last epoch) | s per step | train loss per epoch |")
    print("|---|---|---|---|---|")
    for name in args.models.split(","):
        arch, objective, prior = name.split("-")
        cfg = ImageRunConfig(dataset="dynamic_mnist", arch=arch, objective=objective, prior=prior, seed=1,
                             epochs=args.epochs, warmup=1, image_precision=args.precision)
        _, result = train_image(cfg, data, device)
        last = result.history[-1]
        losses = ", ".join(f"{r.train_loss:.6f}" for r in result.history)
        print(f"| {arch}-{objective} | {prior} | {steps / last.wall_time_s:.3f} | {last.wall_time_s / steps:.3f} "
              f"| {losses} |", flush=True)


if __name__ == "__main__":
    main()
