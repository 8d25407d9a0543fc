"""The failed_runs policy of the jobs (docs/faults.md), written once: a failed run is always recorded in its
folder's failure.json; with `failed_runs: stop` the job fails after its other runs are written, naming each
failure; with `failed_runs: record` the failed run's outputs become failure records and the job succeeds.
Later steps meet such a record in place of a model and write their own records (stand_in_for_failure)."""
from __future__ import annotations

import logging
import sys
from typing import Callable

from ..core.checkpoint import recorded_failure
from ..core.failures import FAILURE_FILE, RunFailure, record_failure
from ..names import FAILED_RUNS_MODES


class FailedRuns:
    """The failures of one job under one failed_runs mode."""

    def __init__(self, mode: str, log: logging.Logger):
        if mode not in FAILED_RUNS_MODES:
            raise ValueError(f"failed_runs {mode!r} is not one of {list(FAILED_RUNS_MODES)}")
        self.mode, self.log, self.failures = mode, log, []

    @property
    def record(self) -> bool:
        return self.mode == "record"

    def add(self, failure: RunFailure, write_records: Callable[[], None]) -> None:
        """Record one failed run; under `record`, write_records() writes its outputs as failure records."""
        self.failures.append(failure)
        self.log.error("%s (recorded in %s)", failure.describe(), record_failure(failure))
        if self.record:
            write_records()

    def message(self) -> str | None:
        """The job's one-line error under `stop` (None when nothing failed or the failures are recorded)."""
        if not self.failures or self.record:
            return None
        return ("error: " + "; ".join(f.describe() for f in self.failures) + f" (recorded in {FAILURE_FILE} there;"
                " the other runs' finished states stay in their resume.pt). To build the tables and figures from the"
                " runs that succeeded, set failed_runs: record (docs/faults.md)")

    def finish(self) -> None:
        """End the job with the one-line error under `stop` when a run failed."""
        message = self.message()
        if message is not None:
            self.log.error(message)
            sys.exit(message)


def stand_in_for_failure(model_path: str, log: logging.Logger, what: str,
                         write_records: Callable[[RunFailure], None]) -> bool:
    """Where model.pt records a failure (failed_runs: record), write this step's records of it instead of its
    outputs and say so; True when it did."""
    failure = recorded_failure(model_path)
    if failure is None:
        return False
    write_records(failure)
    log.warning("no %s: %s", what, failure.describe())
    return True
