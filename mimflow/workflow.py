"""What the Snakefile needs: config validation with one-line errors, run grids, the settings of each
run, and every path template of the pipeline, named once.

Pure functions over the merged config dict, so the Snakefile stays thin and tests need no Snakemake.
"""
from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any, Iterator

import yaml

from .names import (
    IMAGE_DATASETS,
    LOWDIM_MODELS,
    PCA_DATASET_PATTERN,
    SAMPLING_PATH_MODELS,
    TOY_DATASET_PATTERN,
    alternatives,
    is_pca_dataset,
)

# A seed group: the runs of one experiment, dataset, model and shape, which train as one stack (one job);
# its name names the group's jobs' logs and benchmarks.
GROUP_NAME = "{experiment}/{dataset}/{model}/z{z_dim}-h{mid_dim}"
GROUP_DIR = f"results/runs/{GROUP_NAME}"
# A run's name: its folder under results/runs/ (and the log name of a run built on its own).
RUN_NAME = GROUP_NAME + "/seed{seed}"
IMAGE_RUN_NAME = "images/{dataset}/{arch}-{objective}/{prior}/seed{seed}"
RUN_DIR = f"results/runs/{RUN_NAME}"
IMAGE_RUN_DIR = f"results/runs/{IMAGE_RUN_NAME}"
IMAGE_RUN_DIR_BY_MODEL = IMAGE_RUN_DIR.replace("{arch}-{objective}", "{model}")  # tables: one model column
TABLE = "results/tables/{experiment}.csv"
SUMMARY_TABLE = "results/tables/{experiment}_summary.csv"
STATS_FIGURE = "results/figures/{experiment}/{metric}.png"
ANIMATION_GIF = "results/figures/{experiment}/{dataset}_{model}.gif"
SIDE_BY_SIDE_GIF = "results/figures/{experiment}/{panels}.gif"
PUBLISHED_POINTS = "reference/published/published_points.csv"  # the original's figures, read off its PNGs
SCORECARD_TABLE = "results/tables/fidelity_scorecard.csv"
SCORECARD_SUMMARY = "results/tables/fidelity_scorecard_summary.csv"
SCORECARD_HTML = "results/fidelity_scorecard.html"
RAW_FILE = "resources/raw/{source}/{filename}"
DATASET_FILE = "resources/datasets/{dataset}.pt"
PCA_DATASET_FILE = "resources/datasets/pca-fashion-mnist{k}-{fit}.pt"


def job_log(rule: str, name: str) -> str:
    """The log file of a job of `rule` (name: a run name or another wildcard pattern)."""
    return f"results/logs/{rule}/{name}.log"


def job_benchmark(rule: str, name: str) -> str:
    return f"results/benchmarks/{rule}/{name}.tsv"


def template_pattern(template: str) -> re.Pattern:
    """A regex that finds a filled-in path template and captures its fields by name."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+?)" for i, part in enumerate(parts))
    return re.compile(regex + "(?:/|$)")


def wildcard_patterns(config: dict[str, Any]) -> dict[str, str]:
    """The Snakefile's wildcard constraints, from the names module and the configured experiments."""
    from .names import ARCHS, DATA_SOURCES, IMAGE_OBJECTIVES, PRIORS

    models = alternatives(LOWDIM_MODELS)
    return dict(
        experiment=alternatives(config["experiments"]),
        dataset="|".join([TOY_DATASET_PATTERN, PCA_DATASET_PATTERN, alternatives(IMAGE_DATASETS)]),
        source=alternatives(DATA_SOURCES),
        arch=alternatives(ARCHS),
        objective=alternatives(IMAGE_OBJECTIVES),
        prior=alternatives(PRIORS),
        model=models,
        z_dim=r"[1-9]\d*",
        mid_dim=r"[1-9]\d*",
        seed=r"\d+",
        metric=r"[A-Za-z_0-9]+",
        panels=rf"({models})(_({models}))+",
    )


class ConfigError(ValueError):
    """A configuration value is not allowed; the message is one line naming key, value and what is allowed."""


def _key_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def _allowed(error) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "enum":
        return "one of " + ", ".join(map(str, error.validator_value))
    if error.validator == "minimum":
        return f">= {error.validator_value}"
    if error.validator == "exclusiveMinimum":
        return f"> {error.validator_value}"
    if error.validator == "additionalProperties":
        return "one of " + ", ".join(sorted(schema.get("properties", {}))) if schema.get("properties") else "no other keys"
    if error.validator == "required":
        return "all of " + ", ".join(error.validator_value)
    if error.validator == "type":
        return f"a value of type {error.validator_value}"
    return schema.get("description") or error.message


def _resolve(schema: dict, root: dict) -> dict:
    """Follow `$ref` (and a one-element `allOf` around one) to the schema that describes a value."""
    if len(schema.get("allOf", [])) == 1:
        return _resolve(schema["allOf"][0], root)
    ref = schema.get("$ref")
    return _resolve(root["$defs"][ref.rsplit("/", 1)[1]], root) if ref else schema


def coerce_to_schema(value: Any, schema: dict, root: dict | None = None) -> Any:
    """Numbers and booleans typed on the command line (Snakemake reads `--config seeds=[1,2,3]` as
    strings) become the types the schema asks for; anything else is left for validation to judge."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {k: coerce_to_schema(v, props.get(k, extra if isinstance(extra, dict) else {}), root)
                for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_to_schema(v, schema.get("items", {}), root) for v in value]
    if isinstance(value, str):
        types = schema.get("type", [])
        types = [types] if isinstance(types, str) else types
        if "boolean" in types and value.lower() in ("true", "false"):
            return value.lower() == "true"
        for kind, cast in (("integer", int), ("number", float)):
            if kind in types:
                try:
                    return cast(value)
                except ValueError:
                    break
    return value


def check_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Coerce command-line strings, validate against the JSON schema, then the cross-references;
    raise ConfigError (one line). The config is updated in place."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
    config.update(coerce_to_schema(config, schema))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        err = min(errors, key=lambda e: -len(e.absolute_path))  # the most specific location
        for sub in (err.context or []):  # allOf/$ref wrappers: report the inner failure
            err = sub
        key = _key_path(err.absolute_path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            raise ConfigError(f"config key {key}: unknown key(s) {extra}; allowed: {_allowed(err)}")
        if err.validator == "propertyNames":
            bad = [k for k in err.instance if not jsonschema.Draft202012Validator(err.validator_value).is_valid(k)]
            desc = err.validator_value.get("description", err.message)
            raise ConfigError(f"config key {key}: name(s) {bad} not allowed; allowed: {desc}")
        raise ConfigError(f"config key {key}: value {err.instance!r} is not allowed; allowed: {_allowed(err)}")
    for name, exp in config["experiments"].items():
        for switch in GLOBAL_ONLY_SWITCHES & set(exp.get("fidelity", {})):
            raise ConfigError(f"config key experiments.{name}.fidelity.{switch}: not allowed per experiment "
                              f"(it changes the shared PCA dataset file); allowed: set fidelity.{switch} globally")
        for switch in set(IMAGE_SWITCHES) & set(exp.get("fidelity", {})):
            raise ConfigError(f"config key experiments.{name}.fidelity.{switch}: not allowed per experiment "
                              f"(it applies to the image runs only); allowed: set fidelity.{switch} globally")
    unknown = [e for e in config["run_experiments"] if e not in config["experiments"]]
    if unknown:
        raise ConfigError(f"config key run_experiments: {unknown} not defined; allowed: {sorted(config['experiments'])}")


# Fidelity switches that change the one built PCA dataset file, so no experiment may override them.
GLOBAL_ONLY_SWITCHES = {"pca_sign", "affine_geometry"}
# Fidelity switches of the image runs (which belong to no experiment): global only.
IMAGE_SWITCHES = ("image_precision", "masked_conv_grad")

# The fidelity switch that sets beta's schedule of each joint-entropy (R_H) model.
R_H_BETA_SWITCHES = {"mim-minusH": "mim_minus_h_beta", "vae-plusH": "vae_plus_h_beta"}


def experiment(config: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in config["experiments"]:
        raise ConfigError(f"experiment {name!r} is not defined; allowed: {sorted(config['experiments'])}")
    return config["experiments"][name]


def lowdim_run_settings(config: dict[str, Any], experiment_name: str, dataset: str, model: str,
                        z_dim: int, mid_dim: int, seed: int) -> dict[str, Any]:
    """Resolved LowdimRunConfig fields of one run: defaults < experiment training, plus fidelity.

    A fidelity switch enters a run's settings only where it changes that run, so flipping it
    retrains only the runs it affects (mim_decoder_qx: sampling-path models; pca_fit: PCA data).
    """
    exp = experiment(config, experiment_name)
    fidelity = {**config["fidelity"], **exp.get("fidelity", {})}
    settings = dict(config["lowdim_training"])
    settings.update(exp.get("training", {}))
    settings.update(dataset=dataset, model=model, z_dim=int(z_dim), mid_dim=int(mid_dim), seed=int(seed))
    if model in SAMPLING_PATH_MODELS:
        settings["mim_decoder_qx"] = fidelity["mim_decoder_qx"]
    if model in R_H_BETA_SWITCHES:
        settings["beta_schedule"] = fidelity[R_H_BETA_SWITCHES[model]]
    if fidelity["non_finite_test_loss"] != "skip":  # the default stays out of settings: no retraining
        settings["non_finite_test_loss"] = fidelity["non_finite_test_loss"]
    if is_pca_dataset(dataset):
        settings["pca_fit"] = fidelity["pca_fit"]
        settings["pca_sign"] = fidelity["pca_sign"]
        settings["affine_geometry"] = fidelity["affine_geometry"]
        settings.pop("dataset_size", None)  # real data: the split sizes are the dataset's own
    return settings


def dataset_file(dataset: str, settings: dict[str, Any] | None = None) -> str | None:
    """The built tensor file a dataset needs (None for toy data, which is sampled on the fly)."""
    if is_pca_dataset(dataset):
        return DATASET_FILE.format(dataset=f"{dataset}-{(settings or {}).get('pca_fit', 'per_split')}")
    if dataset in IMAGE_DATASETS:
        return DATASET_FILE.format(dataset=dataset)
    return None


def raw_files(config: dict[str, Any], source: str) -> list[str]:
    return [RAW_FILE.format(source=source, filename=name) for name in config["data"]["sources"][source]["files"]]


def remote_entry(config: dict[str, Any], source: str, filename: str) -> dict[str, Any]:
    """URLs (mirror + name) and checksums of one raw file."""
    if source not in config["data"]["sources"]:
        raise ConfigError(f"data source {source!r} is not configured; allowed: {sorted(config['data']['sources'])}")
    src = config["data"]["sources"][source]
    if filename not in src["files"]:
        raise ConfigError(f"file {filename!r} is not configured for data source {source}; allowed: {sorted(src['files'])}")
    entry = {k: v for k, v in (src["files"][filename] or {}).items() if v}
    entry["urls"] = [m.rstrip("/") + "/" + filename for m in src["mirrors"]]
    return entry


def experiment_seeds(config: dict[str, Any], name: str) -> list[int]:
    return list(experiment(config, name).get("seeds", config["seeds"]))


def seed_lists(config: dict[str, Any]) -> list[tuple[tuple[int, ...], list[str]]]:
    """The distinct seed lists of the configured experiments, each with its experiments, in config order.
    Each list gets its own group rules, since a rule's outputs (one set per seed) cannot vary by wildcard."""
    lists: dict[tuple[int, ...], list[str]] = {}
    for name in config["experiments"]:
        lists.setdefault(tuple(experiment_seeds(config, name)), []).append(name)
    return list(lists.items())


def group_rule_suffix(config: dict[str, Any], seeds: tuple[int, ...]) -> str:
    """"" for the global seed list, "_seeds_1_2" for an experiment's own list."""
    return "" if list(seeds) == list(config["seeds"]) else "_seeds_" + "_".join(map(str, seeds))


def lowdim_group_settings(config: dict[str, Any], experiment_name: str, dataset: str, model: str,
                          z_dim: int, mid_dim: int) -> dict[str, Any]:
    """The settings every run of a seed group shares: lowdim_run_settings without the seed."""
    settings = lowdim_run_settings(config, experiment_name, dataset, model, z_dim, mid_dim, 0)
    settings.pop("seed")
    return settings


def experiment_runs(config: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
    """Every run of an experiment's grid as wildcard values."""
    exp = experiment(config, name)
    seeds = experiment_seeds(config, name)
    for dataset, models in exp["datasets"].items():
        for model, z_dim, mid_dim, seed in itertools.product(models, exp["z_dims"], exp["mid_dims"], seeds):
            yield dict(experiment=name, dataset=dataset, model=model, z_dim=z_dim, mid_dim=mid_dim, seed=seed)


def run_dir(**wildcards: Any) -> str:
    return RUN_DIR.format(**wildcards)


def image_run_settings(config: dict[str, Any], dataset: str, arch: str, objective: str, prior: str,
                       seed: int) -> dict[str, Any]:
    """Resolved ImageRunConfig fields of one image run."""
    return {**config["images"]["training"], "dataset": dataset, "arch": arch, "objective": objective,
            "prior": prior, "seed": int(seed), **{switch: config["fidelity"][switch] for switch in IMAGE_SWITCHES}}


def image_runs(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    images = config["images"]
    for dataset, model, prior, seed in itertools.product(images["datasets"], images["models"], images["priors"],
                                                         images["seeds"]):
        arch, objective = model.rsplit("-", 1)
        yield dict(dataset=dataset, arch=arch, objective=objective, prior=prior, seed=seed)
