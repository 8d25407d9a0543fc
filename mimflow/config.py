"""Typed settings of one low-dimensional run, built from the resolved workflow config."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

Q_X_FORMS = ("2019", "importance")
PCA_FITS = ("per_split", "train")


@dataclass(frozen=True)
class LowdimRunConfig:
    """Everything that determines one low-dimensional training run (seed README defaults)."""

    dataset: str
    model: str
    z_dim: int
    mid_dim: int
    seed: int
    epochs: int = 200
    warmup_steps: int = 3  # beta/lr warm-up length, also the early-stopping patience
    batch_size: int = 128
    lr: float = 1e-3
    min_logvar: float = 6.0
    layers: int = 2
    act: str = "tanh"
    dataset_size: int = 10000  # items per pass before drop_last
    mim_decoder_qx: str = "2019"  # fidelity switch, spec 3.4
    pca_fit: str = "per_split"  # fidelity switch, spec 1.5 (PCA datasets only)

    def __post_init__(self) -> None:
        for name in ("z_dim", "mid_dim", "epochs", "warmup_steps", "batch_size", "layers", "dataset_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.mim_decoder_qx not in Q_X_FORMS:
            raise ValueError(f"mim_decoder_qx {self.mim_decoder_qx!r} is not one of {list(Q_X_FORMS)}")
        if self.pca_fit not in PCA_FITS:
            raise ValueError(f"pca_fit {self.pca_fit!r} is not one of {list(PCA_FITS)}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "LowdimRunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown run setting(s) {unknown}; allowed: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EvaluationConfig:
    """Settings of the per-run evaluation (spec 4)."""

    ksg_k: int = 5
    ksg_max_points: int = 10000
    knn_neighbors: tuple[int, ...] = (1, 3, 5, 10)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "EvaluationConfig":
        values = dict(values)
        if "knn_neighbors" in values:
            values["knn_neighbors"] = tuple(values["knn_neighbors"])
        return cls(**values)
