"""Snakemake adapter: evaluate one image run (rule evaluate_image)."""

import numpy as np
import torch

from mimflow.core.io import write_json_atomic
from mimflow.core.joblog import job_logger
from mimflow.core.provenance import now, provenance_record
from mimflow.core.seeds import stream
from mimflow.images.data import seeded_generators
from mimflow.core.device import claim_job_device_or_exit
from mimflow.images.evaluate import evaluate_image
from mimflow.images.model import load_run
from mimflow.images.settings import ImageEvaluationConfig

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
started = now()
job = claim_job_device_or_exit(sm.params.device, log)  # holds this job's GPU until it ends
device = job.device
model, cfg, state, data = load_run(sm.input.model, sm.input.data, device)
ev = ImageEvaluationConfig.from_dict(dict(sm.params.evaluation))
generator, noise = seeded_generators(stream(cfg.seed, "evaluation"), device)
metrics, nll = evaluate_image(model, data, cfg, ev, device, noise, generator)
metrics.update(epoch=state["best_epoch"], val_loss=state["best_loss"])
np.save(sm.output.nll, nll)
write_json_atomic(metrics, sm.output.metrics)
write_json_atomic(provenance_record({"run": cfg.to_dict(), "evaluation": ev.to_dict()}, started,
                                    inputs={"model.pt": sm.input.model, "data": sm.input.data},
                                    extra={"rule": "evaluate_image"}), sm.output.provenance)
log.info("metrics %s", metrics)
