"""A dataset of one's own vectors for the low-dimensional experiments (config key vector_datasets).

The file is a NumPy .npz with four arrays:
  x_train  (n_train, d) float: training vectors
  y_train  (n_train,)   int:   their class labels (the KNN accuracy metrics use them)
  x_test   (n_test, d)  float: test vectors, the same d
  y_test   (n_test,)    int
Every training-time pass (training, and the per-epoch test loss) is the split in a fresh random order, cut
to whole batches (drop_last), as the PCA data are; the evaluation scores every point of both splits (no
drop_last: one's own test points all count). The density is unknown, so H_P_x is not reported and the per-run figures draw data points, not
P(x) contours. mimflow.data.vector_file checks all of this and names the bad array in a one-line error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .vector_file import VectorFileError, read_vectors

__all__ = ["VectorFileError", "VectorSource", "load_vectors"]


def load_vectors(path: str | Path, min_rows: int = 1) -> dict[str, torch.Tensor]:
    """The four arrays of a vector dataset file as tensors (x float32, y int64), checked."""
    return {name: torch.as_tensor(a, dtype=torch.float32 if name.startswith("x") else torch.int64)
            for name, a in read_vectors(path, min_rows).items()}


@dataclass(frozen=True)
class VectorSource:
    """The data stream of a vector dataset: each pass a shuffled split, cut to whole batches."""

    data: dict = field(repr=False)
    batch_size: int = 128

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            if len(self.data[f"x_{split}"]) < self.batch_size:
                raise VectorFileError(f"vector dataset: x_{split} has {len(self.data[f'x_{split}'])} rows, fewer "
                                      f"than one batch ({self.batch_size}); needs at least batch_size rows")

    @property
    def x_dim(self) -> int:
        return self.data["x_train"].shape[1]

    def _pass(self, split: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.data[f"x_{split}"], self.data[f"y_{split}"]
        n = (len(x) // self.batch_size) * self.batch_size
        order = torch.randperm(len(x), generator=generator)[:n]
        return x[order], y[order]

    def train_pass(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self._pass("train", generator)

    def test_pass(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self._pass("test", generator)

    def evaluation_pass(self, split: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Every point of a split in a fresh random order (what the evaluation scores)."""
        x, y = self.data[f"x_{split}"], self.data[f"y_{split}"]
        order = torch.randperm(len(x), generator=generator)
        return x[order], y[order]

    def true_log_prob(self, x: torch.Tensor) -> None:
        return None  # unknown for one's own data

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n test vectors in a fresh random order (the per-run figures draw these), with their labels."""
        x, y = self.data["x_test"], self.data["y_test"]
        order = torch.randperm(len(x), generator=generator)[:n]
        return x[order], y[order]
