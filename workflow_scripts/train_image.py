"""Snakemake adapter: train one image run (rule train_image); resumes from resume.pt if present."""
from pathlib import Path

import torch

from mimflow.core.checkpoint import save_checkpoint
from mimflow.core.io import write_csv_atomic, write_json_atomic
from mimflow.core.joblog import job_logger
from mimflow.core.provenance import now, provenance_record
from mimflow.images.data import load_image_data
from mimflow.core.device import claim_job_device_or_exit
from mimflow.images.settings import ImageRunConfig
from mimflow.images.train import train_image

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
started = now()
cfg = ImageRunConfig.from_dict(dict(sm.params.settings))
job = claim_job_device_or_exit(sm.params.device, log)  # ends the job in one line if CUDA is unusable
device = job.device
resume = Path(sm.params.resume)
log.info("settings %s on %s%s", cfg.to_dict(), device, " (resuming)" if resume.exists() else "")


def log_epoch(model, r):
    log.info("epoch %d beta %.3g train %.4f val %.4f (%.1fs)", r.epoch, r.beta, r.train_loss, r.val_loss, r.wall_time_s)


try:
    model, result = train_image(cfg, load_image_data(sm.input.data, cfg.max_train_images), device, resume, log_epoch)
except Exception:
    log.exception("training failed")
    raise
save_checkpoint(sm.output.model, cfg.to_dict(), model, result)  # the model is rebuilt from run_config
write_csv_atomic(result.history, sm.output.log_csv)
write_json_atomic(provenance_record(cfg.to_dict(), started, inputs={"data": sm.input.data}, extra={
    "rule": "train_image", "best_epoch": result.best_epoch, "best_loss": result.best_loss,
    "epochs_run": len(result.history), "stopped_early": result.stopped_early}), sm.output.provenance)
resume.unlink(missing_ok=True)
log.info("best epoch %d validation loss %.4f", result.best_epoch, result.best_loss)
