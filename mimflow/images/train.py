"""Training of the image models (spec 6.5): the epoch step handed to core.fit.

Dynamic binarisation of the grey training images every epoch, beta = min(1, epoch / warmup), and a
validation loss at beta = 1 that selects the best checkpoint; early stopping is held off during warm-up.
With clustering_every = k > 0, every k-th epoch also scores how the validation latents cluster (KNN, NMI,
active units: evaluate.validation_clustering) into the epoch's record; it draws from a stream of its own,
so the training itself is the same number for number as with it off.

The step does no host work that a GPU waits for: the epoch is shuffled and binarised in one draw (on the
device for CUDA jobs), losses stay on the device until the epoch ends, and the optimiser updates all its
tensors in a few multi-tensor operations. Under bf16 each step's forward and loss run in a fresh autocast
region; the weights and the optimiser stay float32.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from ..core.fit import FitResult, StopRule, fit
from ..registry import IMAGE_OBJECTIVES
from .data import EpochBinarizer, ImageData, sampling_generator, training_generators
from ..core.device import numerics, resolve_device, step_autocast
from .evaluate import validation_clustering
from .losses import image_loss
from .model import HVAE2Level, build_image_model
from .optim import AdamNormGrad
from .settings import ImageRunConfig


@dataclass
class ImageEpochRecord:
    epoch: int
    beta: float
    train_loss: float
    val_loss: float
    wall_time_s: float


@dataclass
class ImageClusteringRecord(ImageEpochRecord):
    """An epoch's record when the run scores its clustering along training; NaN in the epochs between scorings."""

    val_KNN1: float = math.nan
    val_KNN5: float = math.nan
    val_KNN10: float = math.nan
    val_NMI: float = math.nan
    active_units_z1: float = math.nan
    active_units_z2: float = math.nan
    clustering_s: float = math.nan  # the scoring's wall time, part of wall_time_s


@torch.no_grad()
def validation_loss(model: HVAE2Level, x: torch.Tensor, cfg: ImageRunConfig, device: torch.device,
                    generator: torch.Generator | None, dataset_size: int | None = None) -> float:
    """The model's own loss at beta = 1 (MIM losses for MIM models), averaged over validation batches: of the
    training batch size for an objective with batch terms (as training sees them), else test_batch_size."""
    model.eval()
    batch_size = cfg.batch_size if IMAGE_OBJECTIVES[cfg.objective].batch_terms else cfg.test_batch_size
    with model.fixed_prior(), step_autocast(cfg.image_precision, device):  # the pseudo-inputs are encoded
        losses = torch.stack([image_loss(model, batch.to(device), cfg.objective, 1.0, generator,  # once
                                         cfg.objective_settings, dataset_size)[0] for batch in x.split(batch_size)])
    return sum(losses.tolist()) / len(losses)  # one host synchronisation; the same sum as before


@dataclass
class ImageTraining:
    """What one run trains with: the model, its optimiser, its named random streams, the epoch binariser and
    the model-side noise generator (None on CUDA)."""

    model: HVAE2Level
    optimizer: AdamNormGrad
    generators: dict[str, torch.Generator]
    binarize: EpochBinarizer
    noise: torch.Generator | None

    def step(self, x: torch.Tensor, cfg: ImageRunConfig, beta: float, device: torch.device) -> torch.Tensor:
        """One optimiser step on the batch x; returns its loss, detached and left on the device."""
        self.optimizer.zero_grad(set_to_none=True)
        with step_autocast(cfg.image_precision, device):  # a fresh region: it sees this step's weights
            loss, _ = image_loss(self.model, x, cfg.objective, beta, self.noise, cfg.objective_settings,
                                 len(self.binarize.x))  # N: the training images
        loss.backward()  # a NaN here reaches the validation loss, where core.fit stops (the original)
        self.optimizer.step()
        return loss.detach()


def prepare_training(cfg: ImageRunConfig, data: ImageData, device: torch.device) -> ImageTraining:
    """The run's initial weights (from its seed), pseudo-inputs, streams and optimiser, on the device."""
    torch.manual_seed(cfg.seed)  # weight initialisation only
    model = build_image_model(cfg)
    generators = training_generators(cfg.seed, device)  # one stream per purpose, none the weights' own
    if cfg.prior == "vampprior" and cfg.use_training_data_init:
        model.init_pseudoinputs(data.x_train, generators["pseudo-inputs"])
    model.to(device)
    return ImageTraining(model, AdamNormGrad(model.parameters(), lr=cfg.lr), generators,
                         EpochBinarizer(data.x_train, generators, device), sampling_generator(generators["noise"], device))


def train_image(cfg: ImageRunConfig, data: ImageData, device: torch.device | None = None,
                resume_path: Path | None = None,
                on_epoch: Callable[[HVAE2Level, ImageEpochRecord], None] | None = None,
                resume_key: dict | None = None, clustering_every: int = 0,
                ) -> tuple[HVAE2Level, FitResult]:
    """Train one run at its precision; returns the model loaded with its best checkpoint (in eval mode), and
    the history. A resume checkpoint is used only when it matches the settings plus resume_key (the code).
    clustering_every = k > 0 scores the validation latents' clustering every k-th epoch (the history's records
    are then ImageClusteringRecord)."""
    if clustering_every < 0:
        raise ValueError(f"clustering_every must be 0 (off) or a number of epochs, got {clustering_every}")
    device = device or resolve_device("auto")
    run = prepare_training(cfg, data, device)
    model = run.model

    def run_epoch(epoch: int) -> ImageEpochRecord:
        beta = min(1.0, epoch / cfg.warmup)
        model.train()
        # losses stay on the device: no host synchronisation per step
        losses = [run.step(x, cfg, beta, device) for x in run.binarize.epoch().split(cfg.batch_size)]
        total = 0.0
        for value in torch.stack(losses).tolist():  # one synchronisation; plain float64 sum in step order
            total += value
        train_loss = total / len(losses)
        val_loss = validation_loss(model, data.x_val, cfg, device, run.noise, len(data.x_train))
        record = ImageEpochRecord(epoch, beta, train_loss, val_loss, 0.0)
        if not clustering_every:
            return record
        if epoch % clustering_every:
            return ImageClusteringRecord(**asdict(record))
        started = time.perf_counter()
        scores = validation_clustering(model, data, cfg, device)
        return ImageClusteringRecord(**asdict(record), **scores, clustering_s=time.perf_counter() - started)

    record_type, settings = ImageEpochRecord, {**cfg.to_dict(), **(resume_key or {})}
    if clustering_every:  # a resume state of the other kind has other records: it is not reused
        record_type, settings = ImageClusteringRecord, {**settings, "clustering_every": clustering_every}
    stop_rule = StopRule(candidate_from=1, count_from=cfg.warmup, patience=cfg.early_stopping_epochs)
    with numerics(cfg.image_precision, device, autocast=False):  # TF32 flags; autocast per step
        result = fit(model, run.optimizer, run.generators, run_epoch, cfg.epochs, stop_rule, settings,
                     record_type, resume_path, on_epoch,
                     loss_field="val_loss", non_finite="stop")
    model.eval()
    return model, result
