"""What an image job reads and draws from: the dataset tensors, the device, and its random generators."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.io import load_torch
from ..core.seeds import stream


@dataclass(frozen=True)
class ImageData:
    """Pixels as floats in [0, 1], flattened to 784: train grey levels, validation and test binary."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_image_data(path: str | Path, max_train_images: int = 0) -> ImageData:
    """A built dataset file (resources/datasets/<dataset>.pt); max_train_images > 0 keeps a prefix of train."""
    raw = load_torch(path)
    x_train = raw["x_train"].to(torch.float32) / float(raw["train_scale"])
    y_train = raw["y_train"]
    if max_train_images:
        x_train, y_train = x_train[:max_train_images], y_train[:max_train_images]
    return ImageData(x_train, y_train.long(), raw["x_val"].to(torch.float32), raw["y_val"].long(),
                     raw["x_test"].to(torch.float32), raw["y_test"].long())


def sampling_generator(generator: torch.Generator, device: torch.device) -> torch.Generator | None:
    """Model-side noise uses the run's CPU generator on CPU (bit-reproducible); on CUDA the seeded global RNG."""
    return generator if device.type == "cpu" else None


def training_generators(seed: int, device: torch.device) -> dict[str, torch.Generator]:
    """An image run's training streams, one per purpose, each derived from the run seed (core.seeds): "data"
    (epoch order, and dynamic binarisation on the CPU), "noise" (the model's draws on CPU) and "pseudo-inputs"
    (their initial noise). On CUDA the model's draws come from the global CUDA RNG, seeded here from "noise",
    and the binarisation from "binarize", a generator on the device (so the pixels never cross the bus)."""
    streams = {purpose: stream(seed, name) for purpose, name in
               (("data", "image-data"), ("noise", "image-noise"), ("pseudo-inputs", "pseudo-inputs"))}
    generators = {purpose: torch.Generator().manual_seed(value) for purpose, value in streams.items()}
    if device.type == "cuda":
        torch.cuda.manual_seed_all(streams["noise"])
        generators["binarize"] = torch.Generator(device=device).manual_seed(stream(seed, "image-binarize"))
    return generators


class EpochBinarizer:
    """Dynamic binarisation of the grey training images, one epoch in one draw: a permutation from the "data"
    stream, then every pixel of the shuffled epoch a Bernoulli draw at its grey level. On the CPU the draw
    takes the "data" stream pixel after pixel, so one draw per epoch equals one per batch number for number.
    On CUDA the images live on the device and the "binarize" generator draws there: no per-step gather,
    draw or copy on the host."""

    def __init__(self, x_train: torch.Tensor, generators: dict[str, torch.Generator], device: torch.device):
        self.order = generators["data"]
        self.draws = generators.get("binarize", generators["data"])
        self.x = x_train.to(self.draws.device)

    def epoch(self) -> torch.Tensor:
        """The next epoch's binary images in training order, (N, 784) on the draws' device."""
        order = torch.randperm(len(self.x), generator=self.order).to(self.x.device)
        return torch.bernoulli(self.x[order], generator=self.draws)


def seeded_generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator | None]:
    """Seed torch's global RNG with `seed` and return (a CPU generator seeded alike, the model-side noise one)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    return generator, sampling_generator(generator, device)
