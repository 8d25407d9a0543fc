"""Snakemake adapter: evaluate one low-dimensional run (rule evaluate_lowdim)."""
import torch

from mimflow.core.io import write_json_atomic
from mimflow.core.joblog import job_logger
from mimflow.core.provenance import now, provenance_record
from mimflow.core.seeds import stream
from mimflow.lowdim.data import lowdim_source
from mimflow.lowdim.evaluate import evaluate_lowdim
from mimflow.lowdim.model import load_lowdim_model
from mimflow.lowdim.settings import EvaluationConfig, LowdimRunConfig

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
started = now()
model, state = load_lowdim_model(sm.input.model)
cfg = LowdimRunConfig.from_dict(state["run_config"])
ev = EvaluationConfig.from_dict(dict(sm.params.evaluation))
# Evaluation draws its own fresh data from a stream seeded apart from training's.
generator = torch.Generator().manual_seed(stream(cfg.seed, "evaluation"))
metrics = evaluate_lowdim(model, lowdim_source(cfg, sm.input.get("data")), cfg, ev, generator)
metrics["epoch"] = state["best_epoch"]
metrics["loss"] = state["best_loss"]
write_json_atomic(metrics, sm.output.metrics)
write_json_atomic(provenance_record({"run": cfg.to_dict(), "evaluation": ev.to_dict()}, started,
                                    inputs={"model.pt": sm.input.model}, extra={"rule": "evaluate_lowdim"}),
                  sm.output.provenance)
log.info("metrics %s", metrics)
