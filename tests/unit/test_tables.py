"""Tidy run tables and their summary over seeds."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mimflow.core.tables import (
    GROUP_KEYS,
    experiment_table,
    image_table,
    runs_table,
    summary_table,
)
from mimflow.workflow import IMAGE_RUN_DIR_BY_MODEL, RUN_DIR, template_pattern

RUN_PATTERN = template_pattern(RUN_DIR)

METRICS = {
    ("mim", 1): {"MI_ksg": 1.10, "H_q_x": 2.50, "clf_acc_KNN5": 0.90},
    ("mim", 2): {"MI_ksg": 1.30, "H_q_x": 2.70, "clf_acc_KNN5": 0.80},
    ("mim", 3): {"MI_ksg": 1.60, "H_q_x": 2.40, "clf_acc_KNN5": 0.95},
    ("vae", 1): {"MI_ksg": 0.40, "H_q_x": 2.10, "clf_acc_KNN5": 0.50},
}


@pytest.fixture
def metrics_paths(tmp_path):
    paths = []
    for (model, seed), metrics in METRICS.items():
        folder = tmp_path / "results" / "runs" / "exp" / "toy4" / model / "z2-h5" / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(metrics))
        (folder / "provenance.json").write_text(json.dumps(
            {"settings": {"epochs": 200, "lr": 0.001, "seed": seed, "model": model}}))
        paths.append(folder / "metrics.json")
    return list(reversed(paths))  # input order must not matter


def test_runs_table(metrics_paths):
    runs = runs_table(metrics_paths, RUN_PATTERN, GROUP_KEYS)
    assert len(runs) == 4
    assert list(zip(runs["model"], runs["seed"])) == [("mim", 1), ("mim", 2), ("mim", 3), ("vae", 1)]
    assert set(runs["experiment"]) == {"exp"} and set(runs["dataset"]) == {"toy4"}
    assert set(runs["z_dim"]) == {2} and set(runs["mid_dim"]) == {5}
    assert runs["z_dim"].dtype.kind == "i" and runs["seed"].dtype.kind == "i"
    for _, row in runs.iterrows():
        for key, value in METRICS[(row["model"], row["seed"])].items():
            assert row[key] == value
    assert set(runs["train_epochs"]) == {200} and set(runs["train_lr"]) == {0.001}
    assert "train_seed" not in runs and "train_model" not in runs  # wildcards are not duplicated


def test_summary_table(metrics_paths):
    runs, summary = experiment_table(metrics_paths, RUN_PATTERN)
    assert summary.equals(summary_table(runs))
    assert len(summary) == 2
    mim = summary[summary["model"] == "mim"].iloc[0]
    for metric in ("MI_ksg", "H_q_x", "clf_acc_KNN5"):
        values = np.array([METRICS[("mim", s)][metric] for s in (1, 2, 3)])
        assert mim[f"{metric}_mean"] == pytest.approx(values.mean())
        assert mim[f"{metric}_std"] == pytest.approx(values.std(ddof=1))
        assert mim[f"{metric}_count"] == 3
    vae = summary[summary["model"] == "vae"].iloc[0]
    assert vae["MI_ksg_mean"] == pytest.approx(0.40) and vae["MI_ksg_count"] == 1
    assert np.isnan(vae["MI_ksg_std"])  # one seed: std with ddof 1 is undefined
    assert not any(c.startswith(("seed_", "train_", "z_dim_", "mid_dim_")) for c in summary.columns)
    assert {"experiment", "dataset", "model", "z_dim", "mid_dim"} <= set(summary.columns)


def test_runs_table_rejects_paths_outside_run_folders(tmp_path):
    stray = tmp_path / "metrics.json"
    stray.write_text("{}")
    with pytest.raises(ValueError, match="run folder"):
        runs_table([stray], RUN_PATTERN, GROUP_KEYS)


def test_image_table_reads_model_from_the_run_folder(tmp_path):
    paths = []
    for model, prior, seed, nll in [("convhvae_2level-vae", "standard", 1, 90.0), ("convhvae_2level-vae", "standard", 2, 92.0),
                                    ("pixelhvae_2level-smim", "vampprior", 1, 80.0)]:
        arch, objective = model.rsplit("-", 1)
        folder = tmp_path / IMAGE_RUN_DIR_BY_MODEL.format(dataset="dynamic_mnist", model=model, prior=prior, seed=seed)
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({"test_nll_is": nll}))
        (folder / "provenance.json").write_text(json.dumps({"settings": {"arch": arch, "objective": objective, "seed": seed}}))
        paths.append(folder / "metrics.json")
    runs, summary = image_table(paths, template_pattern(IMAGE_RUN_DIR_BY_MODEL))
    assert list(runs.columns[:5]) == ["experiment", "dataset", "model", "prior", "seed"]
    assert list(runs["model"]) == ["convhvae_2level-vae", "convhvae_2level-vae", "pixelhvae_2level-smim"]
    assert set(runs["train_arch"]) == {"convhvae_2level", "pixelhvae_2level"}
    conv = summary[summary["model"] == "convhvae_2level-vae"].iloc[0]
    assert conv["test_nll_is_mean"] == pytest.approx(91.0) and conv["test_nll_is_count"] == 2


def test_the_summary_page_shows_each_group_as_mean_and_std_over_seeds(metrics_paths):
    from mimflow.core.tables import LOWDIM_SHOWN, summary_html

    _, summary = experiment_table(metrics_paths, RUN_PATTERN)
    page = summary_html(summary, "Experiment toy2d", LOWDIM_SHOWN, "results/tables/toy2d_summary.csv")
    assert page.startswith("<!DOCTYPE html>") and "<h1>Experiment toy2d</h1>" in page
    header = re.search(r"<tr><th>.*</tr>", page).group(0)
    # only the shown metrics present in the table, in LOWDIM_SHOWN order; no H_P_x, no failed-runs column
    assert re.findall(r"<th>([^<]+)</th>", header) == [
        "dataset", "model", "z_dim", "mid_dim", "seeds", "MI_ksg (mean ± std)", "H_q_x (mean ± std)",
        "clf_acc_KNN5 (mean ± std)"]
    mim = re.search(r"<tr><td class=\"text\">toy4</td><td class=\"text\">mim</td>.*</tr>", page).group(0)
    mi = np.array([1.10, 1.30, 1.60])
    assert f"<td>3</td><td>{mi.mean():.4g} ± {mi.std(ddof=1):.2g}</td>" in mim
    vae = re.search(r"<td class=\"text\">vae</td>.*</tr>", page).group(0)
    assert "<td>1</td><td>0.4</td>" in vae  # one seed: no std
