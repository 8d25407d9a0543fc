"""Snakemake adapter: train the runs of one low-dimensional job (a seed group, or one run) as one stack.

Each run keeps its full state in its resume.pt, written every epoch and kept once finished, keyed by its
settings and the code's fingerprint. A killed job resumes from it; a finished one stands for the run when
the group job reruns for another reason (a seed added, one run's files deleted): that run is re-emitted,
not retrained, its numbers being the same either way. Delete resume.pt to train a run afresh. A run that
fails (non-finite loss) is recorded in its failure.json; it fails the job after the others are written, or
with failed_runs: record its outputs record the failure and the job succeeds (mimflow.core.failures).
"""
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from mimflow.core.checkpoint import save_checkpoint
from mimflow.core.failures import FAILURE_FILE, RunFailure, clear_failure, failed_checkpoint, record_failure
from mimflow.core.io import save_torch_atomic, write_csv_atomic, write_json_atomic
from mimflow.core.joblog import job_logger
from mimflow.core.provenance import code_fingerprint, now, provenance_record
from mimflow.core.device import claim_job_device_or_exit
from mimflow.lowdim.data import lowdim_source
from mimflow.lowdim.settings import LowdimRunConfig
from mimflow.lowdim.train import save_epoch_states, train_lowdim_runs
from mimflow.registry import configure

sm = snakemake  # noqa: F821 (injected by Snakemake)
configure(sm.config)  # the config's plugins and vector datasets, as at planning
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
started = now()
seeds = list(sm.params.seeds)
cfgs = [LowdimRunConfig.from_dict({**sm.params.settings, "seed": seed}) for seed in seeds]
resumes = [Path(p) for p in sm.params.resume]
job = claim_job_device_or_exit(sm.params.device, log, key="lowdim_device")  # one line, exit: CUDA unusable
log.info("settings %s, seeds %s on %s", {k: v for k, v in cfgs[0].to_dict().items() if k != "seed"}, seeds, job.device)
for cfg, resume in zip(cfgs, resumes):
    resume.parent.mkdir(parents=True, exist_ok=True)
    if resume.exists():
        log.info("seed %d: resuming from %s", cfg.seed, resume)


def log_epoch(cfg, record):
    log.info("seed %d epoch %d beta %.3g lr %.4g train %.5g test %.5g (%.2fs)", cfg.seed, record.epoch, record.beta,
             record.lr, record.train_loss, record.test_loss, record.wall_time_s)


source = lowdim_source(cfgs[0], sm.input.get("data"))
# where the built dataset's raw files came from (package, local_dir or mirror), for provenance.json
source_data = getattr(source, "data", None)  # PCA and vector sources keep their file's dict
data_sources = source_data.get("raw_sources") if isinstance(source_data, dict) else None
outcomes = train_lowdim_runs(cfgs, source, resumes, on_epoch=log_epoch,
                             record_states=sm.params.record_epochs, device=job.device,
                             resume_key={"code": code_fingerprint()})


def write_provenance(index: int, cfg: LowdimRunConfig, **fields) -> None:
    write_json_atomic(provenance_record(cfg.to_dict(), started, inputs=dict(sm.input.items()), extra={
        "rule": sm.rule, "trained_with_seeds": seeds, "device": str(job.device),
        **({"data_sources": data_sources} if data_sources else {}), **fields}), sm.output.provenance[index])


record_failed = sm.config.get("failed_runs", "stop") == "record"
failures = []
for index, outcome in enumerate(outcomes):
    cfg, result = outcome.cfg, outcome.result
    folder = Path(sm.output.model[index]).parent
    if outcome.error is not None:
        failure = RunFailure(folder.as_posix(), "train", str(outcome.error))
        failures.append(failure)
        log.error("seed %d failed: %s (recorded in %s)", cfg.seed, outcome.error, record_failure(failure))
        if record_failed:  # the failure stands in for the run's outputs; the job goes on
            save_torch_atomic(failed_checkpoint(failure, cfg.to_dict()), sm.output.model[index])
            write_csv_atomic(result.history, sm.output.log_csv[index])
            save_torch_atomic({"epochs": [], "states": []}, sm.output.epoch_states[index])
            write_provenance(index, cfg, failed=failure.error, epochs_run=len(result.history))
        continue
    save_checkpoint(sm.output.model[index], cfg.to_dict(), outcome.model, result,
                    model_config=asdict(outcome.model.config))
    write_csv_atomic(result.history, sm.output.log_csv[index])
    save_epoch_states(result, sm.output.epoch_states[index])
    write_provenance(index, cfg, best_epoch=result.best_epoch, best_loss=result.best_loss,
                     epochs_run=len(result.history), stopped_early=result.stopped_early)
    clear_failure(folder)
    log.info("seed %d: best epoch %d loss %.5g after %d epochs%s", cfg.seed, result.best_epoch, result.best_loss,
             len(result.history), " (kept from its finished resume.pt, not retrained)" if outcome.restored else "")
if failures and not record_failed:
    message = ("error: " + "; ".join(f.describe() for f in failures) + f" (recorded in {FAILURE_FILE} there; the"
               " other runs' finished states stay in their resume.pt). To build the tables and figures from the runs"
               " that succeeded, set failed_runs: record (docs/faults.md)")
    log.error(message)
    sys.exit(message)
