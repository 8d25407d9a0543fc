"""The smoke preset through real Snakemake: every expected file appears, with sane content."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch
import yaml

from mimflow.workflow import experiment_runs, run_dir

from .conftest import REPO, SMOKE_ARGS, copy_workflow, pending_outputs, snakemake

pytestmark = pytest.mark.workflow  # runs real Snakemake jobs: not in make test-fast

RUN_FILES = ["model.pt", "train_log.csv", "metrics.json", "provenance.json", "eval_provenance.json"]
METRIC_KEYS = {"MI_ksg", "H_q_x", "x_recon_err", "clf_acc_KNN1", "clf_acc_KNN3", "clf_acc_KNN5", "clf_acc_KNN10",
               "MI", "H_p_z", "H_enc", "H_dec", "H_Msamp", "Dkl_q_p", "Dkl_p_q", "epoch", "loss"}


def smoke_config() -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    preset = yaml.safe_load((REPO / "presets" / "smoke.yaml").read_text())

    def merge(base, over):
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    return merge(config, preset)


def test_every_run_and_table_exists(smoke_run):
    config = smoke_config()
    n_runs = 0
    for name in config["run_experiments"]:
        runs = list(experiment_runs(config, name))
        n_runs += len(runs)
        for run in runs:
            folder = smoke_run / run_dir(**run)
            for fname in RUN_FILES:
                assert (folder / fname).is_file(), folder / fname
            metrics = json.loads((folder / "metrics.json").read_text())
            assert METRIC_KEYS <= set(metrics), METRIC_KEYS - set(metrics)
            assert all(math.isfinite(v) for v in metrics.values()), metrics
            assert ("H_P_x" in metrics) == run["dataset"].startswith("toy")  # true density only for toy data
            log = pd.read_csv(folder / "train_log.csv")
            assert list(log.columns) == ["epoch", "beta", "lr", "train_loss", "test_loss", "wall_time_s"]
            assert 1 <= len(log) <= config["experiments"][name].get("training", {}).get(
                "epochs", config["lowdim_training"]["epochs"])
            prov = json.loads((folder / "provenance.json").read_text())
            assert prov["settings"]["seed"] == run["seed"] and prov["settings"]["model"] == run["model"]
            assert {"code", "packages", "device", "started", "finished", "settings_hash"} <= set(prov)
        table = pd.read_csv(smoke_run / "results" / "tables" / f"{name}.csv")
        assert len(table) == len(runs)
        summary = pd.read_csv(smoke_run / "results" / "tables" / f"{name}_summary.csv")
        assert {"MI_ksg_mean", "MI_ksg_std", "MI_ksg_count"} <= set(summary.columns)
    assert n_runs == 13
    # A low-dimensional run keeps its finished state (it stands for the run when its group job reruns);
    # an image run's resume checkpoint goes once the run completes.
    kept = sorted(smoke_run.glob("results/runs/**/resume.pt"))
    assert len(kept) == n_runs and not [p for p in kept if "/images/" in str(p)]
    assert all(torch.load(p, weights_only=False)["finished"] for p in kept)


def test_no_spurious_rerun_after_clean_finish(smoke_run):
    assert pending_outputs(smoke_run, "--cores", "2", *SMOKE_ARGS) == {}


def test_out_of_grid_run_is_a_target(smoke_run):
    target = "results/runs/toy2d/toy4/amim/z3-h7/seed7/metrics.json"
    snakemake(smoke_run, target, "--cores", "1", *SMOKE_ARGS)
    metrics = json.loads((smoke_run / target).read_text())
    settings = json.loads((smoke_run / target).with_name("provenance.json").read_text())["settings"]
    assert settings["z_dim"] == 3 and settings["mid_dim"] == 7 and settings["seed"] == 7
    assert settings["epochs"] == 3  # the experiment's (smoke) settings
    assert all(math.isfinite(v) for v in metrics.values()), metrics


def test_lint_is_clean():
    proc = snakemake(REPO, "--lint")
    assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


@pytest.mark.parametrize("bad, expected", [
    ({"experiments": {"toy2d": {"datasets": {"mnist3": ["mim"]}}}}, ["experiments.toy2d.datasets", "mnist3", "toy4"]),
    ({"experiments": {"toy2d": {"z_dims": [0]}}}, ["experiments.toy2d.z_dims[0]", "0", ">= 1"]),
    ({"lowdim_training": {"epochs": -5}}, ["lowdim_training.epochs", "-5", ">= 1"]),
    ({"lowdim_training": {"epoch": 5}}, ["lowdim_training", "epoch", "epochs"]),
    ({"fidelity": {"mim_decoder_qx": "2020"}}, ["fidelity.mim_decoder_qx", "2020", "importance"]),
])
def test_bad_config_stops_before_any_job(tmp_path, bad, expected):
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = snakemake(workdir, "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    message = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("mimflow:")]
    assert len(message) == 1, proc.stdout + proc.stderr
    for fragment in expected:
        assert fragment in message[0], (fragment, message[0])
    assert not (workdir / "results").exists(), "no job may run on a bad config"


def test_command_line_config_values_are_coerced(tmp_path):
    """`--config seeds=[1,2]` arrives as strings; the seeds still become integers (a dry run plans seed 2,
    in the seed-group jobs' outputs)."""
    workdir = copy_workflow(tmp_path / "wf")
    pending = pending_outputs(workdir, "--configfile", "presets/smoke.yaml", "--config", "seeds=[1,2]",
                              "run_images=false", "build_datasets=[]", "run_experiments=[toy2d]")
    assert any(path.endswith("/seed2/model.pt") for path in pending), sorted(pending)[:20]
    assert not any("/images/" in path for path in pending)


def test_every_dataset_was_downloaded_and_built(smoke_run):
    import torch

    for source, names in (("mnist", 4), ("fashion_mnist", 4), ("omniglot", 1)):
        folder = smoke_run / "resources" / "raw" / source
        raw = [p for p in folder.iterdir() if not p.name.endswith(".source.json")]
        assert len(raw) == names
        for path in raw:  # each verified copy says where it came from: the test server, not a package
            record = json.loads((folder / f"{path.name}.source.json").read_text())
            assert record["origin"]["source"] == "mirror" and record["file"] == path.name, record
    for name, n_val in (("dynamic_mnist", 20), ("dynamic_fashion_mnist", 20), ("omniglot", 10)):
        data = torch.load(smoke_run / "resources" / "datasets" / f"{name}.pt", weights_only=False)
        assert len(data["x_val"]) == n_val and len(data["y_val"]) == n_val
        assert set(data["x_test"].unique().tolist()) <= {0, 1}  # binarised once
    data = torch.load(smoke_run / "resources" / "datasets" / "mnist5k.pt", weights_only=False)  # real digits, no download
    assert torch.bincount(data["y_test"]).tolist() == [5] * 10 and len(data["x_train"]) == 4900
    assert set(data["x_test"].unique().tolist()) == {0, 1}
    for fit in ("per_split", "train"):
        data = torch.load(smoke_run / "resources" / "datasets" / f"pca-fashion-mnist20-{fit}.pt", weights_only=False)
        assert data["fit"] == fit and data["test_x"].shape == (256, 20)


def test_every_image_combination_trains_evaluates_and_plots(smoke_run):
    from mimflow.workflow import IMAGE_RUN_DIR, image_runs

    config = smoke_config()
    runs = list(image_runs(config))
    assert len(runs) == 12  # {conv, pixel} x {vae, smim, amim} x {standard, vampprior}
    for run in runs:
        folder = smoke_run / IMAGE_RUN_DIR.format(**run)
        metrics = json.loads((folder / "metrics.json").read_text())
        for key in ("test_nll_is", "test_elbo", "train_elbo", "MI_ksg", "MI_l2_err", "NMI", "clf_acc_KNN5"):
            assert key in metrics and math.isfinite(metrics[key]), (run, key, metrics.get(key))
        assert metrics["is_samples"] == config["images"]["evaluation"]["is_samples"]
        assert metrics["is_pass_copies"] == 100  # is_pass_copies: 0 sizes the passes; fixed on the CPU
        figures = [f"{name}.png" for name in ("generations", "real", "reconstructions", "real_recon", "z_embed",
                                              "histogram_test")]
        figures += ["pseudoinputs.png"] if run["prior"] == "vampprior" else []
        for name in figures:
            assert (folder / name).stat().st_size > 1000, folder / name
        assert not (folder / "pseudoinputs.png").exists() or run["prior"] == "vampprior"
    summary = pd.read_csv(smoke_run / "results" / "tables" / "images_summary.csv")
    assert len(summary) == 12


def test_image_runs_log_and_draw_their_clustering_along_training(smoke_run):
    """images.clustering_every: 1 in the smoke preset: every epoch's record holds the validation latents'
    clustering, each run has its trajectory figure, and each (dataset, decoder, prior) one with all objectives."""
    from mimflow.workflow import CLUSTERING_FIGURE, IMAGE_RUN_DIR, image_runs

    config = smoke_config()
    for run in image_runs(config):
        folder = smoke_run / IMAGE_RUN_DIR.format(**run)
        log = pd.read_csv(folder / "train_log.csv")
        assert list(log.columns) == ["epoch", "beta", "train_loss", "val_loss", "wall_time_s", "val_KNN1", "val_KNN5",
                                     "val_KNN10", "val_NMI", "active_units_z1", "active_units_z2", "clustering_s"]
        assert log[["val_KNN1", "val_KNN5", "val_KNN10", "val_NMI"]].stack().between(0, 1).all(), log
        assert log["active_units_z1"].between(0, config["images"]["training"]["z1_size"]).all()
        assert json.loads((folder / "provenance.json").read_text())["clustering_every"] == 1
        assert (folder / "clustering.png").stat().st_size > 10_000
        assert (smoke_run / CLUSTERING_FIGURE.format(**run)).stat().st_size > 10_000
    assert len(list((smoke_run / "results" / "figures" / "images").glob("*_clustering.png"))) == 4


def test_an_image_job_that_wants_cuda_without_it_fails_at_start_in_one_line(smoke_run, tmp_path):
    """images.device: cuda where CUDA is unusable: the training job stops before any work, naming why."""
    import shutil

    import torch

    from mimflow.workflow import IMAGE_RUN_DIR, IMAGE_RUN_NAME, image_runs, job_log

    if torch.cuda.is_available():
        pytest.skip("CUDA works here")
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "resources" / "datasets").mkdir(parents=True)
    shutil.copy2(smoke_run / "resources" / "datasets" / "mnist5k.pt", workdir / "resources" / "datasets")
    (workdir / "want_cuda.yaml").write_text("images: {device: cuda}\n")
    run = next(iter(image_runs(smoke_config())))
    result = snakemake(workdir, f"{IMAGE_RUN_DIR.format(**run)}/model.pt", "--cores", "1", "--configfile",
                       "presets/smoke.yaml", "want_cuda.yaml", "--allowed-rules", "train_image", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    line = "error: images.device is 'cuda' but CUDA is unusable: "
    assert line in output, output[-3000:]
    log = (workdir / job_log("train_image", IMAGE_RUN_NAME.format(**run))).read_text()
    assert "CUDA is unusable" in log and "epoch" not in log and "Traceback" not in log
    assert not (workdir / IMAGE_RUN_DIR.format(**run) / "model.pt").exists()
