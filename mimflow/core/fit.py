"""The one epoch loop of both experiment families: resume, best state, early stopping, the
non-finite policy, a per-epoch callback and the resume checkpoint.

A family hands in `run_epoch(epoch) -> record` (its training step and its validation) and a
`StopRule`; everything else is decided here, the same way for every run.
"""
from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .io import save_torch_atomic

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the message names the epoch and the term."""


def check_finite(loss: torch.Tensor | float, epoch: int, term: str) -> None:
    value = loss.item() if isinstance(loss, torch.Tensor) else loss
    if not math.isfinite(value):
        raise NonFiniteLossError(f"non-finite {term} loss ({value}) at epoch {epoch}")


@dataclass(frozen=True)
class StopRule:
    """Model selection and early stopping.

    An epoch is a best-checkpoint candidate from `candidate_from` on; training stops once more than
    `patience` epochs passed without a new best, counting only epochs from `count_from` on.
    Low-dimensional (spec 3.6): candidate_from = count_from = patience = warmup.
    Images (spec 6.5): candidate_from = 1, count_from = warmup, patience = early_stopping_epochs.
    """

    candidate_from: int
    count_from: int
    patience: int

    def epochs_without_improvement(self, epoch: int, best_epoch: int) -> int:
        return epoch - max(best_epoch, self.count_from - 1)


@dataclass
class FitResult:
    best_epoch: int = -1
    best_loss: float = math.inf
    best_state: dict = field(default_factory=dict)
    history: list = field(default_factory=list)  # the family's epoch records
    stopped_early: bool = False
    epoch_states: list[dict] = field(default_factory=list)  # per-epoch weights, when recorded (animations)


def _resume_state(path: Path | None, settings: dict[str, Any]) -> dict | None:
    """The saved state when it belongs to these settings; None (and a log line) otherwise."""
    if path is None or not path.exists():
        return None
    # RNG states must stay on the CPU (set_state takes a CPU ByteTensor); weights and optimizer state
    # move to the model's device when they are loaded into it.
    state = torch.load(path, weights_only=False, map_location="cpu")
    if state.get("settings") != settings:
        log.warning("resume checkpoint %s was written for other settings: starting afresh", path)
        return None
    return state


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    run_epoch: Callable[[int], Any],
    epochs: int,
    stop_rule: StopRule,
    settings: dict[str, Any],
    record_type: type,
    resume_path: Path | None = None,
    on_epoch: Callable[[torch.nn.Module, Any], None] | None = None,
    record_states: bool = False,
    loss_field: str = "val_loss",
    non_finite: str = "raise",
) -> FitResult:
    """Train for up to `epochs` epochs; returns the history with the model loaded at its best state.

    `run_epoch` trains one epoch and returns its record: a dataclass with `epoch`, `wall_time_s`
    (filled in here) and `loss_field`, the validation loss that selects the best checkpoint. A
    non-finite validation loss raises NonFiniteLossError ("raise"); with "skip" (the original
    low-dimensional code) it is logged and the epoch is no best candidate; with "stop" (the original
    image code) it is logged and training stops at the best checkpoint so far. With either, only a
    run without any finite checkpoint fails. When `resume_path` is given, the full state is
    saved there after every epoch and a run whose settings match resumes from it.
    """
    result, start = FitResult(), 1
    state = _resume_state(resume_path, settings)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():  # model-side noise on CUDA
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        result = FitResult(state["best_epoch"], state["best_loss"], state["best_state"],
                           [record_type(**r) for r in state["history"]], state["stopped_early"],
                           state["epoch_states"])
        start = epochs + 1 if state["finished"] else state["epoch"] + 1

    for epoch in range(start, epochs + 1):
        started = time.perf_counter()
        record = run_epoch(epoch)
        loss = getattr(record, loss_field)
        finite = math.isfinite(loss)
        if not finite:
            message = f"non-finite {loss_field} ({loss}) at epoch {epoch}"
            if non_finite not in ("skip", "stop"):
                raise NonFiniteLossError(message)
            log.warning("%s: %s", message, "not a best-checkpoint candidate" if non_finite == "skip"
                        else "training stops at the best checkpoint so far")
        record.wall_time_s = time.perf_counter() - started
        result.history.append(record)
        if record_states:
            result.epoch_states.append(copy.deepcopy(model.state_dict()))
        if finite and epoch >= stop_rule.candidate_from and loss < result.best_loss:
            result.best_epoch, result.best_loss = epoch, loss
            result.best_state = copy.deepcopy(model.state_dict())
        stop = stop_rule.epochs_without_improvement(epoch, result.best_epoch) > stop_rule.patience or \
            (not finite and non_finite == "stop")
        result.stopped_early = stop
        if on_epoch is not None:
            on_epoch(model, record)
        if resume_path is not None:
            save_torch_atomic({
                "settings": settings, "epoch": epoch, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "best_epoch": result.best_epoch, "best_loss": result.best_loss, "best_state": result.best_state,
                "history": [asdict(r) for r in result.history], "stopped_early": stop,
                "finished": stop or epoch == epochs, "epoch_states": result.epoch_states,
            }, resume_path)
        if stop:
            break

    if not result.best_state:  # no candidate epoch: keep the last model, as the original falls back
        last = result.history[-1]
        if not math.isfinite(getattr(last, loss_field)):
            raise NonFiniteLossError(f"no finite checkpoint: {loss_field} is {getattr(last, loss_field)} at the "
                                     f"last epoch ({last.epoch}) and no earlier epoch was a candidate")
        result.best_epoch, result.best_loss = last.epoch, getattr(last, loss_field)
        result.best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(result.best_state)
    return result
