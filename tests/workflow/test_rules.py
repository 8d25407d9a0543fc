"""Rule names do not depend on the config: --set-resources, --forcerun and job groups can name them."""
from __future__ import annotations

import pytest

from .conftest import REPO, snakemake

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
