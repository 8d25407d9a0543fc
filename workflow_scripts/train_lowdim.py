"""Snakemake adapter: train one low-dimensional run (rule train_lowdim)."""
from dataclasses import asdict
from pathlib import Path

import torch

from mimflow.core.checkpoint import save_checkpoint
from mimflow.core.io import write_csv_atomic, write_json_atomic
from mimflow.core.joblog import job_logger
from mimflow.core.provenance import now, provenance_record
from mimflow.lowdim.data import lowdim_source
from mimflow.lowdim.settings import LowdimRunConfig
from mimflow.lowdim.train import save_epoch_states, train_lowdim

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
started = now()
cfg = LowdimRunConfig.from_dict(dict(sm.params.settings))
resume = Path(sm.params.resume)
resume.parent.mkdir(parents=True, exist_ok=True)
log.info("settings %s", cfg.to_dict())
if resume.exists():
    log.info("resuming from %s", resume)


def log_epoch(model, record):
    log.info("epoch %d beta %.3g lr %.4g train %.5g test %.5g (%.2fs)", record.epoch, record.beta, record.lr,
             record.train_loss, record.test_loss, record.wall_time_s)


try:
    model, result = train_lowdim(cfg, resume_path=resume, on_epoch=log_epoch, record_states=sm.params.record_epochs,
                                 source=lowdim_source(cfg, sm.input.get("data")))
except Exception:
    log.exception("training failed")
    raise
save_checkpoint(sm.output.model, cfg.to_dict(), model, result, model_config=asdict(model.config))
write_csv_atomic(result.history, sm.output.log_csv)
save_epoch_states(result, sm.output.epoch_states)
write_json_atomic(provenance_record(cfg.to_dict(), started, inputs=dict(sm.input.items()), extra={
    "rule": "train_lowdim", "best_epoch": result.best_epoch, "best_loss": result.best_loss,
    "epochs_run": len(result.history), "stopped_early": result.stopped_early,
}), sm.output.provenance)
resume.unlink(missing_ok=True)  # the run is complete; a forced rerun must start afresh
log.info("best epoch %d loss %.5g after %d epochs", result.best_epoch, result.best_loss, len(result.history))
