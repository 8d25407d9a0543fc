"""Training loop of the low-dimensional experiments (spec 3.1, 3.6).

beta and the Noam learning rate advance once per epoch; the best checkpoint is the lowest
test loss at epoch >= warmup; early stopping waits `warmup` epochs for an improvement.
A resume checkpoint (model, optimiser, RNG, history) may be written after every epoch.
"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .config import LowdimRunConfig
from .data import LowdimSource, lowdim_source
from .models.lowdim import LowdimModel, LowdimModelConfig, decoder_path, encoder_path
from .objectives import Objective, objective


def beta_schedule(epoch: int, warmup_steps: int, autoencoder: bool = False) -> float:
    """beta(e) = min(1, e / warmup); the AE trains with beta = 0."""
    return 0.0 if autoencoder else min(1.0, max(epoch / warmup_steps, 0.0))


def noam_lr(epoch: int, base_lr: float, warmup_steps: int) -> float:
    """lr(e) = lr0 sqrt(w) min(e w^-1.5, e^-0.5): linear ramp to lr0 at e = w, then lr0 sqrt(w/e)."""
    return base_lr * warmup_steps ** 0.5 * min(epoch * warmup_steps ** -1.5, max(epoch, 1) ** -0.5)


@dataclass
class EpochRecord:
    epoch: int
    beta: float
    lr: float
    train_loss: float
    test_loss: float
    wall_time_s: float


@dataclass
class TrainResult:
    best_epoch: int
    best_loss: float
    best_state: dict
    history: list[EpochRecord] = field(default_factory=list)
    stopped_early: bool = False
    epoch_states: list[dict] = field(default_factory=list)  # per-epoch weights, when recorded (animations)


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; the message names the epoch and the term."""


def _check_finite(loss: torch.Tensor, epoch: int, term: str) -> None:
    if not torch.isfinite(loss):
        raise NonFiniteLossError(f"non-finite {term} loss ({loss.item()}) at epoch {epoch}")


def build_model(cfg: LowdimRunConfig, x_dim: int) -> LowdimModel:
    return LowdimModel(LowdimModelConfig(
        x_dim=x_dim, z_dim=cfg.z_dim, mid_dim=cfg.mid_dim, layers=cfg.layers, act=cfg.act,
        min_logvar=cfg.min_logvar, delta_encoder=objective(cfg.model).autoencoder,
    ))


@torch.no_grad()
def test_loss(model: LowdimModel, x: torch.Tensor, obj: Objective, cfg: LowdimRunConfig,
              generator: torch.Generator) -> float:
    """The original's per-epoch test loss at beta = 1 (AE: 0) on one fresh pass.

    Batches have equal size, so the mean over the whole pass equals the original's mean of
    batch means; the sampling path uses as many prior draws as there are test points.
    """
    beta = beta_schedule(1, 1, obj.autoencoder)
    loss = obj.loss(encoder_path(model, x, generator), beta).mean()
    if obj.sampling_path:
        z_obs = torch.randn(x.shape[0], cfg.z_dim, generator=generator)
        loss = (loss + obj.loss(decoder_path(model, z_obs, generator, cfg.mim_decoder_qx), beta).mean()) / 2
    return loss.item()


def _save_atomic(obj: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train_lowdim(
    cfg: LowdimRunConfig,
    resume_path: Path | None = None,
    on_epoch: Callable[[LowdimModel, EpochRecord], None] | None = None,
    record_states: bool = False,
    source: LowdimSource | None = None,
) -> tuple[LowdimModel, TrainResult]:
    """Train one run; returns the model loaded with its best checkpoint, and the history.

    record_states keeps a copy of the weights after every epoch (for the animation frames).
    source defaults to the toy stream of cfg.dataset; real-data runs pass their loaded source.
    """
    obj = objective(cfg.model)
    source = source if source is not None else lowdim_source(cfg)
    torch.manual_seed(cfg.seed)  # weight initialisation only; all sampling uses `generator`
    model = build_model(cfg, source.x_dim)
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = TrainResult(best_epoch=-1, best_loss=math.inf, best_state={})
    start_epoch = 1

    if resume_path is not None and resume_path.exists():
        state = torch.load(resume_path, weights_only=False)
        if state["config"] != cfg.to_dict():
            raise ValueError(f"resume checkpoint {resume_path} was written for other settings; delete it to restart")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        result = TrainResult(state["best_epoch"], state["best_loss"], state["best_state"],
                             [EpochRecord(**r) for r in state["history"]], state["stopped_early"],
                             state["epoch_states"])
        start_epoch = state["epoch"] + 1
        if state["finished"]:
            start_epoch = cfg.epochs + 1

    for epoch in range(start_epoch, cfg.epochs + 1):
        started = time.perf_counter()
        lr = noam_lr(epoch, cfg.lr, cfg.warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        beta = beta_schedule(epoch, cfg.warmup_steps, obj.autoencoder)
        use_sampling_path = obj.sampling_path and beta >= 1.0

        model.train()
        x_train, _ = source.train_pass(generator)
        total, n_batches = 0.0, len(x_train) // cfg.batch_size
        for batch in x_train.split(cfg.batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = obj.loss(encoder_path(model, batch, generator), beta).mean()
            _check_finite(loss, epoch, "encoder-path")
            loss.backward()
            total += loss.item()
            if use_sampling_path:
                z_obs = torch.randn(cfg.batch_size, cfg.z_dim, generator=generator)
                loss = obj.loss(decoder_path(model, z_obs, generator, cfg.mim_decoder_qx), beta).mean()
                _check_finite(loss, epoch, "decoder-path")
                (beta * loss).backward()
                total += loss.item()
            optimizer.step()
        train_loss = total / n_batches / (2 if obj.sampling_path else 1)

        model.eval()
        x_test, _ = source.test_pass(generator)
        current = test_loss(model, x_test, obj, cfg, generator)
        if not math.isfinite(current):
            raise NonFiniteLossError(f"non-finite test loss ({current}) at epoch {epoch}")
        record = EpochRecord(epoch, beta, lr, train_loss, current, time.perf_counter() - started)
        result.history.append(record)
        if record_states:
            result.epoch_states.append(copy.deepcopy(model.state_dict()))

        if epoch >= cfg.warmup_steps and current < result.best_loss:
            result.best_epoch, result.best_loss = epoch, current
            result.best_state = copy.deepcopy(model.state_dict())
        stop = epoch >= cfg.warmup_steps and epoch - result.best_epoch > cfg.warmup_steps
        result.stopped_early = stop
        if on_epoch is not None:
            on_epoch(model, record)
        if resume_path is not None:
            _save_atomic({
                "config": cfg.to_dict(), "epoch": epoch, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
                "best_epoch": result.best_epoch, "best_loss": result.best_loss,
                "best_state": result.best_state, "history": [asdict(r) for r in result.history],
                "stopped_early": stop, "finished": stop or epoch == cfg.epochs,
                "epoch_states": result.epoch_states,
            }, resume_path)
        if stop:
            break

    if not result.best_state:  # fewer epochs than warmup: keep the last model, as the original falls back
        result.best_epoch, result.best_loss = result.history[-1].epoch, result.history[-1].test_loss
        result.best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(result.best_state)
    return model, result
