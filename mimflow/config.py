"""Typed settings of one low-dimensional run, built from the resolved workflow config."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

Q_X_FORMS = ("2019", "importance")
PCA_FITS = ("per_split", "train")


class Settings:
    """Dict round-trip for frozen settings dataclasses: unknown keys are an error, lists become tuples."""

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown run setting(s) {unknown} for {cls.__name__}; allowed: {sorted(fields)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_positive(settings: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(settings, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(settings, name)}")


def check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {list(allowed)}")


@dataclass(frozen=True)
class LowdimRunConfig(Settings):
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
        check_positive(self, ("z_dim", "mid_dim", "epochs", "warmup_steps", "batch_size", "layers", "dataset_size"))
        check_choice("mim_decoder_qx", self.mim_decoder_qx, Q_X_FORMS)
        check_choice("pca_fit", self.pca_fit, PCA_FITS)


@dataclass(frozen=True)
class EvaluationConfig(Settings):
    """Settings of the per-run evaluation (spec 4)."""

    ksg_k: int = 5
    ksg_max_points: int = 10000
    knn_neighbors: tuple[int, ...] = (1, 3, 5, 10)

