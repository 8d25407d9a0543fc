"""Jobs of the image runs: training, evaluation and the per-run figures. Importing torch here lets the
context set the job's torch threads."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..core.io import load_json, load_numpy, save_figure, write_csv_atomic, write_json_atomic
from ..core.provenance import now, provenance_record
from ..core.seeds import stream
from .context import JobContext


def train_image(job: JobContext) -> None:
    """Train one image run; resumes from its resume.pt if present."""
    from ..core.checkpoint import save_checkpoint
    from ..images.data import load_image_data
    from ..images.settings import ImageRunConfig
    from ..images.train import train_image as train

    log, output = job.log, job.output
    started = now()
    cfg = ImageRunConfig.from_dict(dict(job.params.settings))
    device = job.claim_device(job.params.device, jobs_per_gpu=job.params.jobs_per_gpu)  # one line if unusable
    resume = Path(job.params.resume)
    source = job.source()
    log.info("settings %s on %s%s", cfg.to_dict(), device, " (resuming)" if resume.exists() else "")

    def log_epoch(model, r):
        scored = not math.isnan(getattr(r, "val_NMI", math.nan))  # clustering scored this epoch
        log.info("epoch %d beta %.3g train %.4f val %.4f (%.1fs)%s", r.epoch, r.beta, r.train_loss, r.val_loss,
                 r.wall_time_s, f"; validation KNN5 {r.val_KNN5:.3f} NMI {r.val_NMI:.3f} active units "
                 f"{r.active_units_z1:.0f} + {r.active_units_z2:.0f}" if scored else "")

    data = load_image_data(job.input.data, cfg.max_train_images)
    try:  # out of memory on a shared GPU: once more alone, from resume.pt (saved every epoch)
        model, result = job.run_on_device(lambda device: train(cfg, data, device, resume, log_epoch,
                                                               resume_key=job.resume_key(source),
                                                               clustering_every=job.params.clustering_every))
    except Exception:
        log.exception("training failed")
        raise
    save_checkpoint(output.model, cfg.to_dict(), model, result)  # the model is rebuilt from run_config
    write_csv_atomic(result.history, output.log_csv)
    write_json_atomic(provenance_record(cfg.to_dict(), started, inputs={"data": job.input.data}, extra={
        "rule": "train_image", "best_epoch": result.best_epoch, "best_loss": result.best_loss,
        "epochs_run": len(result.history), "stopped_early": result.stopped_early,
        "clustering_every": job.params.clustering_every, "registrations": job.registrations(cfg.dataset)},
        source=source.record() if source else None), output.provenance)
    resume.unlink(missing_ok=True)
    log.info("best epoch %d validation loss %.4f", result.best_epoch, result.best_loss)


def evaluate_image(job: JobContext) -> None:
    """Evaluate one image run: test NLL (importance sampled), KSG MI, clustering and KNN accuracies."""
    import numpy as np

    from ..images.data import seeded_generators
    from ..images.evaluate import evaluate_image as evaluate
    from ..images.model import load_run
    from ..images.settings import ImageEvaluationConfig

    started = now()
    job.claim_device(job.params.device, jobs_per_gpu=job.params.jobs_per_gpu)  # held until the job ends
    ev = ImageEvaluationConfig.from_dict(dict(job.params.evaluation))

    def evaluate_on(device):  # the whole evaluation from its seed: a retry alone gives the same numbers
        model, cfg, state, data = load_run(job.input.model, job.input.data, device)
        generator, noise = seeded_generators(stream(cfg.seed, "evaluation"), device)
        return (*evaluate(model, data, cfg, ev, device, noise, generator, job.device_claim.memory_share), cfg, state)

    metrics, nll, cfg, state = job.run_on_device(evaluate_on)
    metrics.update(epoch=state["best_epoch"], val_loss=state["best_loss"])
    np.save(job.output.nll, nll)
    write_json_atomic(metrics, job.output.metrics)
    write_json_atomic(provenance_record({"run": cfg.to_dict(), "evaluation": ev.to_dict()}, started,
                                        inputs={"model.pt": job.input.model, "data": job.input.data},
                                        extra={"rule": "evaluate_image"}, source=job.source_record()),
                      job.output.provenance)
    job.log.info("metrics %s", metrics)


def image_figures(job: JobContext) -> None:
    """The per-run image figures of the original: generations.png, real.png and reconstructions.png (the
    first 64 test images and their reconstructions), real_recon.png (row pairs of the first 32 of them) and
    z_embed.png."""
    from ..core.device import numerics
    from ..images.data import seeded_generators
    from ..images.evaluate import latent_samples, tsne_embedding
    from ..images.figures import as_images, image_grid, latent_scatter, real_recon_grid
    from ..images.model import load_run

    output = job.output
    device = job.claim_device(job.params.device, jobs_per_gpu=job.params.jobs_per_gpu)  # held until the job ends
    model, cfg, state, data = load_run(job.input.model, job.input.data, device)
    _, noise = seeded_generators(stream(cfg.seed, "figures"), device)
    n = job.params.figure_images
    title = f"{cfg.arch}-{cfg.objective}, {cfg.prior}, {cfg.dataset}, seed {cfg.seed}, epoch {state['best_epoch']}"
    with torch.no_grad(), numerics(cfg.image_precision, device):
        samples = model.generate_x(n, noise).float().cpu().numpy()
        real = data.x_test[: min(n, len(data.x_test))]
        # one reconstruction call for both figures, as the original (real_recon shows the first half of it)
        recon = model.reconstruct_x(real.to(device), noise).float().cpu().numpy()
        z = latent_samples(model, data.x_test, cfg.test_batch_size, device, noise).float().numpy()
    real_images, recon_images = as_images(real.numpy(), cfg.dataset), as_images(recon, cfg.dataset)
    save_figure(image_grid(as_images(samples, cfg.dataset), title=f"samples: {title}"), output.generations)
    save_figure(image_grid(real_images, title=f"test images: {title}"), output.real)
    save_figure(image_grid(recon_images, title=f"reconstructions: {title}"), output.reconstructions)
    half = max(1, len(real_images) // 2)
    save_figure(real_recon_grid(real_images[:half], recon_images[:half],
                                title=f"test images and reconstructions: {title}"), output.real_recon)
    save_figure(latent_scatter(tsne_embedding(z, seed=cfg.seed), data.y_test.numpy(),
                               title=f"t-SNE of q(z|x) samples: {title}"), output.z_embed)
    job.log.info("wrote %s", list(output))


def nll_histogram(job: JobContext) -> None:
    """histogram_test.png of one image run's per-image test NLL."""
    from ..images.figures import nll_histogram as histogram

    metrics = json.loads(Path(job.input.metrics).read_text())
    w = job.wildcards
    title = (f"{w.arch}-{w.objective}, {w.prior}, {w.dataset}, seed {w.seed}: test NLL {metrics['test_nll_is']:.2f} "
             f"nats (S = {metrics['is_samples']})")
    save_figure(histogram(load_numpy(job.input.nll), title=title), job.output[0])
    job.log.info("wrote %s", job.output[0])


def pseudoinput_figure(job: JobContext) -> None:
    """The first 64 VampPrior pseudo-inputs of one run."""
    from ..images.figures import as_images, image_grid
    from ..images.model import load_image_model

    model, cfg, state = load_image_model(job.input.model, torch.device("cpu"))
    with torch.no_grad():
        pseudo = model.pseudoinputs()[:64].numpy()
    save_figure(image_grid(as_images(pseudo, cfg.dataset),
                           title=f"pseudo-inputs: {cfg.arch}-{cfg.objective}, {cfg.dataset}, seed {cfg.seed}"),
                job.output[0])
    job.log.info("wrote %s", job.output[0])


def image_showcase(job: JobContext) -> None:
    """One dataset's picture as in the seed README: rows the showcase models (MIM first), columns their samples,
    reconstructions and latent t-SNE (the runs' own figures), each row labelled with its test metrics."""
    import matplotlib.image

    from ..images.figures import showcase_figure

    rows = job.params.rows
    panels, labels = [], []
    for index, model in enumerate(rows):
        panels.append([matplotlib.image.imread(job.input[f"{name}_{index}"])
                       for name in ("generations", "real_recon", "z_embed")])
        metrics = json.loads(Path(job.input[f"metrics_{index}"]).read_text())
        knn = [key for key in metrics if key.startswith("clf_acc_KNN")]  # KNN5 as in the paper, else the last
        knn = ["clf_acc_KNN5"] if "clf_acc_KNN5" in knn else knn[-1:]
        scores = [f"test NLL {metrics['test_nll_is']:.1f} nats", f"NMI {metrics['NMI']:.2f}",
                  *(f"{key.removeprefix('clf_acc_')} {metrics[key]:.2f}" for key in knn), f"epoch {metrics['epoch']}"]
        labels.append(f"{model}: " + ", ".join(scores))
    w = job.wildcards
    title = (f"{w.dataset}: {' vs '.join(rows)}, {job.params.prior} prior, seed {job.params.seed} "
             f"(test NLL importance-sampled with S = {metrics['is_samples']})")
    save_figure(showcase_figure(panels, labels, title), job.output[0])
    job.log.info("wrote %s", job.output[0])


def clustering_trajectories(job: JobContext) -> None:
    """Clustering along training (images.clustering_every): one run's figure, or one (dataset, arch, prior)'s
    with every objective and seed of the grid on the same axes."""
    import pandas as pd

    from ..images.figures import clustering_trajectory_figure

    runs, warmups = [], set()
    for log_csv, provenance_path in zip(job.input.logs, job.input.provenance):
        provenance = load_json(provenance_path)  # a truncated one is named in one line
        settings = provenance["settings"]
        warmups.add(settings["warmup"])
        runs.append({"label": f"{settings['arch'].removesuffix('_2level')}-{settings['objective']}, seed "
                              f"{settings['seed']} (best epoch {provenance['best_epoch']})",
                     "log": pd.read_csv(log_csv), "best_epoch": provenance["best_epoch"]})
    if len(warmups) != 1:
        raise ValueError(f"the runs of one clustering figure have different warm-ups {sorted(warmups)}")
    missing = [path for path, run in zip(job.input.logs, runs) if "val_NMI" not in run["log"]]
    if missing:
        raise ValueError(f"{missing[0]} has no clustering columns: set images.clustering_every > 0 and retrain")
    save_figure(clustering_trajectory_figure(runs, warmups.pop(), job.params.title), job.output[0])
    job.log.info("wrote %s", job.output[0])
