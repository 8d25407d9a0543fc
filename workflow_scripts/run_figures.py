"""Snakemake adapter: reconstruction.png and grid.png of the runs of one job (a seed group, or one run)."""
import torch

from mimflow.core.checkpoint import recorded_failure
from mimflow.core.failures import failure_figure
from mimflow.core.io import save_figure
from mimflow.core.joblog import job_logger
from mimflow.core.seeds import stream
from mimflow.lowdim.figure_data import load_lowdim_run, run_figure_arrays
from mimflow.lowdim.figures import run_figures
from mimflow.names import model_label
from mimflow.registry import configure

sm = snakemake  # noqa: F821 (injected by Snakemake)
configure(sm.config)  # the config's plugins and vector datasets, as at planning
log = job_logger(sm.log[0], sm.rule)
torch.set_num_threads(sm.threads)
for model_path, reconstruction_path, grid_path in zip(sm.input.model, sm.output.reconstruction, sm.output.grid):
    failure = recorded_failure(model_path)
    if failure is not None:  # failed_runs: record: each figure says that the run failed, and why
        for path in (reconstruction_path, grid_path):
            save_figure(failure_figure(failure, dpi=sm.params.plots["run_dpi"]), path)
        log.warning("no figures: %s", failure.describe())
        continue
    model, cfg, mixture, state = load_lowdim_run(model_path, sm.input.get("data"))
    # The figures draw their own fresh points, from a stream seeded apart from training's and evaluation's.
    arrays = run_figure_arrays(model, mixture, sm.params.plots, stream(cfg.seed, "figures"), sm.params.density_plane)
    title = (f"{model_label(cfg.model)}, {cfg.dataset}, z{cfg.z_dim}-h{cfg.mid_dim}, seed {cfg.seed}, "
             f"epoch {state['best_epoch']}")
    reconstruction, grid = run_figures(arrays, dpi=sm.params.plots["run_dpi"], title=title)
    save_figure(reconstruction, reconstruction_path)
    save_figure(grid, grid_path)
    log.info("seed %d figure stats %s", cfg.seed, arrays.reconstruction.stats)
