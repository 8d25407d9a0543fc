"""Training of the low-dimensional experiments (spec 3.1, 3.6): the epoch step handed to core.fit.

beta and the Noam learning rate advance once per epoch; the best checkpoint is the lowest test
loss at epoch >= warmup; early stopping waits `warmup` epochs for an improvement.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..core.fit import FitResult, StopRule, check_finite, fit
from ..core.io import save_torch_atomic
from .data import LowdimSource, lowdim_source
from .losses import Objective, objective
from .model import LowdimModel, LowdimModelConfig, decoder_path, encoder_path
from .settings import LowdimRunConfig


def beta_schedule(epoch: int, warmup_steps: int, autoencoder: bool = False, schedule: str = "warmup") -> float:
    """beta(e) = min(1, e / warmup), or 1 throughout with schedule "constant"; the AE trains with beta = 0."""
    if autoencoder:
        return 0.0
    return 1.0 if schedule == "constant" else min(1.0, max(epoch / warmup_steps, 0.0))


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


def train_lowdim(
    cfg: LowdimRunConfig,
    resume_path: Path | None = None,
    on_epoch: Callable[[LowdimModel, EpochRecord], None] | None = None,
    record_states: bool = False,
    source: LowdimSource | None = None,
) -> tuple[LowdimModel, FitResult]:
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

    def run_epoch(epoch: int) -> EpochRecord:
        lr = noam_lr(epoch, cfg.lr, cfg.warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        beta = beta_schedule(epoch, cfg.warmup_steps, obj.autoencoder, cfg.beta_schedule)
        use_sampling_path = obj.sampling_path and beta >= 1.0

        model.train()
        x_train, _ = source.train_pass(generator)
        total, n_batches = 0.0, len(x_train) // cfg.batch_size
        for batch in x_train.split(cfg.batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = obj.loss(encoder_path(model, batch, generator), beta).mean()
            check_finite(loss, epoch, "encoder-path")
            loss.backward()
            total += loss.item()
            if use_sampling_path:
                z_obs = torch.randn(cfg.batch_size, cfg.z_dim, generator=generator)
                loss = obj.loss(decoder_path(model, z_obs, generator, cfg.mim_decoder_qx), beta).mean()
                check_finite(loss, epoch, "decoder-path")
                (beta * loss).backward()
                total += loss.item()
            optimizer.step()
        train_loss = total / n_batches / (2 if obj.sampling_path else 1)

        model.eval()
        x_test, _ = source.test_pass(generator)
        return EpochRecord(epoch, beta, lr, train_loss, test_loss(model, x_test, obj, cfg, generator), 0.0)

    stop_rule = StopRule(candidate_from=cfg.warmup_steps, count_from=cfg.warmup_steps, patience=cfg.warmup_steps)
    result = fit(model, optimizer, generator, run_epoch, cfg.epochs, stop_rule, cfg.to_dict(), EpochRecord,
                 resume_path, on_epoch, record_states, loss_field="test_loss", non_finite=cfg.non_finite_test_loss)
    return model, result


def save_epoch_states(result: FitResult, path: str | Path) -> None:
    """Per-epoch weights (an empty list unless the run recorded them), for animation frames."""
    save_torch_atomic({"epochs": [r.epoch for r in result.history][:len(result.epoch_states)],
                       "states": result.epoch_states}, path)
