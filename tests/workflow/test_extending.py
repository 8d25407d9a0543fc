"""docs/extending.md, run exactly as written: its commands, in a copy of the workflow, through real Snakemake.

The tutorial cannot rot: the commands are read from the page's marked block, and the page must show the
example plugin file as it is in docs/examples.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pandas as pd
import pytest

from .conftest import REPO, copy_workflow, pending_outputs, snakemake

DOC = REPO / "docs" / "extending.md"
EXPERIMENT = "extending_example"


def documented_commands(marker: str = "extending-example-commands") -> list[list[str]]:
    """The shell lines of the block that follows the marker <!-- {marker} -->."""
    text = DOC.read_text()
    block = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)```", text, re.S)
    assert block, f"docs/extending.md lost its command block marked {marker}"
    return [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.parametrize("files", [("beta_vae.py", "extending.yaml"), ("mmd_vae.py", "digits.yaml")])
def test_the_page_shows_the_example_files_as_they_are(files):
    text = DOC.read_text()
    for name in files:
        content = (REPO / "docs" / "examples" / name).read_text()
        assert f"```{'python' if name.endswith('.py') else 'yaml'}\n{content}```" in text, name


@pytest.mark.workflow
def test_the_documented_example_runs_through_the_protocol(tmp_path):
    workdir = copy_workflow(tmp_path / "example")
    commands = documented_commands()
    assert [c[0] for c in commands] == ["python", "snakemake"], commands
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
    assert [c[0] for c in commands] == ["python", "snakemake"], commands
    subprocess.run([sys.executable, *commands[0][1:]], cwd=workdir, check=True, capture_output=True, text=True)
    snakemake(workdir, *commands[1][1:])

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
