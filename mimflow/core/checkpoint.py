"""The one format of a run's best checkpoint (model.pt), shared by both experiment families."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .fit import FitResult
from .failures import RunFailedError, RunFailure, checkpoint_failure
from .io import UnreadableFileError, load_torch, save_torch_atomic


def save_checkpoint(path: str | Path, run_settings: dict[str, Any], model: torch.nn.Module, result: FitResult,
                    model_config: dict[str, Any] | None = None) -> None:
    """Best weights (on the CPU) with the settings that rebuild the model, and the selection summary."""
    save_torch_atomic({
        "run_config": run_settings,
        "model_config": model_config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "best_epoch": result.best_epoch,
        "best_loss": result.best_loss,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
    }, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The saved dict, tensors on the CPU (the caller builds the model and moves it). UnreadableFileError
    when the file is truncated or corrupt, or is not a checkpoint; RunFailedError when it records a failed
    run (mimflow.core.failures)."""
    state = load_torch(path)
    failure = checkpoint_failure(state)
    if failure is not None:
        raise RunFailedError(f"{path} has no model: {failure.describe()} (recorded with failed_runs: record)")
    if not isinstance(state, dict) or "state_dict" not in state:
        raise UnreadableFileError(0, f"{path} is not a model checkpoint: delete it and rerun Snakemake, which "
                                  "rebuilds it")
    return state


def recorded_failure(path: str | Path) -> RunFailure | None:
    """The failure that a model.pt records in place of a model (failed_runs: record), or None."""
    return checkpoint_failure(load_torch(path))
