"""The context every job runs in: its files and params, the config's registries, its log, its threads and
its device, set up once here instead of in each script."""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
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
    stage: str | None = None  # the job function's name, which is its workflow script's (source tracking)
    scripts_dir: str | None = None
    log: logging.Logger = field(default=None, repr=False)  # set by setup()
    device_claim: Any = field(default=None, repr=False)  # set by claim_device(): holds the GPU slot

    @classmethod
    def from_snakemake(cls, sm: Any, stage: str | None = None) -> "JobContext":
        return cls(rule=sm.rule, input=sm.input, output=sm.output, params=sm.params, wildcards=sm.wildcards,
                   config=sm.config, threads=sm.threads, log_file=sm.log[0] if len(sm.log) else None,
                   stage=stage, scripts_dir=getattr(sm, "scriptdir", None))

    def setup(self) -> "JobContext":
        """Registries as at planning (the config's plugins and vector datasets), the log, torch's threads."""
        configure(self.config)
        self.log = job_logger(self.log_file, self.rule) if self.log_file else logging.getLogger(self.rule)
        torch = sys.modules.get("torch")  # imported by the job's module where it needs it: downloads and
        if torch is not None:  # tables do not pay for importing it
            torch.set_num_threads(self.threads)
        return self

    def registrations(self, dataset: str) -> dict:
        """What a run of `dataset` needs registered to be loaded again (mimflow.runs.load_run calls
        mimflow.plugins.configure with it): the config's plugins and this dataset's own config entry, if any."""
        return {"plugins": list(self.config.get("plugins", [])),
                **{key: {dataset: self.config[key][dataset]} for key in ("vector_datasets", "image_subsets")
                   if dataset in self.config.get(key, {})}}

    def source(self):
        """The source files this job runs (mimflow.sources), read now; None for a job built without a stage.
        Their hash is what the rule's `code` param carried at planning; a difference is logged (the code
        changed while the job waited) and the job's records give the hash of what ran."""
        if self.stage is None:
            return None
        from ..sources import SCRIPTS_DIR, stage_source

        wildcards = dict(self.wildcards.items()) if self.wildcards is not None else {}
        source = stage_source(self.stage, wildcards, Path(self.scripts_dir) if self.scripts_dir else SCRIPTS_DIR)
        planned = getattr(self.params, "code", None) if self.params is not None else None
        if planned is not None and planned != source.sha256:
            self.log.warning("the source of this job changed after planning (planned %s, running %s); its "
                             "records name what ran", planned[:12], source.sha256[:12])
        return source

    def retrain(self) -> str:
        """Why this training job ignores a finished resume.pt ("" when it does not): config `retrain`, or the
        planning process's --forcerun of this rule or --forceall (mimflow.core.retrain)."""
        from ..core.retrain import ALL, forced_training_rules

        if self.config.get("retrain"):
            return "config retrain=true"
        forced = forced_training_rules()
        if ALL in forced:
            return "--forceall"
        return f"--forcerun {self.rule}" if self.rule in forced else ""

    def resume_key(self, source) -> dict:
        """What a kept training state must match besides the run's settings: the source the job runs and
        torch's version (either changed: training starts afresh)."""
        import torch

        return {"torch": torch.__version__, **({"code": source.sha256} if source is not None else {})}

    def source_record(self) -> dict | None:
        """For provenance.json: the source this job runs (hash, files with their sha256, what git lacks)."""
        source = self.source()
        return source.record() if source is not None else None

    def claim_device(self, requested: str, key: str = "images.device", jobs_per_gpu: int | str = 1):
        """The job's torch device; one line and exit when CUDA is unusable. On CUDA the claim (its GPU slot's
        lock) is kept on the context, so the slot is held until the job ends, not until the claim is dropped.
        jobs_per_gpu: images.jobs_per_gpu (image jobs), 1 for a GPU of its own."""
        from ..core.device import claim_job_device_or_exit

        self.device_claim = claim_job_device_or_exit(requested, self.log, key=key, jobs_per_gpu_setting=jobs_per_gpu)
        return self.device_claim.device

    def run_on_device(self, work: Callable[[Any], Any]) -> Any:
        """work(device) on the claimed device; on a shared GPU that runs out of memory, once more alone on the
        whole GPU (work must resume from what it saved), with one line in the log each time."""
        from ..core.device import JobDevice, claim_whole_gpu, retry_alone_on_out_of_memory

        def claim_alone(claim: JobDevice) -> JobDevice:
            slot = claim_whole_gpu(claim.slot.index, claim.slot.gpu_id, claim.slot.slots)
            return JobDevice(claim.device, slot)

        result, self.device_claim = retry_alone_on_out_of_memory(work, self.device_claim, claim_alone, self.log)
        return result


def run(sm: Any, job: Callable[[JobContext], None]) -> None:
    """Run one rule's job function in the context Snakemake gives the script (`snakemake`)."""
    job(JobContext.from_snakemake(sm, stage=job.__name__).setup())
