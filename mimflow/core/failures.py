"""A run that failed, recorded where a user looks for its results.

Every failed run gets `failure.json` in its folder (not a declared output, so Snakemake never deletes it;
a later successful run removes it). With the config switch `failed_runs: stop` (the default) the job then
fails, and the grid stops as Snakemake users expect. With `failed_runs: record` the job writes the failed
run's declared outputs as failure records instead: model.pt holds {"failed": ...} and no weights,
metrics.json holds {"failed": ...} and no metric, the per-run figures say that the run failed, and the
experiment's tables and stats figures are built from the runs that succeeded, naming the failed ones.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from .io import JobError, write_json_atomic

FAILURE_FILE = "failure.json"


class RunFailedError(JobError):
    """A step was asked to use the outputs of a run whose failure was recorded in their place."""


@dataclass(frozen=True)
class RunFailure:
    run: str    # the run's folder, e.g. results/runs/toy2d/toy4/mim/z2-h5/seed3
    stage: str  # the step that failed: "train"
    error: str  # what went wrong, e.g. "non-finite encoder-path loss (nan) at epoch 2"

    def describe(self) -> str:
        return f"{self.run} failed in {self.stage}: {self.error}"


def record_failure(failure: RunFailure) -> Path:
    """Write failure.json into the run's folder (atomically) and return its path."""
    path = Path(failure.run) / FAILURE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(asdict(failure), path)
    return path


def clear_failure(run_folder: str | Path) -> None:
    """Remove a failure record that a successful run has made stale."""
    (Path(run_folder) / FAILURE_FILE).unlink(missing_ok=True)


def failed_checkpoint(failure: RunFailure, run_config: dict) -> dict:
    """What model.pt holds for a recorded failure: the failure and the run's settings, no weights."""
    return {"failed": asdict(failure), "run_config": run_config}


def checkpoint_failure(state: dict) -> RunFailure | None:
    """The failure a model.pt records in place of weights, or None for a trained model."""
    return RunFailure(**state["failed"]) if isinstance(state, dict) and "failed" in state else None


def failure_figure(failure: RunFailure, dpi: int = 100, size: tuple[float, float] = (6.0, 3.0)):
    """A figure that says the run failed and why, in place of a failed run's plot."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size, dpi=dpi)
    fig.text(0.5, 0.5, textwrap.fill(f"No figure: {failure.describe()}", 70), ha="center", va="center",
             fontsize=9, wrap=True)
    return fig
