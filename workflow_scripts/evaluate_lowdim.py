"""Snakemake adapter: evaluate one low-dimensional run (rule evaluate_lowdim)."""

import numpy as np
import torch

from mimflow.config import EvaluationConfig
from mimflow.data import lowdim_source
from mimflow.evaluate import evaluate_lowdim
from mimflow.joblog import job_logger
from mimflow.provenance import now, provenance_record, write_json_atomic
from mimflow.runs import load_checkpoint

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
started = now()
model, cfg, state = load_checkpoint(sm.input.model)
ev = EvaluationConfig.from_dict(dict(sm.params.evaluation))
# Evaluation draws its own fresh data from a stream seeded apart from training's.
generator = torch.Generator().manual_seed(int(np.random.SeedSequence([cfg.seed, 1]).generate_state(1)[0]))
metrics = evaluate_lowdim(model, lowdim_source(cfg, sm.input.get("data")), cfg, ev, generator)
metrics["epoch"] = state["best_epoch"]
metrics["loss"] = state["best_loss"]
write_json_atomic(metrics, sm.output.metrics)
write_json_atomic(provenance_record({"run": cfg.to_dict(), "evaluation": ev.__dict__}, started,
                                    inputs={"model.pt": sm.input.model}, extra={"rule": "evaluate_lowdim"}),
                  sm.output.provenance)
log.info("metrics %s", metrics)
