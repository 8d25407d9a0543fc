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
from typing import Any, Callable, Mapping

import torch

from .io import UnreadableFileError, load_torch, save_torch_atomic

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the message names the epoch and the term."""


def non_finite_loss_error(term: str, value: float, epoch: int) -> NonFiniteLossError:
    """The error of a training loss that became NaN or infinite, naming its term and epoch."""
    return NonFiniteLossError(f"non-finite {term} loss ({value}) at epoch {epoch}")


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
    """The saved state when it belongs to these settings; None (and a log line) otherwise. A resume state is
    a cache: one that cannot be read (truncated, corrupt) is logged and training starts afresh, and the
    first epoch's save replaces it."""
    if path is None or not path.exists():
        return None
    # RNG states must stay on the CPU (set_state takes a CPU ByteTensor); weights and optimizer state
    # move to the model's device when they are loaded into it.
    try:
        state = load_torch(path)
        if not isinstance(state, dict) or "settings" not in state:
            raise UnreadableFileError(0, f"{path} is not a resume checkpoint")
    except UnreadableFileError as err:
        log.warning("resume checkpoint unusable, training afresh: %s", err)
        return None
    if state.get("settings") != settings:
        log.warning("resume checkpoint %s was written for other settings or code: starting afresh", path)
        return None
    return state


class RunTracker:
    """One run's bookkeeping across epochs: history, best checkpoint, early stopping, the non-finite
    policy and the resume checkpoint. `fit` drives one tracker; a stacked trainer drives one per run.

    A non-finite validation loss raises NonFiniteLossError ("raise"); with "skip" (the original
    low-dimensional code) it is logged and the epoch is no best candidate; with "stop" (the original
    image code) it is logged and training stops at the best checkpoint so far. With either, only a
    run without any finite checkpoint fails. With a `resume_path`, the full state is saved there after
    every epoch and a run whose settings match resumes from it.
    """

    def __init__(self, stop_rule: StopRule, settings: dict[str, Any], record_type: type,
                 resume_path: Path | None = None, record_states: bool = False, loss_field: str = "val_loss",
                 non_finite: str = "raise"):
        self.stop_rule, self.settings, self.record_type = stop_rule, settings, record_type
        self.resume_path, self.record_states = resume_path, record_states
        self.loss_field, self.non_finite = loss_field, non_finite
        self.result = FitResult()
        self.start = 1  # the next epoch to train
        self.finished = False

    def restore(self, epochs: int, reuse_finished: bool = True) -> dict | None:
        """The resume state (model, optimizer, generator, ...) when one matches the settings, else None (also
        for a finished one when reuse_finished is False). The caller loads the model, optimizer and generator
        parts; history and selection are taken here."""
        state = _resume_state(self.resume_path, self.settings)
        if state is not None and state["finished"] and not reuse_finished:
            log.info("%s: finished, retraining afresh as asked", self.resume_path)
            return None
        if state is not None:
            self.result = FitResult(state["best_epoch"], state["best_loss"], state["best_state"],
                                    [self.record_type(**r) for r in state["history"]], state["stopped_early"],
                                    state["epoch_states"])
            self.finished = state["finished"]
            self.start = epochs + 1 if state["finished"] else state["epoch"] + 1
        return state

    def observe(self, record: Any, model_state: Callable[[], dict]) -> bool:
        """Take one epoch's record (wall_time_s filled in); returns whether training stops after it.
        model_state() gives a copy of the weights, asked for only when they are kept."""
        epoch, loss = record.epoch, getattr(record, self.loss_field)
        finite = math.isfinite(loss)
        if not finite:
            message = f"non-finite {self.loss_field} ({loss}) at epoch {epoch}"
            if self.non_finite not in ("skip", "stop"):
                raise NonFiniteLossError(message)
            log.warning("%s: %s", message, "not a best-checkpoint candidate" if self.non_finite == "skip"
                        else "training stops at the best checkpoint so far")
        result = self.result
        result.history.append(record)
        state = None
        if self.record_states:
            state = model_state()
            result.epoch_states.append(state)
        if finite and epoch >= self.stop_rule.candidate_from and loss < result.best_loss:
            result.best_epoch, result.best_loss = epoch, loss
            result.best_state = copy.deepcopy(state) if state is not None else model_state()
        stop = self.stop_rule.epochs_without_improvement(epoch, result.best_epoch) > self.stop_rule.patience or \
            (not finite and self.non_finite == "stop")
        result.stopped_early = stop
        return stop

    def save(self, epoch: int, epochs: int, model: dict, optimizer: dict, generator: Any,
             cuda_rng: Any = None) -> None:
        """Write the resume checkpoint after `epoch` (no-op without a resume path)."""
        if self.resume_path is None:
            return
        result = self.result
        save_torch_atomic({
            "settings": self.settings, "epoch": epoch, "model": model, "optimizer": optimizer,
            "generator": generator, "cuda_rng": cuda_rng,
            "best_epoch": result.best_epoch, "best_loss": result.best_loss, "best_state": result.best_state,
            "history": [asdict(r) for r in result.history], "stopped_early": result.stopped_early,
            "finished": result.stopped_early or epoch == epochs, "epoch_states": result.epoch_states,
        }, self.resume_path)

    def finish(self, model_state: Callable[[], dict]) -> FitResult:
        """The result with its best state; without any candidate epoch the last weights, as the original."""
        result = self.result
        if not result.best_state:
            last = result.history[-1]
            if not math.isfinite(getattr(last, self.loss_field)):
                raise NonFiniteLossError(f"no finite checkpoint: {self.loss_field} is {getattr(last, self.loss_field)} "
                                         f"at the last epoch ({last.epoch}) and no earlier epoch was a candidate")
            result.best_epoch, result.best_loss = last.epoch, getattr(last, self.loss_field)
            result.best_state = model_state()
        return result


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generators: Mapping[str, torch.Generator],
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
    """Train one run for up to `epochs` epochs; returns the history with the model loaded at its best state.

    `run_epoch` trains one epoch and returns its record: a dataclass with `epoch`, `wall_time_s`
    (filled in here) and `loss_field`, the validation loss that selects the best checkpoint. `generators`
    are the run's named random streams: their states go into the resume checkpoint. Selection, stopping,
    the non-finite policy and resuming are RunTracker's.
    """
    tracker = RunTracker(stop_rule, settings, record_type, resume_path, record_states, loss_field, non_finite)
    state = tracker.restore(epochs)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for name, generator in generators.items():
            generator.set_state(state["generator"][name])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():  # model-side noise on CUDA
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def model_state() -> dict:
        return copy.deepcopy(model.state_dict())

    for epoch in range(tracker.start, epochs + 1):
        started = time.perf_counter()
        record = run_epoch(epoch)
        record.wall_time_s = time.perf_counter() - started
        stop = tracker.observe(record, model_state)
        if on_epoch is not None:
            on_epoch(model, record)
        tracker.save(epoch, epochs, model.state_dict(), optimizer.state_dict(),
                     {name: generator.get_state() for name, generator in generators.items()},
                     torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)
        if stop:
            break

    result = tracker.finish(model_state)
    model.load_state_dict(result.best_state)
    return result
