# Config validation, wildcard constraints, target lists and input functions.
import sys
from pathlib import Path

from mimflow.workflow_config import (
    IMAGE_DATASETS,
    IMAGE_RUN_DIR,
    RUN_DIR,
    ConfigError,
    check_config,
    dataset_file,
    experiment_runs,
    image_run_settings,
    image_runs,
    lowdim_run_settings,
    raw_files,
    remote_entry,
    run_dir,
)

try:
    check_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
except ConfigError as err:
    sys.exit(f"mimflow: {err}")


wildcard_constraints:
    experiment="|".join(sorted(config["experiments"])),
    dataset=r"toy(\d+(_\d+)?|MIM|VAE|AE)|pca-fashion-mnist\d+|dynamic_mnist|dynamic_fashion_mnist|omniglot",
    source="mnist|fashion_mnist|omniglot",
    arch="convhvae_2level|pixelhvae_2level",
    objective="vae|smim|amim",
    prior="standard|vampprior",
    model=r"mim|amim|mim-minusH|vae|vae-plusH|ae",
    z_dim=r"[1-9]\d*",
    mid_dim=r"[1-9]\d*",
    seed=r"\d+",
    metric=r"[A-Za-z_0-9]+",
    panels=r"(mim|amim|mim-minusH|vae|vae-plusH|ae)(_(mim|amim|mim-minusH|vae|vae-plusH|ae))+",


RUN = RUN_DIR
LOG = "results/logs/{rule}/{experiment}/{dataset}/{model}/z{z_dim}-h{mid_dim}/seed{seed}.log"


IMAGE_RUN = IMAGE_RUN_DIR
IMAGE_RUN_NAME = "{dataset}/{arch}-{objective}/{prior}/seed{seed}"
IMAGE_LABELS = {"experiment": "images", "dataset": "{dataset}", "model": "{arch}-{objective}",
                "prior": "{prior}", "seed": "{seed}"}


def image_settings(wildcards):
    return image_run_settings(config, wildcards.dataset, wildcards.arch, wildcards.objective, wildcards.prior,
                              wildcards.seed)


def image_metrics(wildcards):
    return [f"{IMAGE_RUN_DIR.format(**run)}/metrics.json" for run in image_runs(config)]


def image_targets():
    targets = ["results/tables/images_summary.csv"]
    for run in image_runs(config):
        folder = IMAGE_RUN_DIR.format(**run)
        targets += [f"{folder}/{name}.png" for name in ("generations", "real_recon", "z_embed")]
        if run["prior"] == "vampprior":
            targets.append(f"{folder}/pseudoinputs.png")
    return targets


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


def run_data_input(wildcards):
    """The built dataset file a run reads ({} for toy data, sampled on the fly)."""
    path = dataset_file(wildcards.dataset, run_settings(wildcards))
    return {"data": path} if path else {}


def experiment_metrics(name):
    return [f"{run_dir(**run)}/metrics.json" for run in experiment_runs(config, name)]


def experiment_table_inputs(wildcards):
    return experiment_metrics(wildcards.experiment)


def plot_settings(*keys):
    """Only the plot settings a figure rule uses, so changing another never reruns it."""
    return {key: config["plots"][key] for key in keys}


def experiment_figures(name):
    return config["experiments"][name].get("figures", ["stats", "runs"])


def animation_run(experiment_name, dataset, model):
    """The run an animation GIF shows: the experiment's first z_dim, mid_dim and seed."""
    exp = config["experiments"][experiment_name]
    seeds = exp.get("seeds", config["seeds"])
    return dict(experiment=experiment_name, dataset=dataset, model=model, z_dim=exp["z_dims"][0],
                mid_dim=exp["mid_dims"][0], seed=seeds[0])


def animation_gif_inputs(wildcards):
    folder = run_dir(**animation_run(wildcards.experiment, wildcards.dataset, wildcards.model))
    return {"model": f"{folder}/model.pt", "states": f"{folder}/epoch_states.pt"}


def animation_panel_names(experiment_name):
    """dataset_model names of the side-by-side panels, in plots.animation_panels order."""
    exp = config["experiments"][experiment_name]
    return [f"{d}_{exp['datasets'][d][0]}" for d in config["plots"]["animation_panels"] if d in exp["datasets"]]


def side_by_side_name(experiment_name):
    exp = config["experiments"][experiment_name]
    return "_".join(exp["datasets"][d][0] for d in config["plots"]["animation_panels"] if d in exp["datasets"])


def side_by_side_inputs(wildcards):
    return [f"results/figures/{wildcards.experiment}/{p}.gif" for p in animation_panel_names(wildcards.experiment)]


def experiment_figure_targets(name):
    families = experiment_figures(name)
    targets = []
    if "stats" in families:
        targets += [f"results/figures/{name}/{metric}.png" for metric in config["plots"]["stats_metrics"]]
    if "runs" in families:
        for run in experiment_runs(config, name):
            targets += [f"{run_dir(**run)}/reconstruction.png", f"{run_dir(**run)}/grid.png"]
    if "animation" in families:
        exp = config["experiments"][name]
        targets += [f"results/figures/{name}/{d}_{m}.gif" for d, models in exp["datasets"].items() for m in models]
        targets.append(f"results/figures/{name}/{side_by_side_name(name)}.gif")
    return targets


def all_targets():
    targets = [dataset_file(name) for name in config["build_datasets"]]
    for name in config["run_experiments"]:
        targets.append(f"results/tables/{name}_summary.csv")
        targets += experiment_figure_targets(name)
    if config["run_images"]:
        targets += image_targets()
    return targets
