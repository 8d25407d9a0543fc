"""The PCA bottleneck on real Fashion-MNIST through real Snakemake: Debian's dataset-fashion-mnist is found
with no config change, verified by content, recorded in provenance, and a short run learns real structure.

CI installs the package (.ci/run) and sets MIMFLOW_REQUIRE_REAL_DATA=1, so there these tests run or fail;
on a machine without the package they are skipped with the reason below.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from mimflow.workflow import RUN_DIR

from .conftest import copy_workflow, snakemake

pytestmark = pytest.mark.workflow  # runs real Snakemake jobs: not in make test-fast

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
if not DEBIAN_DIR.is_dir() and not os.environ.get("MIMFLOW_REQUIRE_REAL_DATA"):
    pytest.skip(f"{DEBIAN_DIR} is missing (apt-get install dataset-fashion-mnist)", allow_module_level=True)

RUN = dict(experiment="bottleneck_fmnist20", dataset="pca-fashion-mnist20", model="vae", z_dim=2, mid_dim=50, seed=1)


def test_a_pca_run_on_the_debian_files(tmp_path):
    """Three epochs of the seed-1, z_dim-2 VAE at paper settings otherwise. Full runs stop early at epoch 7
    (best 3) with MI_ksg 1.04, x_recon_err 7.58, KNN5 0.255 (published means at z_dim 2: 1.34, 7.3, 0.30)."""
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "short.yaml").write_text(yaml.safe_dump({"seeds": [1], "lowdim_training": {"epochs": 3}}))
    folder = RUN_DIR.format(**RUN)
    snakemake(workdir, f"{folder}/metrics.json", "--cores", "2", "--configfile=short.yaml")

    raw = workdir / "resources" / "raw" / "fashion_mnist"
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        record = json.loads((raw / f"{name}.source.json").read_text())
        assert record["origin"]["source"] == "package dataset-fashion-mnist", record
        assert record["origin"]["path"] == str(DEBIAN_DIR / name)
    # the 20 components explain the same share of the variance as the official files give
    data = torch.load(workdir / "resources" / "datasets" / "pca-fashion-mnist20-per_split.pt", weights_only=False)
    assert data["train_images"].shape == (60000, 28, 28) and data["test_x"].shape == (10000, 20)
    assert abs(data["explained_variance"]["train"] - 0.7851) < 1e-4, data["explained_variance"]
    assert abs(data["explained_variance"]["test"] - 0.7849) < 1e-4, data["explained_variance"]

    provenance = json.loads((workdir / folder / "provenance.json").read_text())
    assert provenance["data_sources"]["train-images-idx3-ubyte.gz"]["origin"]["source"] == "package dataset-fashion-mnist"
    log = pd.read_csv(workdir / folder / "train_log.csv")
    assert len(log) == 3 and log["test_loss"].notna().all()
    metrics = json.loads((workdir / folder / "metrics.json").read_text())
    assert 0.3 < metrics["MI_ksg"] < 3.0, metrics  # an informative 2-D code, short of the 20-D data's
    assert 4.0 < metrics["x_recon_err"] < 12.0, metrics
    assert metrics["clf_acc_KNN5"] > 0.18, metrics  # 10 balanced classes: chance is 0.10
