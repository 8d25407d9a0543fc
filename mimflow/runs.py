"""Files of one run folder: the best checkpoint (with its config) and the per-epoch log."""
from __future__ import annotations

import csv
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch

from .config import LowdimRunConfig
from .models.lowdim import LowdimModel, LowdimModelConfig
from .train import EpochRecord, TrainResult


def save_checkpoint(model: LowdimModel, cfg: LowdimRunConfig, result: TrainResult, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({
        "run_config": cfg.to_dict(),
        "model_config": asdict(model.config),
        "state_dict": model.state_dict(),
        "best_epoch": result.best_epoch,
        "best_loss": result.best_loss,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
    }, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> tuple[LowdimModel, LowdimRunConfig, dict]:
    state = torch.load(path, weights_only=False, map_location="cpu")
    model = LowdimModel(LowdimModelConfig(**state["model_config"]))
    model.load_state_dict(state["state_dict"])
    model.eval()
    return model, LowdimRunConfig.from_dict(state["run_config"]), state


def save_epoch_states(result: TrainResult, path: str | Path) -> None:
    """Per-epoch weights (an empty list unless the run recorded them), for animation frames."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"epochs": [r.epoch for r in result.history][:len(result.epoch_states)],
                "states": result.epoch_states}, tmp)
    os.replace(tmp, path)


def write_csv_atomic(records: list, path: str | Path) -> None:
    """Dataclass records (one per epoch) as CSV with a header, via a temporary name."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[f.name for f in fields(records[0])] if records else [])
        writer.writeheader()
        writer.writerows(asdict(r) for r in records)
    os.replace(tmp, path)


def write_train_log(history: list[EpochRecord], path: str | Path) -> None:
    write_csv_atomic(history, path)
