"""Rule names do not depend on the config: --set-resources, --forcerun and job groups can name them."""
from __future__ import annotations

import re

import pytest

from .conftest import REPO, copy_workflow, snakemake

CONFIGS = [[], *(["--configfile", str(p.relative_to(REPO))] for p in sorted((REPO / "presets").glob("*.yaml"))),
           ["--configfile", "docs/examples/extending.yaml"]]
STAGES = {"train_lowdim", "evaluate_lowdim", "run_figures", "train_lowdim_one_run", "evaluate_lowdim_one_run",
          "run_figures_one_run", "train_image", "evaluate_image", "image_figures"}


def rules(*args: str) -> list[str]:
    return snakemake(REPO, "--list-rules", *args).stdout.split()


@pytest.fixture(scope="module")
def rules_per_config() -> dict[str, list[str]]:
    return {" ".join(args) or "config.yaml": rules(*args) for args in CONFIGS}


def test_every_config_has_the_same_rules(rules_per_config):
    first = next(iter(rules_per_config.values()))
    assert STAGES <= set(first)
    for name, names in rules_per_config.items():
        assert names == first, name


def test_an_experiment_with_its_own_seed_list_adds_no_rule():
    extra = ["--config", "seeds=[1,2,3]"]  # the animation experiment keeps seeds [1]; toy2d gets 3
    assert rules(*extra) == rules()


@pytest.mark.parametrize("device, gpus", [("cpu", "0"), ("auto", "1"), ("cuda", "1")])
def test_image_jobs_ask_for_a_gpu_unless_they_run_on_the_cpu(tmp_path, device, gpus):
    """A CPU preset must not queue for GPU nodes under SLURM (gpu: 1 becomes sbatch --gpus=1)."""
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "device.yaml").write_text(f"images:\n  device: {device}\n")
    plan = snakemake(workdir, "-n", "results/runs/images/mnist5k/convhvae_2level-vae/standard/seed1/metrics.json",
                     "--configfile", "presets/images-cpu.yaml", "device.yaml").stdout
    asked, rule = {}, None
    for line in plan.splitlines():
        if found := re.match(r"\s*(?:local)?rule (\w+):", line):
            rule = found.group(1)
        elif found := re.match(r"\s*resources: .*\bgpu=(\d+)", line):
            asked[rule] = found.group(1)
    assert asked == {"train_image": gpus, "evaluate_image": gpus}, plan[-3000:]

