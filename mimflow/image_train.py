"""Training of the image models (spec 6.5): dynamic binarisation, per-epoch validation loss at beta = 1,
best checkpoint, early stopping held off during warm-up, stop on NaN, resume from a per-epoch checkpoint."""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .image_config import ImageRunConfig
from .image_objectives import image_loss
from .models.hvae import HVAE2Level, HVAEConfig, build_hvae
from .optim import AdamNormGrad
from .train import NonFiniteLossError


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
    raw = torch.load(path, weights_only=False)
    x_train = raw["x_train"].to(torch.float32) / float(raw["train_scale"])
    y_train = raw["y_train"]
    if max_train_images:
        x_train, y_train = x_train[:max_train_images], y_train[:max_train_images]
    return ImageData(x_train, y_train.long(), raw["x_val"].to(torch.float32), raw["y_val"].long(),
                     raw["x_test"].to(torch.float32), raw["y_test"].long())


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sampling_generator(generator: torch.Generator, device: torch.device) -> torch.Generator | None:
    """Model-side noise uses the run's CPU generator on CPU (bit-reproducible); on CUDA the seeded global RNG."""
    return generator if device.type == "cpu" else None


def build_image_model(cfg: ImageRunConfig) -> HVAE2Level:
    return build_hvae(HVAEConfig(arch=cfg.arch, prior=cfg.prior, z1_size=cfg.z1_size, z2_size=cfg.z2_size,
                                 number_components=cfg.number_components))


@dataclass
class ImageEpochRecord:
    epoch: int
    beta: float
    train_loss: float
    val_loss: float
    wall_time_s: float


@dataclass
class ImageTrainResult:
    best_epoch: int = -1
    best_loss: float = math.inf
    best_state: dict = field(default_factory=dict)
    history: list[ImageEpochRecord] = field(default_factory=list)
    stopped_early: bool = False


@torch.no_grad()
def validation_loss(model: HVAE2Level, x: torch.Tensor, cfg: ImageRunConfig, device: torch.device,
                    generator: torch.Generator | None) -> float:
    """The model's own loss at beta = 1 (MIM losses for MIM models), averaged over validation batches."""
    model.eval()
    losses = [image_loss(model, batch.to(device), cfg.objective, 1.0, generator)[0].item()
              for batch in x.split(cfg.test_batch_size)]
    return sum(losses) / len(losses)


def train_image(cfg: ImageRunConfig, data: ImageData, device: torch.device | None = None,
                resume_path: Path | None = None,
                on_epoch: Callable[[HVAE2Level, ImageEpochRecord], None] | None = None,
                ) -> tuple[HVAE2Level, ImageTrainResult]:
    device = device or default_device()
    torch.manual_seed(cfg.seed)
    model = build_image_model(cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    if cfg.prior == "vampprior" and cfg.use_training_data_init:
        model.init_pseudoinputs(data.x_train, generator)
    model.to(device)
    noise = sampling_generator(generator, device)
    optimizer = AdamNormGrad(model.parameters(), lr=cfg.lr)
    result, start, patience = ImageTrainResult(), 1, 0

    if resume_path is not None and resume_path.exists():
        state = torch.load(resume_path, weights_only=False, map_location=device)
        if state["config"] == cfg.to_dict():
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["generator"])
            result = ImageTrainResult(state["best_epoch"], state["best_loss"], state["best_state"],
                                      [ImageEpochRecord(**r) for r in state["history"]], state["stopped_early"])
            start, patience = (cfg.epochs + 1 if state["finished"] else state["epoch"] + 1), state["patience"]

    for epoch in range(start, cfg.epochs + 1):
        started = time.perf_counter()
        beta = min(1.0, epoch / cfg.warmup)
        model.train()
        order = torch.randperm(len(data.x_train), generator=generator)
        total, batches = 0.0, 0
        for index in order.split(cfg.batch_size):
            x = torch.bernoulli(data.x_train[index], generator=generator).to(device)  # dynamic binarisation
            optimizer.zero_grad(set_to_none=True)
            loss, _ = image_loss(model, x, cfg.objective, beta, noise)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(f"non-finite training loss ({loss.item()}) at epoch {epoch} "
                                         f"({cfg.arch}-{cfg.objective}, {cfg.prior})")
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        val = validation_loss(model, data.x_val, cfg, device, noise)
        if not math.isfinite(val):
            raise NonFiniteLossError(f"non-finite validation loss ({val}) at epoch {epoch}")
        record = ImageEpochRecord(epoch, beta, total / batches, val, time.perf_counter() - started)
        result.history.append(record)
        if val < result.best_loss:
            result.best_epoch, result.best_loss, patience = epoch, val, 0
            result.best_state = copy.deepcopy(model.state_dict())
        else:
            patience += 1
        if epoch < cfg.warmup:
            patience = 0  # early stopping only counts after warm-up
        stop = patience > cfg.early_stopping_epochs
        result.stopped_early = stop
        if on_epoch is not None:
            on_epoch(model, record)
        if resume_path is not None:
            tmp = resume_path.with_name(resume_path.name + ".tmp")
            torch.save({"config": cfg.to_dict(), "epoch": epoch, "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
                        "best_epoch": result.best_epoch, "best_loss": result.best_loss,
                        "best_state": result.best_state, "history": [asdict(r) for r in result.history],
                        "stopped_early": stop, "patience": patience, "finished": stop or epoch == cfg.epochs}, tmp)
            os.replace(tmp, resume_path)
        if stop:
            break

    model.load_state_dict(result.best_state)
    model.eval()
    return model, result


def load_image_checkpoint(path: str | Path, device: torch.device) -> tuple[HVAE2Level, ImageRunConfig, dict]:
    state = torch.load(path, weights_only=False, map_location=device)
    cfg = ImageRunConfig.from_dict(state["run_config"])
    model = build_image_model(cfg)
    model.load_state_dict(state["state_dict"])
    model.to(device).eval()
    return model, cfg, state
