"""Jobs of the low-dimensional runs: training and evaluating a seed group (or one run), its figures and
animations. Importing torch here lets the context set the job's torch threads."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..core.io import load_torch, save_figure, save_torch_atomic, write_csv_atomic, write_json_atomic
from ..core.provenance import now, provenance_record
from ..core.seeds import stream
from ..lowdim.settings import EvaluationConfig, LowdimRunConfig
from ..registry import model_label
from .context import JobContext
from .failures import FailedRuns, stand_in_for_failure


def train_lowdim(job: JobContext) -> None:
    """Train the runs of one job (a seed group, or one run) as one stack.

    Each run keeps its full state in its resume.pt, written every epoch and kept once finished, keyed by its
    settings and the code's fingerprint. A killed job resumes from it; a finished one stands for the run when
    the group job reruns for another reason (a seed added, one run's files deleted): that run is re-emitted,
    not retrained, its numbers being the same either way. Delete resume.pt to train a run afresh. A run that
    fails (non-finite loss) is handled by the failed_runs policy (FailedRuns).
    """
    from ..core.checkpoint import save_checkpoint
    from ..core.failures import RunFailure, clear_failure, failed_checkpoint
    from ..lowdim.data import lowdim_source
    from ..lowdim.train import save_epoch_states, train_lowdim_runs

    log, params, output = job.log, job.params, job.output
    started = now()
    seeds = list(params.seeds)
    cfgs = [LowdimRunConfig.from_dict({**params.settings, "seed": seed}) for seed in seeds]
    resumes = [Path(p) for p in params.resume]
    device = job.claim_device(params.device, key="lowdim_device")
    log.info("settings %s, seeds %s on %s", {k: v for k, v in cfgs[0].to_dict().items() if k != "seed"}, seeds, device)
    for cfg, resume in zip(cfgs, resumes):
        resume.parent.mkdir(parents=True, exist_ok=True)
        if resume.exists():
            log.info("seed %d: resuming from %s", cfg.seed, resume)

    def log_epoch(cfg, record):
        log.info("seed %d epoch %d beta %.3g lr %.4g train %.5g test %.5g (%.2fs)", cfg.seed, record.epoch,
                 record.beta, record.lr, record.train_loss, record.test_loss, record.wall_time_s)

    source = lowdim_source(cfgs[0], job.input.get("data"))
    # where the built dataset's raw files came from (package, local_dir or mirror), for provenance.json
    source_data = getattr(source, "data", None)  # PCA and vector sources keep their file's dict
    data_sources = source_data.get("raw_sources") if isinstance(source_data, dict) else None
    code = job.source()
    retrain = job.retrain()
    if retrain:
        log.info("retraining: a finished resume.pt does not stand for its run (%s)", retrain)
    outcomes = train_lowdim_runs(cfgs, source, resumes, on_epoch=log_epoch, record_states=params.record_epochs,
                                 device=device, resume_key=job.resume_key(code),
                                 reuse_finished=not retrain)

    def write_provenance(index: int, cfg: LowdimRunConfig, **fields) -> None:
        write_json_atomic(provenance_record(cfg.recorded(), started, inputs=dict(job.input.items()), extra={
            "rule": job.rule, "trained_with_seeds": seeds, "device": str(device),
            "registrations": job.registrations(cfg.dataset),
            **({"data_sources": data_sources} if data_sources else {}), **fields},
            source=code.record() if code else None), output.provenance[index])

    failed = FailedRuns(job.config.get("failed_runs", "stop"), log)
    for index, outcome in enumerate(outcomes):
        cfg, result = outcome.cfg, outcome.result
        folder = Path(output.model[index]).parent
        if outcome.error is not None:
            failure = RunFailure(folder.as_posix(), "train", str(outcome.error))

            def write_records(index=index, cfg=cfg, result=result, failure=failure):
                save_torch_atomic(failed_checkpoint(failure, cfg.to_dict()), output.model[index])
                write_csv_atomic(result.history, output.log_csv[index])
                save_torch_atomic({"epochs": [], "states": []}, output.epoch_states[index])
                write_provenance(index, cfg, failed=failure.error, epochs_run=len(result.history))

            failed.add(failure, write_records)
            continue
        save_checkpoint(output.model[index], cfg.to_dict(), outcome.model, result,
                        model_config=asdict(outcome.model.config))
        write_csv_atomic(result.history, output.log_csv[index])
        save_epoch_states(result, output.epoch_states[index])
        write_provenance(index, cfg, best_epoch=result.best_epoch, best_loss=result.best_loss,
                         epochs_run=len(result.history), stopped_early=result.stopped_early)
        clear_failure(folder)
        log.info("seed %d: best epoch %d loss %.5g after %d epochs%s", cfg.seed, result.best_epoch, result.best_loss,
                 len(result.history), " (kept from its finished resume.pt, not retrained: same settings and code; "
                 f"to retrain, rerun with --forcerun {job.rule} or --config retrain=true)" if outcome.restored else "")
    failed.finish()


def evaluate_lowdim(job: JobContext) -> None:
    """Evaluate the runs of one job (a seed group, or one run) in one process."""
    from ..lowdim.data import lowdim_source
    from ..lowdim.evaluate import evaluate_lowdim as evaluate
    from ..lowdim.model import load_lowdim_model

    log = job.log
    ev = EvaluationConfig.from_dict(dict(job.params.evaluation))
    source = None  # the runs of one job share their data; a PCA file is loaded once
    source_record = job.source_record()
    for model_path, metrics_path, provenance_path in zip(job.input.model, job.output.metrics, job.output.provenance):
        started = now()

        def write_records(failure, metrics_path=metrics_path, provenance_path=provenance_path, model_path=model_path,
                          started=started):
            write_json_atomic({"failed": failure.error, "failed_in": failure.stage}, metrics_path)
            write_json_atomic(provenance_record({"failed": failure.describe()}, started,
                                                inputs={"model.pt": model_path}, extra={"rule": job.rule}),
                              provenance_path)

        if stand_in_for_failure(model_path, log, "metrics", write_records):
            continue  # the tables leave the run out and name it
        model, state = load_lowdim_model(model_path)
        cfg = LowdimRunConfig.from_dict(state["run_config"])
        source = source or lowdim_source(cfg, job.input.get("data"))
        # Evaluation draws its own fresh data from a stream seeded apart from training's.
        generator = torch.Generator().manual_seed(stream(cfg.seed, "evaluation"))
        metrics = evaluate(model, source, cfg, ev, generator)
        metrics["epoch"] = state["best_epoch"]
        metrics["loss"] = state["best_loss"]
        write_json_atomic(metrics, metrics_path)
        write_json_atomic(provenance_record({"run": cfg.recorded(), "evaluation": ev.to_dict()}, started,
                                            inputs={"model.pt": model_path}, extra={"rule": job.rule},
                                            source=source_record), provenance_path)
        log.info("seed %d metrics %s", cfg.seed, metrics)


def run_figures(job: JobContext) -> None:
    """reconstruction.png and grid.png of the runs of one job (a seed group, or one run)."""
    from ..core.failures import failure_figure
    from ..lowdim.figure_data import load_lowdim_run, run_figure_arrays
    from ..lowdim.figures import run_figures as figures

    log, plots = job.log, job.params.plots
    for model_path, reconstruction_path, grid_path in zip(job.input.model, job.output.reconstruction,
                                                          job.output.grid):
        def write_records(failure, paths=(reconstruction_path, grid_path)):
            for path in paths:  # each figure says that the run failed, and why
                save_figure(failure_figure(failure, dpi=plots["run_dpi"]), path)

        if stand_in_for_failure(model_path, log, "figures", write_records):
            continue
        model, cfg, mixture, state = load_lowdim_run(model_path, job.input.get("data"))
        # The figures draw their own fresh points, from a stream seeded apart from training's and evaluation's.
        arrays = run_figure_arrays(model, mixture, plots, stream(cfg.seed, "figures"), job.params.density_plane)
        title = (f"{model_label(cfg.model)}, {cfg.dataset}, z{cfg.z_dim}-h{cfg.mid_dim}, seed {cfg.seed}, "
                 f"epoch {state['best_epoch']}")
        reconstruction, grid = figures(arrays, dpi=plots["run_dpi"], title=title)
        save_figure(reconstruction, reconstruction_path)
        save_figure(grid, grid_path)
        log.info("seed %d figure stats %s", cfg.seed, arrays.reconstruction.stats)


def animation_gif(job: JobContext) -> None:
    """Per-epoch reconstruction frames of one run as a GIF, plus MP4 if ffmpeg exists."""
    from ..lowdim.animation import animation_gif as gif, save_animation
    from ..lowdim.figure_data import animation_arrays, load_lowdim_run

    plots = job.params.plots
    model, cfg, mixture, _ = load_lowdim_run(job.input.model, job.input.get("data"))
    recorded = load_torch(job.input.states)  # {"epochs": [...], "states": [...]}
    arrays = animation_arrays(model, recorded["states"], recorded["epochs"], mixture, plots,
                              stream(cfg.seed, "animation"), job.params.density_plane)
    frames = gif(arrays, label=model_label(cfg.model), dpi=plots["animation_dpi"])
    mp4_note = save_animation(frames, job.output[0], plots["animation_fps"])
    job.log.info("wrote %s (%d frames)", job.output[0], len(frames))
    job.log.info(mp4_note)


def animation_side_by_side(job: JobContext) -> None:
    """The animations side by side in one GIF."""
    from ..lowdim.animation import animation_side_by_side as side_by_side, load_gif, save_animation

    frames = side_by_side([load_gif(path) for path in job.input])
    mp4_note = save_animation(frames, job.output[0], job.params.fps)
    job.log.info("wrote %s (%d frames from %s)", job.output[0], len(frames), list(job.input))
    job.log.info(mp4_note)
