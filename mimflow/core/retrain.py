"""Forced retraining: the planning process tells training jobs that the user forced them.

Snakemake gives a job no sign that it was forced (--forcerun, --forceall), and a job rerun after a kill or
a time-out must still resume. So the Snakefile's onstart hook, which runs in the process that plans once the DAG
is built and before any job starts (never in a job's own process, which Snakemake starts with --force and
--no-hooks), puts the forced training rules in the environment, which local jobs inherit and SLURM jobs
receive (sbatch --export=ALL). A training job so named does not let a finished
resume.pt stand for its run; an unfinished one (this retraining, killed) still resumes.
"""
from __future__ import annotations

import os
from typing import Iterable

FORCED_TRAINING_ENV = "MIMFLOW_FORCED_TRAINING"
ALL = "*"


def forced_training_rules() -> set[str]:
    """The training rules the planning process was told to force ({"*"} for --forceall)."""
    return {name for name in os.environ.get(FORCED_TRAINING_ENV, "").split(",") if name}


def announce_forced_training(forceall: bool, forcerun: Iterable[str], training_rules: Iterable[str]) -> set[str]:
    """Set the environment for the jobs of this invocation from Snakemake's --forceall/--forcerun."""
    forced = {ALL} if forceall else set(forcerun) & set(training_rules)
    if forced:
        os.environ[FORCED_TRAINING_ENV] = ",".join(sorted(forced))
    else:
        os.environ.pop(FORCED_TRAINING_ENV, None)
    return forced
