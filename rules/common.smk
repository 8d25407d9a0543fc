# Config validation, wildcard constraints, target lists and input functions.
import sys
from pathlib import Path

from snakemake_interface_executor_plugins.settings import ExecMode

from mimflow.core.build_record import config_arguments, last_build, record_build, report_check
from mimflow.core.retrain import announce_forced_training
from mimflow.sources import stage_code as source_hash_param
from mimflow.names import DOWNLOADED_IMAGE_DATASETS, PCA_FITS, PUBLISHED_EXPERIMENTS, alternatives
from mimflow.core.io import write_bytes_atomic
from mimflow.registry import IMAGE_SUBSETS, dataset_family
from mimflow.workflow import (
    ANIMATION_GIF,
    DATASET_FILE,
    PCA_DATASET_FILE,
    RAW_FILE,
    RAW_SOURCE_RECORD,
    SIDE_BY_SIDE_GIF,
    IMAGE_RUN_DIR,
    IMAGE_RUN_NAME,
    PUBLISHED_POINTS,
    RUN_DIR,
    RUN_NAME,
    SCORECARD_FIGURE,
    SCORECARD_HTML,
    SCORECARD_SUMMARY,
    SCORECARD_TABLE,
    SCORECARD_VARIANT_TABLE,
    SHOWCASE_FIGURE,
    CLUSTERING_FIGURE,
    STATS_FIGURE,
    SUMMARY_PAGE,
    SUMMARY_TABLE,
    TABLE,
    GROUP_DIR,
    GROUP_NAME,
    ConfigError,
    check_config,
    dataset_file,
    experiment_runs,
    experiment_seeds,
    lowdim_group_settings,
    seed_groups,
    image_run_settings,
    image_runs,
    showcase_datasets,
    job_benchmark,
    job_log,
    planning_notes,
    seed_group_target_notes,
    raw_filenames,
    raw_files,
    remote_entry,
    run_dir,
    wildcard_patterns,
)

try:
    check_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
except ConfigError as err:
    sys.exit(f"mimflow: {err}")
def parsed_command_line():
    """The arguments of the snakemake command that plans, parsed by Snakemake's own parser (its DAG settings
    are not set yet while the Snakefile is read); None when the workflow is driven otherwise."""
    if "snakemake" not in Path(sys.argv[0]).as_posix():
        return None
    from snakemake.cli import get_argument_parser

    try:
        return get_argument_parser().parse_known_args(sys.argv[1:])[0]
    except SystemExit:  # a command line Snakemake itself rejects: it says why
        return None


COMMAND_LINE = parsed_command_line()
COMMAND_TARGETS = (COMMAND_LINE.targets or []) if COMMAND_LINE is not None else []
# --configfile and --config of this command, as the last build's record and the report check write them.
CONFIG_ARGUMENTS = config_arguments(COMMAND_LINE.configfile, COMMAND_LINE.config) if COMMAND_LINE is not None else []


if workflow.exec_mode == ExecMode.DEFAULT:  # once, in the process that plans
    for note in planning_notes(config) + seed_group_target_notes(config, COMMAND_TARGETS):
        print(note, file=sys.stderr)


def stage_code(script):
    """A rule's `code` param: the hash of the source its jobs run (mimflow.sources), for this workflow's
    script `workflow_scripts/<script>.py`."""
    return source_hash_param(script, Path(workflow.basedir) / "workflow_scripts")


# Every wildcard's allowed values, from mimflow.names and the configured experiments.
workflow.global_wildcard_constraints(**wildcard_patterns(config))


# Image jobs claim a GPU (SLURM: --gpus=1; locally a job slot on a GPU, one of images.jobs_per_gpu there)
# unless images.device is cpu.
IMAGE_GPUS = 0 if config["images"]["device"] == "cpu" else 1

IMAGE_LABELS = {"experiment": "images", "dataset": "{dataset}", "model": "{arch}-{objective}",
                "prior": "{prior}", "seed": "{seed}"}


def image_settings(wildcards):
    return image_run_settings(config, wildcards.dataset, wildcards.arch, wildcards.objective, wildcards.prior,
                              wildcards.seed)


def image_table_inputs(wildcards):
    folders = [IMAGE_RUN_DIR.format(**run) for run in image_runs(config)]
    return {"metrics": [f"{f}/metrics.json" for f in folders], "provenance": [f"{f}/provenance.json" for f in folders]}


# Per-run figures of an image run (the original's names); pseudoinputs.png is added for the VampPrior.
IMAGE_RUN_FIGURES = ("generations", "real", "reconstructions", "real_recon", "z_embed", "histogram_test")


def showcase_inputs(wildcards):
    """The showcase rows' per-run figures and metrics, numbered by row (rule image_showcase)."""
    showcase, inputs = config["images"]["showcase"], {}
    for index, model in enumerate(showcase["rows"]):
        arch, objective = model.rsplit("-", 1)
        folder = IMAGE_RUN_DIR.format(dataset=wildcards.dataset, arch=arch, objective=objective,
                                      prior=showcase["prior"], seed=showcase["seed"])
        inputs.update({f"{name}_{index}": f"{folder}/{name}.png" for name in ("generations", "real_recon", "z_embed")})
        inputs[f"metrics_{index}"] = f"{folder}/metrics.json"
    return inputs


def clustering_group_inputs(wildcards):
    """The training logs and provenance of every image run of one (dataset, arch, prior) in the grid, in grid
    order (rule clustering_trajectories)."""
    folders = [IMAGE_RUN_DIR.format(**run) for run in image_runs(config)
               if (run["dataset"], run["arch"], run["prior"]) == (wildcards.dataset, wildcards.arch, wildcards.prior)]
    if not folders:
        raise ValueError(f"no image run of {wildcards.dataset}, {wildcards.arch}, {wildcards.prior} in the grid")
    return {"logs": [f"{f}/train_log.csv" for f in folders], "provenance": [f"{f}/provenance.json" for f in folders]}


def image_targets():
    targets = [SUMMARY_TABLE.format(experiment="images"), SUMMARY_PAGE.format(experiment="images")]
    targets += [SHOWCASE_FIGURE.format(dataset=dataset) for dataset in showcase_datasets(config)]
    clustering = config["images"]["clustering_every"] > 0
    for run in image_runs(config):
        folder = IMAGE_RUN_DIR.format(**run)
        targets += [f"{folder}/{name}.png" for name in IMAGE_RUN_FIGURES]
        if run["prior"] == "vampprior":
            targets.append(f"{folder}/pseudoinputs.png")
        if clustering:
            targets += [f"{folder}/clustering.png", CLUSTERING_FIGURE.format(**run)]
    return list(dict.fromkeys(targets))  # a group figure once


def lowdim_rule_variants():
    """(name suffix, seeds, wildcard constraints) of the two low-dimensional rules per stage (rules/lowdim.smk).
    Suffix "" is the seed-group variant (the global seed list, one job per group); suffix "_one_run" (seeds
    None) builds every other run path alone, a seed outside the list or an experiment with a seed list of
    its own. The names are the same whatever the config; the constraints keep every run path to one rule."""
    grouped, alone = seed_groups(config)
    nothing = "(?!)"  # matches no name
    listed = "|".join(map(str, config["seeds"]))
    # The single-run rule takes an experiment with its own list at any seed, and a grouped experiment at a
    # seed outside the global list (a lookahead over the rest of the run path checks the seed).
    outside = rf"(?=/[^/]+/[^/]+/z\d+-h\d+/seed(?!(?:{listed})(?!\d))\d+)"
    single = [f"(?:{alternatives(alone)})"] if alone else []
    if grouped:
        single.append(f"(?:{alternatives(grouped)}){outside}")
    return [("", tuple(config["seeds"]), {"experiment": alternatives(grouped) if grouped else nothing}),
            ("_one_run", None, {"experiment": "|".join(single)})]


LOWDIM_RULE_VARIANTS = lowdim_rule_variants()
TRAINING_RULES = [f"train_lowdim{suffix}" for suffix, _, _ in LOWDIM_RULE_VARIANTS] + ["train_image"]



# --forcerun of a training rule, or --forceall, retrains (mimflow.core.retrain): only the planning process
# knows it was forced, and tells the jobs through the environment before it starts any (a job's own
# process runs no hooks).
onstart:
    if workflow.exec_mode == ExecMode.DEFAULT:
        announce_forced_training(workflow.dag_settings.forceall, workflow.dag_settings.forcerun, TRAINING_RULES)
        if COMMAND_LINE is not None:
            record_build(CONFIG_ARGUMENTS)  # which config built results/ (a later --report names it)


def lowdim_run_files(seeds, filename):
    """A low-dimensional job's output paths: one per seed of a group rule, or the run of a single-run rule
    (seeds None)."""
    if seeds is None:
        return [f"{RUN_DIR}/{filename}"]
    return [f"{GROUP_DIR}/seed{seed}/{filename}" for seed in seeds]


def seed_caption(caption, seed):
    """The caption of one seed's figure in a seed-group job: Snakemake renders a caption with its job's
    wildcards, which name no seed there, so each seed gets a copy of the caption that sets `seed` first
    (written under .snakemake/, rewritten only when it changes)."""
    text = f"{{% set seed = {seed} %}}\n" + (Path(workflow.basedir) / "rules" / caption).resolve().read_text()
    path = Path(".snakemake") / "mimflow_captions" / f"{Path(caption).stem}.seed{seed}.rst"
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(text.encode(), path)
    return str(path.resolve())


def run_figure_outputs(seeds, figure, caption, subcategory):
    """The per-run figure outputs of a low-dimensional job, each a report item labelled with its run and
    captioned with its seed."""
    labels = {"experiment": "{experiment}", "dataset": "{dataset}", "model": "{model}", "dim": "z{z_dim}-h{mid_dim}"}
    if seeds is None:
        return [report(lowdim_run_files(None, figure)[0], caption=caption, category="Per-run plots",
                       subcategory=subcategory, labels={**labels, "seed": "{seed}"})]
    return [report(path, caption=seed_caption(caption, seed), category="Per-run plots", subcategory=subcategory,
                   labels={**labels, "seed": str(seed)}) for path, seed in zip(lowdim_run_files(seeds, figure), seeds)]


def x_backdrop(wildcards):
    """What the x panel of a run's figures draws behind the points: "density" (contours of the known P(x)) or
    "test points" (data without a known density, as one's own vectors and the PCA data); for the caption."""
    return "density" if dataset_family(wildcards.dataset).density else "test points"


def job_seeds(wildcards):
    """The seeds a low-dimensional job handles: its experiment's list (group rules) or its one seed."""
    if hasattr(wildcards, "seed"):
        return [int(wildcards.seed)]
    return experiment_seeds(config, wildcards.experiment)


def group_settings(wildcards):
    """The settings every run of the job shares (LowdimRunConfig fields without the seed)."""
    return lowdim_group_settings(config, wildcards.experiment, wildcards.dataset, wildcards.model,
                                 wildcards.z_dim, wildcards.mid_dim)


def run_data_input(wildcards):
    """The built dataset file a run reads ({} for toy data, sampled on the fly)."""
    path = dataset_file(wildcards.dataset, group_settings(wildcards))
    return {"data": path} if path else {}


def experiment_table_inputs(wildcards):
    """metrics.json of every run, and the provenance.json whose settings the table reports."""
    folders = [run_dir(**run) for run in experiment_runs(config, wildcards.experiment)]
    return {"metrics": [f"{f}/metrics.json" for f in folders], "provenance": [f"{f}/provenance.json" for f in folders]}


def plot_settings(*keys):
    """Only the plot settings a figure rule uses, so changing another never reruns it."""
    return {key: config["plots"][key] for key in keys}


def experiment_figures(name):
    return config["experiments"][name].get("figures", ["stats", "runs"])


def animation_run(experiment_name, dataset, model):
    """The run an animation GIF shows: the experiment's first z_dim, mid_dim and seed."""
    exp = config["experiments"][experiment_name]
    seeds = experiment_seeds(config, experiment_name)
    return dict(experiment=experiment_name, dataset=dataset, model=model, z_dim=exp["z_dims"][0],
                mid_dim=exp["mid_dims"][0], seed=seeds[0])


def animation_gif_inputs(wildcards):
    run = animation_run(wildcards.experiment, wildcards.dataset, wildcards.model)
    folder = run_dir(**run)
    settings = lowdim_group_settings(config, run["experiment"], run["dataset"], run["model"], run["z_dim"],
                                     run["mid_dim"])
    data = dataset_file(run["dataset"], settings)
    return {"model": f"{folder}/model.pt", "states": f"{folder}/epoch_states.pt", **({"data": data} if data else {})}


def animation_panel_names(experiment_name):
    """dataset_model names of the side-by-side panels, in plots.animation_panels order."""
    exp = config["experiments"][experiment_name]
    return [f"{d}_{exp['datasets'][d][0]}" for d in config["plots"]["animation_panels"] if d in exp["datasets"]]


def side_by_side_name(experiment_name):
    exp = config["experiments"][experiment_name]
    return "_".join(exp["datasets"][d][0] for d in config["plots"]["animation_panels"] if d in exp["datasets"])


def side_by_side_inputs(wildcards):
    return [SIDE_BY_SIDE_GIF.format(experiment=wildcards.experiment, panels=p)
            for p in animation_panel_names(wildcards.experiment)]


def experiment_figure_targets(name):
    families = experiment_figures(name)
    targets = []
    if "stats" in families:
        targets += [STATS_FIGURE.format(experiment=name, metric=metric) for metric in config["plots"]["stats_metrics"]]
    if "runs" in families:
        for run in experiment_runs(config, name):
            targets += [f"{run_dir(**run)}/reconstruction.png", f"{run_dir(**run)}/grid.png"]
    if "animation" in families:
        exp = config["experiments"][name]
        targets += [ANIMATION_GIF.format(experiment=name, dataset=d, model=m)
                    for d, models in exp["datasets"].items() for m in models]
        targets.append(SIDE_BY_SIDE_GIF.format(experiment=name, panels=side_by_side_name(name)))
    return targets


def all_targets():
    targets = [dataset_file(name) for name in config["build_datasets"]]
    for name in config["run_experiments"]:
        targets += [SUMMARY_TABLE.format(experiment=name), SUMMARY_PAGE.format(experiment=name)]
        targets += experiment_figure_targets(name)
    if config["run_images"]:
        targets += image_targets()
    return targets + scorecard_targets()


# The run experiments that have published figures, in run_experiments order.
SCORECARD_EXPERIMENTS = [name for name in config["run_experiments"] if name in PUBLISHED_EXPERIMENTS]
# Run variants of them (experiments.<name>.scored_against), scored against the same points beside them.
SCORECARD_VARIANTS = {name: config["experiments"][name]["scored_against"] for name in config["run_experiments"]
                      if config["experiments"][name].get("scored_against")}


def scorecard_targets():
    """The reproduction scorecard (rules/scorecard.smk), when an experiment with published figures (or a
    variant of one) runs."""
    if SCORECARD_EXPERIMENTS or SCORECARD_VARIANTS:
        return [SCORECARD_TABLE, SCORECARD_SUMMARY, SCORECARD_HTML, SCORECARD_FIGURE, SCORECARD_VARIANT_TABLE]
    return []


def scorecard_planned():
    """The seed groups of the scored experiments (experiment, dataset, model, z_dim, mid_dim): the points
    this config makes; the scorecard calls every other published point "not run"."""
    keys = ("experiment", "dataset", "model", "z_dim", "mid_dim")  # PLANNED_COLUMNS of mimflow.core.scorecard
    groups = {tuple(run[k] for k in keys) for name in SCORECARD_EXPERIMENTS for run in experiment_runs(config, name)}
    return [dict(zip(keys, group)) for group in sorted(groups)]


def check_report_targets():
    """With --report, one line and exit 1 when this config's targets (or the command's) are not all built:
    Snakemake would otherwise stop at the first missing one, after a warning per file without metadata."""
    if workflow.exec_mode != ExecMode.DEFAULT or COMMAND_LINE is None or not COMMAND_LINE.report:
        return
    problem = report_check(COMMAND_TARGETS or all_targets(), CONFIG_ARGUMENTS, last_build(), str(COMMAND_LINE.report))
    if problem:
        sys.exit(problem)
