"""Snakemake adapter: evaluate one image run (rule evaluate_image)."""

import numpy as np
import torch

from mimflow.image_config import ImageEvaluationConfig
from mimflow.image_evaluate import evaluate_image
from mimflow.image_train import default_device, load_image_checkpoint, load_image_data, sampling_generator
from mimflow.joblog import job_logger
from mimflow.provenance import now, provenance_record, write_json_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
started = now()
device = default_device()
model, cfg, state = load_image_checkpoint(sm.input.model, device)
ev = ImageEvaluationConfig.from_dict(dict(sm.params.evaluation))
seed = int(np.random.SeedSequence([cfg.seed, 1]).generate_state(1)[0])
torch.manual_seed(seed)
generator = torch.Generator().manual_seed(seed)
metrics, nll = evaluate_image(model, load_image_data(sm.input.data, cfg.max_train_images), cfg, ev, device,
                              sampling_generator(generator, device), generator)
metrics.update(epoch=state["best_epoch"], val_loss=state["best_loss"])
np.save(sm.output.nll, nll)
write_json_atomic(metrics, sm.output.metrics)
write_json_atomic(provenance_record({"run": cfg.to_dict(), "evaluation": ev.__dict__}, started,
                                    inputs={"model.pt": sm.input.model, "data": sm.input.data},
                                    extra={"rule": "evaluate_image"}), sm.output.provenance)
log.info("metrics %s", metrics)
