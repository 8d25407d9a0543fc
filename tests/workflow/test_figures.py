"""Figure rules on the smoke run: files exist and are readable images; only figures rerun on plot changes."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

import pandas as pd
import yaml
from PIL import Image

from mimflow.workflow import (SCORECARD_FIGURE, SCORECARD_HTML, SHOWCASE_FIGURE, SUMMARY_PAGE, TABLE,
                              experiment_runs, run_dir)

from ..browser import REPORT_SCRIPT, SCORECARD_SCRIPT, rendered

from .conftest import SMOKE_ARGS, planned_jobs, report_captions, snakemake
from .test_smoke_workflow import smoke_config

pytestmark = pytest.mark.workflow  # runs real Snakemake jobs: not in make test-fast

STATS_EXPERIMENTS = ["toy2d", "toy2d_entropy", "bottleneck_toy4_20", "bottleneck_fmnist20",
                     "bottleneck_fmnist20_trainfit"]
METRICS = ["MI_ksg", "H_q_x", "x_recon_err", "clf_acc_KNN5"]


def assert_png(path, min_size=(200, 200)):
    assert path.is_file(), path
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_size[0] and image.height >= min_size[1], (path, image.size)
        # a real plot has many colours, not a blank canvas
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 20, path


def test_stats_figures(smoke_run):
    for experiment in STATS_EXPERIMENTS:
        for metric in METRICS:
            assert_png(smoke_run / "results" / "figures" / experiment / f"{metric}.png", (600, 400))


def test_tables_rows_and_columns(smoke_run):
    config = smoke_config()
    for experiment in STATS_EXPERIMENTS:
        runs = pd.read_csv(smoke_run / "results" / "tables" / f"{experiment}.csv")
        expected = list(experiment_runs(config, experiment))
        assert len(runs) == len(expected)
        assert {"experiment", "dataset", "model", "z_dim", "mid_dim", "seed", "MI_ksg", "train_epochs"} <= set(runs.columns)
        summary = pd.read_csv(smoke_run / "results" / "tables" / f"{experiment}_summary.csv")
        groups = {(r["model"], r["z_dim"], r["mid_dim"]) for r in expected}
        assert len(summary) == len(groups)
        assert (summary["MI_ksg_count"] == len(config["seeds"])).all()


def test_per_run_plots(smoke_run):
    config = smoke_config()
    for experiment in config["run_experiments"]:
        if "runs" not in config["experiments"][experiment].get("figures", ["stats", "runs"]):
            continue
        for run in experiment_runs(config, experiment):
            for name in ("reconstruction.png", "grid.png"):
                assert_png(smoke_run / run_dir(**run) / name, (300, 700))


def test_animations(smoke_run):
    folder = smoke_run / "results" / "figures" / "animation"
    epochs = smoke_config()["experiments"]["animation"]["training"]["epochs"]
    widths = []
    for name in ("toyAE_ae", "toyMIM_mim", "toyVAE_vae"):
        with Image.open(folder / f"{name}.gif") as gif:
            assert gif.format == "GIF"
            assert 1 <= gif.n_frames <= epochs
            widths.append(gif.width)
    with Image.open(folder / "ae_mim_vae.gif") as gif:
        assert gif.width == sum(widths)
        assert gif.n_frames >= 1


def test_plot_setting_change_reruns_only_figures(smoke_run):
    # run_dpi and stats_dpi feed only per-run plots and stats figures: the animations stay too
    (smoke_run / "plot_change.yaml").write_text(yaml.safe_dump({"plots": {"run_dpi": 101, "stats_dpi": 99}}))
    rules = {rule for rule, _ in planned_jobs(smoke_run, "--cores", "2", *SMOKE_ARGS, "plot_change.yaml")}
    assert rules <= {"run_figures", "stats_figure"}, rules
    assert {"run_figures", "stats_figure"} <= rules


@pytest.fixture(scope="module")
def smoke_report(smoke_run) -> Path:
    snakemake(smoke_run, *SMOKE_ARGS, "--report", "results/report.html")
    return smoke_run / "results" / "report.html"


def test_report_lists_every_figure(smoke_report):
    html = smoke_report.read_text(errors="replace")
    for experiment in STATS_EXPERIMENTS:
        for metric in METRICS:
            assert f"results/figures/{experiment}/{metric}.png" in html
    assert "ae_mim_vae.gif" in html
    assert "reconstruction.png" in html and "grid.png" in html
    # the image half: the seed README's picture (the smoke grid holds both showcase rows) and the image table
    assert SHOWCASE_FIGURE.format(dataset="mnist5k") in html
    assert TABLE.format(experiment="images") in html
    # the scorecard figure, and every experiment's summary rendered as a table
    assert SCORECARD_FIGURE in html
    for experiment in smoke_config()["run_experiments"] + ["images"]:
        assert SUMMARY_PAGE.format(experiment=experiment) in html


def test_report_captions_are_filled_and_say_what_each_figure_draws(smoke_report):
    captions = report_captions(smoke_report)
    per_run = {path: text for path, text in captions.items() if path.endswith(("/reconstruction.png", "/grid.png"))}
    assert per_run and all(re.search(r"\bseed (\d+)", text) for text in per_run.values())
    for path, text in per_run.items():
        seed = re.search(r"/seed(\d+)/", path).group(1)
        assert f"seed {seed}" in text, (path, text)
        toy = "/toy" in path
        assert ("true P(x)" in text) == toy and ("no known density" in text) != toy, (path, text)
    assert not [path for path, text in captions.items() if re.search(r"seed\s*[,.]|\s,\s", text)]
    assert "toy2d" in captions[SUMMARY_PAGE.format(experiment="toy2d")]


def test_report_with_another_config_says_which_configfile_to_add(smoke_run):
    proc = snakemake(smoke_run, "--report", "results/other.html", check=False)
    assert proc.returncode == 1 and not (smoke_run / "results" / "other.html").exists()
    lines = [line for line in proc.stderr.splitlines() if line.startswith("mimflow:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "outputs of this config are not built" in lines[0]
    assert lines[0].endswith("--configfile=presets/smoke.yaml --configfile=test_data.yaml"), lines[0]
    assert "Missing metadata" not in proc.stderr


def test_a_browser_finds_the_scorecard_figure_and_its_tables(smoke_run, tmp_path):
    found = rendered(smoke_run / SCORECARD_HTML, SCORECARD_SCRIPT, tmp_path)
    assert found["figure_width"] > 1000  # the embedded PNG decoded
    assert found["tables"] >= 17 and found["folded"] >= 1  # per-figure counts, a table per figure; unscored folded
    assert "published points that this run covers agree" in found["headline"]


def test_a_browser_finds_the_scorecard_figure_and_a_summary_table_in_the_report(smoke_report, tmp_path):
    found = rendered(smoke_report, REPORT_SCRIPT, tmp_path, FIGURE_CATEGORY="Reproduction vs paper",
                     FIGURE_LABEL="scorecard figure", TABLE_CATEGORY="Tables", TABLE_LABEL="toy2d")
    intro = " ".join(found["intro"].split())
    assert "seed group" in intro and "This report was made with the experiments toy2d" in intro
    assert found["figure_item"] and found["figure_width"] > 1000
    assert found["table_item"] and found["table_src"].startswith("data:text/html")
    page = base64.b64decode(found["table_src"].split(",", 1)[1]).decode()
    assert "<table>" in page and "MI_ksg (mean ± std)" in page and ">mim<" in page
