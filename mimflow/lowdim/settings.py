"""Typed settings of one low-dimensional run and of its evaluation, built from the resolved config."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.settings import Settings, check_choice, check_positive
from ..objectives import OBJECTIVES
from ..registry import dataset_family
from ..names import (
    ACTIVATIONS,
    AFFINE_GEOMETRIES,
    BETA_SCHEDULES,
    NON_FINITE_POLICIES,
    PCA_FITS,
    PCA_SIGNS,
    Q_X_FORMS,
)


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
    pca_sign: str = "sklearn-0.21"  # fidelity switch, spec 1.5: PCA component signs (PCA datasets only)
    affine_geometry: str = "torchvision-0.2.1"  # fidelity switch, spec 1.5: augmentation geometry (PCA only)
    beta_schedule: str = "warmup"  # fidelity switch for the R_H models: "constant" trains at beta = 1 throughout
    non_finite_test_loss: str = "skip"  # fidelity switch: skip a non-finite epoch as a best candidate, or raise
    objective_settings: dict[str, Any] = field(default_factory=dict)  # the objective's own settings (loss keywords)

    def __post_init__(self) -> None:
        check_choice("model", self.model, tuple(OBJECTIVES))
        declared = OBJECTIVES[self.model].settings
        unknown = sorted(set(self.objective_settings) - set(declared))
        if unknown:
            raise ValueError(f"objective {self.model} has no setting(s) {unknown}; allowed: {sorted(declared)}")
        check_choice("act", self.act, ACTIVATIONS)
        check_positive(self, ("z_dim", "mid_dim", "epochs", "warmup_steps", "batch_size", "layers", "dataset_size"))
        check_choice("mim_decoder_qx", self.mim_decoder_qx, Q_X_FORMS)
        check_choice("pca_fit", self.pca_fit, PCA_FITS)
        check_choice("pca_sign", self.pca_sign, PCA_SIGNS)
        check_choice("affine_geometry", self.affine_geometry, AFFINE_GEOMETRIES)
        check_choice("beta_schedule", self.beta_schedule, BETA_SCHEDULES)
        check_choice("non_finite_test_loss", self.non_finite_test_loss, NON_FINITE_POLICIES)

    def recorded(self) -> dict[str, Any]:
        """The settings provenance and tables show: to_dict() without those the run's data never read (its
        dataset family's `ignores`: the toy pass size for files, the PCA switches for toy data)."""
        ignored = dataset_family(self.dataset).ignores
        return {key: value for key, value in self.to_dict().items() if key not in ignored}


@dataclass(frozen=True)
class EvaluationConfig(Settings):
    """Settings of the per-run evaluation (spec 4)."""

    ksg_k: int = 5
    ksg_max_points: int = 10000
    knn_neighbors: tuple[int, ...] = (1, 3, 5, 10)

