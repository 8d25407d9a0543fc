"""Typed settings of one image run (spec 6.1, 6.5)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.settings import Settings, check_choice, check_positive
from ..names import ARCHS, IMAGE_PRECISIONS, MASKED_CONV_GRADS, PRIORS
from ..registry import IMAGE_OBJECTIVES, image_datasets
from . import objectives as _builtin_objectives  # noqa: F401  (registers vae, smim, amim)


@dataclass(frozen=True)
class ImageRunConfig(Settings):
    """One (dataset, arch, objective, prior, seed) run at the seed README's settings."""

    dataset: str
    arch: str
    objective: str
    prior: str
    seed: int
    epochs: int = 2000
    warmup: int = 100  # beta = min(1, epoch / warmup); early stopping is held off until then
    early_stopping_epochs: int = 50
    batch_size: int = 100
    test_batch_size: int = 100
    lr: float = 5e-4
    z1_size: int = 40
    z2_size: int = 40
    number_components: int = 500
    use_training_data_init: bool = True
    max_train_images: int = 0  # 0 = all; tests train on a prefix
    # Fidelity switches (docs/fidelity.md); the defaults are the original's numerics.
    image_precision: str = "fp32"
    masked_conv_grad: str = "original"
    objective_settings: dict[str, Any] = field(default_factory=dict)  # the objective's own settings (loss keywords)

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, tuple(image_datasets()))
        check_choice("image_precision", self.image_precision, IMAGE_PRECISIONS)
        check_choice("masked_conv_grad", self.masked_conv_grad, MASKED_CONV_GRADS)
        check_choice("arch", self.arch, ARCHS)
        check_choice("objective", self.objective, tuple(IMAGE_OBJECTIVES))
        declared = IMAGE_OBJECTIVES[self.objective].settings
        unknown = sorted(set(self.objective_settings) - set(declared))
        if unknown:
            raise ValueError(f"image objective {self.objective} has no setting(s) {unknown}; "
                             f"allowed: {sorted(declared)}")
        check_choice("prior", self.prior, PRIORS)
        check_positive(self, ("epochs", "warmup", "early_stopping_epochs", "batch_size", "test_batch_size", "z1_size",
                              "z2_size", "number_components"))


@dataclass(frozen=True)
class ImageEvaluationConfig(Settings):
    is_samples: int = 5000  # importance samples per test image
    is_pass_copies: int = 0  # image copies per IS forward pass; 0 = sized to the device; 100 = the original's
    ksg_points: int = 3000  # first test images for KSG MI
    ksg_k: int = 5
    knn_neighbors: tuple[int, ...] = (1, 3, 5, 10)
    kmeans_seed: int = 177
    figure_images: int = 64  # 8 x 8 grids
