"""docs/extending.md, run exactly as written: its commands, in a copy of the workflow, through real Snakemake.

The tutorial cannot rot: the commands are read from the page's marked block, and the page must show the
example plugin file as it is in docs/examples.
"""
from __future__ import annotations

import glob
import json
import re
import shlex
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from mimflow.workflow import SUMMARY_PAGE

from .conftest import REPO, copy_workflow, pending_outputs, report_captions, snakemake

DOC = REPO / "docs" / "extending.md"
EXPERIMENT = "extending_example"


def documented_commands(marker: str = "extending-example-commands") -> list[list[str]]:
    """The shell lines of the block that follows the marker <!-- {marker} -->."""
    text = DOC.read_text()
    block = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)```", text, re.S)
    assert block, f"docs/extending.md lost its command block marked {marker}"
    return [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.parametrize("files", [("beta_vae.py", "extending.yaml"), ("mmd_vae.py", "digits.yaml"),
                                   ("tc_vae.py", "breast_cancer.yaml", "score_total_correlation.py")])
def test_the_page_shows_the_example_files_as_they_are(files):
    text = DOC.read_text()
    for name in files:
        content = (REPO / "docs" / "examples" / name).read_text()
        assert f"```{'python' if name.endswith('.py') else 'yaml'}\n{content}```" in text, name


@pytest.mark.workflow
def test_the_documented_example_runs_through_the_protocol(tmp_path):
    workdir = copy_workflow(tmp_path / "example")
    commands = documented_commands()
    assert [c[0] for c in commands] == ["python", "snakemake", "snakemake"] and "--report" in commands[2], commands
    for command in commands:
        if command[0] == "python":
            subprocess.run([sys.executable, *command[1:]], cwd=workdir, check=True, capture_output=True, text=True)
        else:
            snakemake(workdir, *command[1:])

    table = pd.read_csv(workdir / f"results/tables/{EXPERIMENT}.csv")
    runs = set(zip(table["dataset"], table["model"], table["mid_dim"], table["seed"]))
    expected = {("moons", m, h, s) for m in ("beta-vae", "vae", "mim") for h in (20, 50) for s in (1, 2)}
    assert runs == expected
    assert table["MI_ksg"].notna().all() and table["clf_acc_KNN5"].between(0, 1).all()
    # one's own vectors have no known density: no H_P_x (toy runs report it)
    assert "H_P_x" not in table.columns
    summary = pd.read_csv(workdir / f"results/tables/{EXPERIMENT}_summary.csv")
    assert len(summary) == 6 and (summary["MI_ksg_count"] == 2).all()

    run = workdir / f"results/runs/{EXPERIMENT}/moons/beta-vae/z2-h20/seed1"
    provenance = json.loads((run / "provenance.json").read_text())
    assert provenance["settings"]["objective_settings"] == {"kl_weight": 4.0}
    for metric in ("MI_ksg", "H_q_x", "x_recon_err", "clf_acc_KNN5"):
        assert (workdir / f"results/figures/{EXPERIMENT}/{metric}.png").read_bytes()[:4] == b"\x89PNG"
    for model in ("beta-vae", "mim"):
        folder = workdir / f"results/runs/{EXPERIMENT}/moons/{model}/z2-h50/seed2"
        assert (folder / "reconstruction.png").read_bytes()[:4] == b"\x89PNG"
        assert (folder / "grid.png").read_bytes()[:4] == b"\x89PNG"
    # no published figure for this experiment: no scorecard
    assert not (workdir / "results/tables/fidelity_scorecard.csv").exists()
    # nothing is stale afterwards
    assert pending_outputs(workdir, *commands[1][1:]) == {}
    # the report: every per-run figure captioned with its seed, and as data without a known density
    captions = report_captions(workdir / "results" / "report.html")
    per_run = {path: text for path, text in captions.items() if path.endswith(("reconstruction.png", "grid.png"))}
    assert len(per_run) == 24
    for path, text in per_run.items():
        seed = re.search(r"/seed(\d+)/", path).group(1)
        assert f"seed {seed}" in text and "no known density" in text, text
        assert "true P(x)" not in text
    assert SUMMARY_PAGE.format(experiment=EXPERIMENT) in captions


@pytest.mark.workflow
def test_a_nan_in_the_vector_file_stops_the_dry_run_in_one_line(tmp_path):
    """The documented example's config with a NaN in its vector file: `snakemake -n` fails before any job,
    with one line naming the config key, the file and the array, and no traceback."""
    import numpy as np

    workdir = copy_workflow(tmp_path / "example")
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(300, 2))
    x_train[7, 1] = np.nan
    (workdir / "resources/own").mkdir(parents=True)
    np.savez(workdir / "resources/own/moons.npz", x_train=x_train, y_train=rng.integers(0, 2, 300),
             x_test=rng.normal(size=(200, 2)), y_test=rng.integers(0, 2, 200))
    proc = snakemake(workdir, "-n", "--cores", "1", "--configfile=docs/examples/extending.yaml", check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("mimflow:")]
    assert lines == ["mimflow: config key vector_datasets.moons.path: vector dataset resources/own/moons.npz: "
                     "x_train holds 1 non-finite value(s); needs finite values"], proc.stderr


@pytest.mark.workflow
def test_a_vector_file_not_yet_made_is_left_to_snakemake(tmp_path):
    """Before the documented `python docs/examples/make_moons.py` step: listing rules needs no data and works;
    the dry run stops before any job with Snakemake's missing-input error naming the file."""
    workdir = copy_workflow(tmp_path / "example")
    assert not (workdir / "resources/own/moons.npz").exists()
    listed = snakemake(workdir, "--list-rules", "--configfile=docs/examples/extending.yaml").stdout.split()
    assert "train_lowdim" in listed
    proc = snakemake(workdir, "-n", "--cores", "1", "--configfile=docs/examples/extending.yaml", check=False)
    assert proc.returncode != 0
    assert "Missing input files for rule train_lowdim" in proc.stdout + proc.stderr
    assert "resources/own/moons.npz" in proc.stdout + proc.stderr


@pytest.mark.workflow
def test_the_second_example_trains_for_real_on_the_digits(tmp_path):
    """MMD-VAE (batch-level, drawing) beside VAE and MIM on scikit-learn's digits, exactly as documented."""
    workdir = copy_workflow(tmp_path / "digits")
    commands = documented_commands("digits-example-commands")
    assert [c[0] for c in commands] == ["python", "snakemake", "snakemake"] and "--report" in commands[2], commands
    subprocess.run([sys.executable, *commands[0][1:]], cwd=workdir, check=True, capture_output=True, text=True)
    snakemake(workdir, *commands[1][1:])
    snakemake(workdir, *commands[2][1:])
    assert "principal axes" in report_captions(workdir / "results" / "report.html")[
        "results/runs/digits_example/digits/mmd-vae/z8-h50/seed1/reconstruction.png"]

    table = pd.read_csv(workdir / "results/tables/digits_example.csv")
    assert sorted(table["model"]) == ["mim", "mmd-vae", "vae"]
    assert (table["n_test"] == 360).all()  # every test digit scored, none cut to whole batches
    assert (table["clf_acc_KNN5"] >= 0.3).all(), table[["model", "clf_acc_KNN5"]]  # chance: 0.1
    run = workdir / "results/runs/digits_example/digits/mmd-vae/z8-h50/seed1"
    provenance = json.loads((run / "provenance.json").read_text())
    assert provenance["settings"]["objective_settings"] == {"mmd_weight": 100.0}
    assert "docs/examples/mmd_vae.py" in provenance["source"]["files"]
    assert (run / "reconstruction.png").read_bytes()[:4] == b"\x89PNG"
    assert pending_outputs(workdir, *commands[1][1:]) == {}


@pytest.mark.workflow
def test_the_third_example_scores_its_runs_from_python(tmp_path):
    """beta-TCVAE (every sample's posterior and N) beside VAE and MIM on the breast cancer vectors, exactly as
    documented, ending in the page's own script that loads each finished run from its folder."""
    workdir = copy_workflow(tmp_path / "tc")
    commands = documented_commands("tc-example-commands")
    assert [c[0] for c in commands] == ["python", "snakemake", "snakemake", "python"], commands
    subprocess.run([sys.executable, *commands[0][1:]], cwd=workdir, check=True, capture_output=True, text=True)
    snakemake(workdir, *commands[1][1:])
    snakemake(workdir, *commands[2][1:])
    assert (workdir / "results" / "report.html").stat().st_size > 0
    args = [match for arg in commands[3][2:] for match in sorted(glob.glob(arg, root_dir=workdir)) or [arg]]
    scored = subprocess.run([sys.executable, commands[3][1], *args], cwd=workdir, check=True, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(workdir)}).stdout

    table = pd.read_csv(workdir / "results/tables/tc_example.csv")
    assert sorted(table["model"]) == ["mim", "tcvae", "vae"] and (table["n_test"] == 171).all()
    assert (table["clf_acc_KNN5"] > 0.8).all(), table[["model", "clf_acc_KNN5"]]  # majority class: 0.626
    # settings the vectors never read are not reported as if they were
    assert not {"train_dataset_size", "train_pca_fit", "train_pca_sign"} & set(table.columns)
    rows = {line.split("|")[1].strip(): [float(v) for v in line.split("|")[2:5]]
            for line in scored.splitlines()[2:]}
    assert sorted(rows) == ["mim", "tcvae", "vae"], scored
    for model, (knn5, mi_ksg, _) in rows.items():  # the script reads the run's own metrics.json
        row = table[table["model"] == model].iloc[0]
        assert (knn5, mi_ksg) == (round(row["clf_acc_KNN5"], 3), round(row["MI_ksg"], 3))
    assert rows["tcvae"][2] < rows["mim"][2], scored  # the penalty leaves the least correlated codes of the two


@pytest.mark.workflow
def test_an_image_objective_with_batch_terms_trains_and_loads_from_python(tmp_path):
    """docs/examples/tc_vae.py's image objective (batch terms, the top posterior and N) through Snakemake at
    toy size, then load_run on the finished run folder."""
    workdir = copy_workflow(tmp_path / "images")
    (workdir / "tiny.yaml").write_text(yaml.safe_dump({
        "plugins": ["docs/examples/tc_vae.py"], "run_experiments": [], "build_datasets": ["mnist5k"],
        "run_images": True, "data": {"mnist5k": {"test_per_class": 2, "validation_per_class": 2}},
        "images": {"datasets": ["mnist5k"], "models": ["convhvae_2level-tcvae"], "priors": ["standard"],
                   "seeds": [1], "device": "cpu", "threads": 1,
                   "training": {"epochs": 2, "warmup": 1, "batch_size": 10, "test_batch_size": 4,
                                "max_train_images": 30},
                   "evaluation": {"is_samples": 4, "ksg_points": 20, "figure_images": 2},
                   "showcase": {"rows": []}}}))
    snakemake(workdir, "--cores", "1", "--configfile=tiny.yaml")
    folder = "results/runs/images/mnist5k/convhvae_2level-tcvae/standard/seed1"
    code = ("import json; from mimflow.runs import load_run\n"
            f"run = load_run({folder!r})\n"
            "print(json.dumps([run.family, type(run.model).__name__, run.settings.objective,\n"
            "                  run.settings.objective_settings, len(run.data.x_train), len(run.data.x_test),\n"
            "                  run.checkpoint['best_epoch'], run.metrics['n_test'], run.model.training]))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True,
                                       check=True, env={**os.environ, "PYTHONPATH": str(workdir)}).stdout)
    log = pd.read_csv(workdir / folder / "train_log.csv")
    best = int(log["epoch"][log["val_loss"].idxmin()])
    assert loaded == ["images", "ConvHVAE2Level", "tcvae", {"tc_weight": 6.0}, 30, 20, best, 20, False]
