"""Snakemake adapter: train the runs of one low-dimensional job (a seed group, or one run) as one stack.

Each run keeps its full state in its resume.pt, written every epoch and kept once finished, keyed by its
settings and the code's fingerprint. A killed job resumes from it; a finished one stands for the run when
the group job reruns for another reason (a seed added, one run's files deleted): that run is re-emitted,
not retrained, its numbers being the same either way. Delete resume.pt to train a run afresh. A run that
fails (non-finite loss) fails the job after the others are written.
"""
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from mimflow.core.checkpoint import save_checkpoint
from mimflow.core.io import write_csv_atomic, write_json_atomic
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


try:
    outcomes = train_lowdim_runs(cfgs, lowdim_source(cfgs[0], sm.input.get("data")), resumes, on_epoch=log_epoch,
                                 record_states=sm.params.record_epochs, device=job.device,
                                 resume_key={"code": code_fingerprint()})
except Exception:
    log.exception("training failed")
    raise
for index, outcome in enumerate(outcomes):
    cfg, result = outcome.cfg, outcome.result
    if outcome.error is not None:
        log.error("seed %d failed: %s", cfg.seed, outcome.error)
        continue
    save_checkpoint(sm.output.model[index], cfg.to_dict(), outcome.model, result,
                    model_config=asdict(outcome.model.config))
    write_csv_atomic(result.history, sm.output.log_csv[index])
    save_epoch_states(result, sm.output.epoch_states[index])
    write_json_atomic(provenance_record(cfg.to_dict(), started, inputs=dict(sm.input.items()), extra={
        "rule": sm.rule, "best_epoch": result.best_epoch, "best_loss": result.best_loss,
        "epochs_run": len(result.history), "stopped_early": result.stopped_early,
        "trained_with_seeds": seeds, "device": str(job.device),
    }), sm.output.provenance[index])
    log.info("seed %d: best epoch %d loss %.5g after %d epochs%s", cfg.seed, result.best_epoch, result.best_loss,
             len(result.history), " (kept from its finished resume.pt, not retrained)" if outcome.restored else "")
failed = [o for o in outcomes if o.error is not None]
if failed:
    sys.exit("error: " + "; ".join(f"seed {o.cfg.seed}: {o.error}" for o in failed)
             + " (the other seeds' finished states stay in their resume.pt)")
