# Config validation, wildcard constraints, target lists and input functions.
import sys
from pathlib import Path

from mimflow.workflow_config import (
    RUN_DIR,
    ConfigError,
    check_config,
    experiment_runs,
    lowdim_run_settings,
    run_dir,
)

try:
    check_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
except ConfigError as err:
    sys.exit(f"mimflow: {err}")


wildcard_constraints:
    experiment="|".join(sorted(config["experiments"])),
    dataset=r"toy(\d+(_\d+)?|MIM|VAE|AE)",
    model=r"mim|amim|mim-minusH|vae|vae-plusH|ae",
    z_dim=r"[1-9]\d*",
    mid_dim=r"[1-9]\d*",
    seed=r"\d+",


RUN = RUN_DIR
LOG = "results/logs/{rule}/{experiment}/{dataset}/{model}/z{z_dim}-h{mid_dim}/seed{seed}.log"


def run_log(rule_name):
    return LOG.replace("{rule}", rule_name)


def run_settings(wildcards):
    return lowdim_run_settings(
        config,
        wildcards.experiment,
        wildcards.dataset,
        wildcards.model,
        wildcards.z_dim,
        wildcards.mid_dim,
        wildcards.seed,
    )


def experiment_metrics(name):
    return [f"{run_dir(**run)}/metrics.json" for run in experiment_runs(config, name)]


def experiment_table_inputs(wildcards):
    return experiment_metrics(wildcards.experiment)


def all_targets():
    return [f"results/tables/{name}_summary.csv" for name in config["run_experiments"]]
