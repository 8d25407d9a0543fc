"""The context every job runs in: its files and params, the config's registries, its log, its threads and
its device, set up once here instead of in each script."""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.joblog import job_logger
from ..plugins import configure


@dataclass
class JobContext:
    """One job's plain inputs: `input`, `output`, `params` and `wildcards` as Snakemake gives them (lists
    with named entries; any object with the same attributes serves in tests), the merged config, the
    job's threads and its log file."""

    rule: str
    input: Any
    output: Any
    params: Any = None
    wildcards: Any = None
    config: dict = field(default_factory=dict)
    threads: int = 1
    log_file: str | None = None
    log: logging.Logger = field(default=None, repr=False)  # set by setup()

    @classmethod
    def from_snakemake(cls, sm: Any) -> "JobContext":
        return cls(rule=sm.rule, input=sm.input, output=sm.output, params=sm.params, wildcards=sm.wildcards,
                   config=sm.config, threads=sm.threads, log_file=sm.log[0] if len(sm.log) else None)

    def setup(self) -> "JobContext":
        """Registries as at planning (the config's plugins and vector datasets), the log, torch's threads."""
        configure(self.config)
        self.log = job_logger(self.log_file, self.rule) if self.log_file else logging.getLogger(self.rule)
        torch = sys.modules.get("torch")  # imported by the job's module where it needs it: downloads and
        if torch is not None:  # tables do not pay for importing it
            torch.set_num_threads(self.threads)
        return self

    def claim_device(self, requested: str, key: str = "images.device"):
        """The job's device (a GPU slot held until the job ends); one line and exit when CUDA is unusable."""
        from ..core.device import claim_job_device_or_exit

        return claim_job_device_or_exit(requested, self.log, key=key)


def run(sm: Any, job: Callable[[JobContext], None]) -> None:
    """Run one rule's job function in the context Snakemake gives the script (`snakemake`)."""
    job(JobContext.from_snakemake(sm).setup())
