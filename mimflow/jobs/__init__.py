"""The job layer: one function per Snakemake rule over plain inputs, outputs and params (a JobContext), so
each script under workflow_scripts/ is two lines and a job's logic runs and is tested without Snakemake.

    from mimflow.jobs import run
    from mimflow.jobs.lowdim import train_lowdim
    run(snakemake, train_lowdim)

The modules: context (JobContext, run: the registries, the job log, threads and the device), failures (the
failed_runs policy), data (downloads and dataset builds), lowdim (low-dimensional runs, their figures and
tables, the scorecard) and images (image runs, their figures and tables).
"""
from .context import JobContext, run

__all__ = ["JobContext", "run"]
