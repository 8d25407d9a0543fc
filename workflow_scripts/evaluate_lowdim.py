"""Snakemake adapter: evaluate the runs of one low-dimensional job (a seed group, or one run) in one process."""
import torch

from mimflow.core.checkpoint import recorded_failure
from mimflow.core.io import write_json_atomic
from mimflow.core.joblog import job_logger
from mimflow.core.provenance import now, provenance_record
from mimflow.core.seeds import stream
from mimflow.lowdim.data import lowdim_source
from mimflow.lowdim.evaluate import evaluate_lowdim
from mimflow.lowdim.model import load_lowdim_model
from mimflow.lowdim.settings import EvaluationConfig, LowdimRunConfig
from mimflow.registry import configure

sm = snakemake  # noqa: F821 (injected by Snakemake)
configure(sm.config)  # the config's plugins and vector datasets, as at planning
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
ev = EvaluationConfig.from_dict(dict(sm.params.evaluation))
source = None  # the runs of one job share their data; a PCA file is loaded once
for model_path, metrics_path, provenance_path in zip(sm.input.model, sm.output.metrics, sm.output.provenance):
    started = now()
    failure = recorded_failure(model_path)
    if failure is not None:  # failed_runs: record; the tables leave the run out and name it
        write_json_atomic({"failed": failure.error, "failed_in": failure.stage}, metrics_path)
        write_json_atomic(provenance_record({"failed": failure.describe()}, started, inputs={"model.pt": model_path},
                                            extra={"rule": sm.rule}), provenance_path)
        log.warning("no metrics: %s", failure.describe())
        continue
    model, state = load_lowdim_model(model_path)
    cfg = LowdimRunConfig.from_dict(state["run_config"])
    source = source or lowdim_source(cfg, sm.input.get("data"))
    # Evaluation draws its own fresh data from a stream seeded apart from training's.
    generator = torch.Generator().manual_seed(stream(cfg.seed, "evaluation"))
    metrics = evaluate_lowdim(model, source, cfg, ev, generator)
    metrics["epoch"] = state["best_epoch"]
    metrics["loss"] = state["best_loss"]
    write_json_atomic(metrics, metrics_path)
    write_json_atomic(provenance_record({"run": cfg.to_dict(), "evaluation": ev.to_dict()}, started,
                                        inputs={"model.pt": model_path}, extra={"rule": sm.rule}), provenance_path)
    log.info("seed %d metrics %s", cfg.seed, metrics)
