"""A finished run loaded in Python from its folder, for either family: its best model, its settings, the
data split it was trained and scored on, and its records (docs/extending.md, "A finished run in Python").

    from mimflow.runs import load_run
    run = load_run("results/runs/images/mnist5k/convhvae_2level-smim/standard/seed1")
    run.model, run.settings, run.data, run.metrics

The folder's provenance.json names the data file the run read and what its job had registered (the config's
plugins, the run's own vector file or image subset); paths are taken relative to the working directory the
workflow ran in (the folder above `results/`), so a run of a plugin objective or of one's own vectors loads
without its config.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .core.io import load_json
from .core.seeds import stream
from .plugins import configure

RESULTS_DIR = "results"


@dataclass(frozen=True)
class VectorSplit:
    """The points of a low-dimensional run's two splits, as its evaluation scores them: every point of a file
    (own vectors, PCA Fashion-MNIST: the drop_last passes), fresh draws of P(x) for toy data."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclass(frozen=True)
class LoadedRun:
    """A finished run: `model` (best checkpoint, eval mode), `settings` (LowdimRunConfig or ImageRunConfig),
    `data` (VectorSplit, or mimflow.images.data.ImageData), the low-dimensional data stream `source` (None for
    images), `metrics` (metrics.json; None before evaluation), `provenance` and the `checkpoint` dict."""

    folder: Path
    family: str  # "lowdim" or "images"
    model: torch.nn.Module
    settings: Any
    data: Any
    source: Any
    metrics: dict | None
    provenance: dict
    checkpoint: dict


def workflow_root(folder: Path) -> Path:
    """The working directory a run folder was written from: the parent of its `results/`."""
    for parent in folder.resolve().parents:
        if parent.name == RESULTS_DIR:
            return parent.parent
    raise ValueError(f"run folder {folder} is not inside a {RESULTS_DIR}/ folder; allowed: a run folder of a "
                     f"workflow's {RESULTS_DIR}/runs/")


def load_run(folder: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """The finished run in `folder` (holding model.pt and provenance.json), its model on `device`."""
    folder = Path(folder)
    missing = [name for name in ("model.pt", "provenance.json") if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"run folder {folder} has no {' or '.join(missing)}; allowed: a run folder whose "
                                "training finished (results/runs/...)")
    root = workflow_root(folder)
    provenance = load_json(folder / "provenance.json")
    if "failed" in provenance:
        raise ValueError(f"run {folder} failed in training ({provenance['failed']}); it has no model to load")
    registrations = dict(provenance.get("registrations", {}))
    # a plugin file is named relative to the workflow's directory, as its jobs imported it
    registrations["plugins"] = [p if not p.endswith(".py") or Path(p).resolve() == (root / p).resolve()
                                else str(root / p) for p in registrations.get("plugins", [])]
    configure(registrations)
    data_path = provenance.get("input_files", {}).get("data")
    data_path = None if data_path is None else root / data_path
    metrics = load_json(folder / "metrics.json") if (folder / "metrics.json").is_file() else None
    device = torch.device(device)
    if "arch" in provenance["settings"]:
        from .images.model import load_run as load_image_run

        model, cfg, state, data = load_image_run(folder / "model.pt", data_path, device)
        return LoadedRun(folder, "images", model, cfg, data, None, metrics, provenance, state)
    from .lowdim.data import evaluation_pass, lowdim_source
    from .lowdim.model import load_lowdim_model
    from .lowdim.settings import LowdimRunConfig

    model, state = load_lowdim_model(folder / "model.pt")
    cfg = LowdimRunConfig.from_dict(state["run_config"])
    source = lowdim_source(cfg, data_path)
    generator = torch.Generator().manual_seed(stream(cfg.seed, "evaluation"))
    x_train, y_train = evaluation_pass(source, "train", generator)
    x_test, y_test = evaluation_pass(source, "test", generator)
    return LoadedRun(folder, "lowdim", model.to(device), cfg, VectorSplit(x_train, y_train, x_test, y_test), source,
                     metrics, provenance, state)

