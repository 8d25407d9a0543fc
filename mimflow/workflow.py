"""What the Snakefile needs: config validation with one-line errors, run grids, the settings of each
run, and every path template of the pipeline, named once.

Pure functions over the merged config dict, so the Snakefile stays thin and tests need no Snakemake.
"""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any, Iterator

import yaml

from . import names
from .names import alternatives
from .plugins import configure
from .registry import DATASETS, IMAGE_OBJECTIVES, METRICS, OBJECTIVES, dataset_family, image_datasets, image_models

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
SHOWCASE_FIGURE = "results/figures/images/{dataset}_showcase.png"  # the seed README's picture of a dataset
# Clustering along training (images.clustering_every) of every objective and seed of one decoder and prior
CLUSTERING_FIGURE = "results/figures/images/{dataset}_{arch}_{prior}_clustering.png"
TABLE = "results/tables/{experiment}.csv"
SUMMARY_TABLE = "results/tables/{experiment}_summary.csv"
SUMMARY_PAGE = "results/tables/{experiment}_summary.html"  # the summary rendered, for the report
STATS_FIGURE = "results/figures/{experiment}/{metric}.png"
ANIMATION_GIF = "results/figures/{experiment}/{dataset}_{model}.gif"
SIDE_BY_SIDE_GIF = "results/figures/{experiment}/{panels}.gif"
PUBLISHED_POINTS = "reference/published/published_points.csv"  # the original's figures, read off its PNGs
SCORECARD_TABLE = "results/tables/fidelity_scorecard.csv"
SCORECARD_SUMMARY = "results/tables/fidelity_scorecard_summary.csv"
SCORECARD_HTML = "results/fidelity_scorecard.html"
SCORECARD_FIGURE = "results/figures/fidelity_scorecard.png"
SCORECARD_VARIANT_TABLE = "results/tables/fidelity_scorecard_variants.csv"
RAW_FILE = "resources/raw/{source}/{filename}"
RAW_SOURCE_RECORD = RAW_FILE + ".source.json"  # where the verified copy came from, and its hashes
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
    from .names import ARCHS, DATA_SOURCES, PRIORS

    models = alternatives(OBJECTIVES.names())
    return dict(
        experiment=alternatives(config["experiments"]),
        dataset="|".join([*(f"(?:{family.pattern})" for family in DATASETS.values()), alternatives(image_datasets())]),
        source=alternatives(DATA_SOURCES),
        arch=alternatives(ARCHS),
        objective=alternatives(IMAGE_OBJECTIVES.names()),
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
    if error.validator == "uniqueItems":
        return "distinct values (each at most once)"
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


# Schema markers `x-registry: NAME` whose enum is a registry's names.
REGISTRY_MARKERS = {
    "objectives": lambda: OBJECTIVES.names(),
    "image_objectives": lambda: IMAGE_OBJECTIVES.names(),
    "image_models": lambda: image_models(names.ARCHS),
    "image_datasets": image_datasets,
    "metrics": lambda: METRICS.names(),
}


def fill_schema(node: Any) -> Any:
    """The schema with its markers filled in: `x-names: NAME` becomes the enum of mimflow.names.NAME, and
    `x-registry: objectives | image_objectives | image_models | image_datasets | metrics | datasets` the
    registered names (image_models: every decoder with every image objective; image_datasets: the built-in
    ones and the configured subsets; datasets: a name pattern)."""
    if isinstance(node, list):
        return [fill_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: fill_schema(value) for key, value in node.items()}
    if "x-names" in node:
        node["enum"] = list(getattr(names, node.pop("x-names")))
    registry = node.pop("x-registry", None)
    if registry in REGISTRY_MARKERS:
        node["enum"] = REGISTRY_MARKERS[registry]()
    elif registry == "datasets":
        node["pattern"] = "^(" + "|".join(f"(?:{family.pattern})" for family in DATASETS.values()) + ")$"
        node["description"] = "; ".join([*(family.description or family.pattern for family in DATASETS.values()
                                            if not family.name.startswith("vectors:")),
                                          "or a file of one's own vectors named under vector_datasets"])
    elif registry is not None:
        raise ValueError(f"schema marker x-registry: {registry!r} is not one of {[*REGISTRY_MARKERS, 'datasets']}")
    return node


def _validate(schema: dict[str, Any], config: dict[str, Any]) -> None:
    """Raise ConfigError (one line) for the most specific place where config breaks the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
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


def check_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Coerce command-line strings, register the config's plugins, vector datasets and image subsets, validate
    against the JSON schema (its name lists filled from the registries), then the cross-references; raise
    ConfigError (one line). The config is updated in place."""
    raw_schema = yaml.safe_load(Path(schema_path).read_text())
    plugins = config.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p for p in plugins):
        raise ConfigError(f"config key plugins: value {plugins!r} is not allowed; allowed: a list of module names "
                          "or .py files")
    # Registration comes before schema validation (the schema's dataset names depend on it), so the shape
    # that registration reads is checked here first.
    entries = config.get("vector_datasets", {})
    if not isinstance(entries, dict) or not all(isinstance(e, dict) and isinstance(e.get("path"), str)
                                                for e in entries.values()):
        raise ConfigError(f"config key vector_datasets: value {entries!r} is not allowed; allowed: a mapping of "
                          "dataset name -> {path: an .npz file}")
    subsets = {"type": "object", "properties": {"image_subsets": fill_schema(raw_schema["properties"]["image_subsets"])}}
    config.update(coerce_to_schema({"image_subsets": config.get("image_subsets", {})}, subsets))
    _validate(subsets, config)  # before registration, which reads them
    try:
        configure(config)
    except Exception as err:  # noqa: BLE001 - a plugin may raise anything at import: one line, naming it
        raise ConfigError(f"config key plugins/vector_datasets/image_subsets: {err}") from None
    schema = fill_schema(raw_schema)
    config.update(coerce_to_schema(config, schema))
    _validate(schema, config)
    for name, exp in config["experiments"].items():
        for switch in GLOBAL_ONLY_SWITCHES & set(exp.get("fidelity", {})):
            raise ConfigError(f"config key experiments.{name}.fidelity.{switch}: not allowed per experiment "
                              f"(it changes the shared PCA dataset file); allowed: set fidelity.{switch} globally")
        for switch in set(IMAGE_SWITCHES) & set(exp.get("fidelity", {})):
            raise ConfigError(f"config key experiments.{name}.fidelity.{switch}: not allowed per experiment "
                              f"(it applies to the image runs only); allowed: set fidelity.{switch} globally")
        _check_objective_settings(exp.get("objective_settings", {}), f"experiments.{name}.objective_settings")
    _check_objective_settings(config.get("objective_settings", {}), "objective_settings")
    _check_objective_settings(config["images"].get("objective_settings", {}), "images.objective_settings",
                              IMAGE_OBJECTIVES)
    unknown = [e for e in config["run_experiments"] if e not in config["experiments"]]
    if unknown:
        raise ConfigError(f"config key run_experiments: {unknown} not defined; allowed: {sorted(config['experiments'])}")
    _check_vector_files(config)


def planning_notes(config: dict[str, Any]) -> list[str]:
    """One line per planned seed-group experiment whose seeds cannot train as one stack (its batch_size is
    not a multiple of names.STACK_BATCH_MULTIPLE): they train one by one, to the same numbers."""
    grouped, _ = seed_groups(config)
    if len(config["seeds"]) < 2:
        return []
    notes = []
    for name in (name for name in grouped if name in config["run_experiments"]):
        batch_size = int({**config["lowdim_training"], **config["experiments"][name].get("training", {})}["batch_size"])
        if batch_size % names.STACK_BATCH_MULTIPLE:
            notes.append(f"mimflow: experiment {name}: batch_size {batch_size} is not a multiple of "
                         f"{names.STACK_BATCH_MULTIPLE}, so its {len(config['seeds'])} seeds train one by one in "
                         "their group job (the same numbers, more time; docs/architecture.md)")
    return notes


def seed_group_target_notes(config: dict[str, Any], targets, root: Path = Path(".")) -> list[str]:
    """One line per targeted run file that is present while the same file of another seed of its group is
    missing. Snakemake builds nothing for a present target, so after a seed was added to `seeds` the group
    it now belongs to would stay unbuilt without a word; the line names a target that builds it."""
    grouped, _ = seed_groups(config)
    pattern = template_pattern(RUN_DIR + "/{file}")
    notes = []
    for target in sorted(map(str, targets or ())):
        match = pattern.fullmatch(target) or pattern.fullmatch(target + "/")
        if match is None or match["experiment"] not in grouped or not (root / target).exists():
            continue
        fields = {key: value for key, value in match.groupdict().items() if key not in ("seed", "file")}
        missing = [seed for seed in config["seeds"]
                   if not (root / run_dir(**fields, seed=seed) / match["file"]).exists()]
        if missing:
            sibling = f"{run_dir(**fields, seed=missing[0])}/{match['file']}"
            notes.append(f"mimflow: {target} is present, so Snakemake builds nothing for it, but its seed group "
                         f"(seeds {list(config['seeds'])}) lacks seed(s) {missing}: target {sibling} to build the "
                         f"group (its present runs are kept from their finished resume.pt, not retrained)")
    return notes


def _check_vector_files(config: dict[str, Any]) -> None:
    """Load and check every file of one's own vectors that a planned experiment trains on, at planning, so a
    bad file (a NaN, a label array of the wrong length, fewer rows than a batch) stops Snakemake before any
    job with one line naming the config key, instead of failing the training jobs one by one. A file not yet
    there is left to Snakemake: a rule may make it, and a missing input stops the DAG before any job anyway,
    while listing rules or targets needs no data."""
    from .data.vector_file import VectorFileError, read_vectors

    entries = config.get("vector_datasets", {})
    checked: set[tuple[str, int]] = set()
    for name in config["run_experiments"]:
        experiment = config["experiments"][name]
        batch_size = int({**config["lowdim_training"], **experiment.get("training", {})}["batch_size"])
        for dataset in experiment["datasets"]:
            if dataset not in entries or (dataset, batch_size) in checked:
                continue
            checked.add((dataset, batch_size))
            if not Path(entries[dataset]["path"]).exists():
                continue
            try:
                read_vectors(entries[dataset]["path"], min_rows=batch_size)
            except VectorFileError as err:
                raise ConfigError(f"config key vector_datasets.{dataset}.path: {err}") from None


# Fidelity switches that change the one built PCA dataset file, so no experiment may override them.
GLOBAL_ONLY_SWITCHES = {"pca_sign", "affine_geometry"}
# Fidelity switches of the image runs (which belong to no experiment): global only.
IMAGE_SWITCHES = ("image_precision", "masked_conv_grad")



def _check_objective_settings(values: dict[str, Any], key: str, registry=OBJECTIVES) -> None:
    """Each objective named must be registered and each setting one it declares, of its default's type."""
    for model, settings in values.items():
        if model not in registry:
            raise ConfigError(f"config key {key}: {registry.kind} {model!r} is not registered; allowed: "
                              f"{registry.names()}")
        declared = registry[model].settings
        for name, value in settings.items():
            if name not in declared:
                raise ConfigError(f"config key {key}.{model}: unknown setting {name!r}; allowed: "
                                  f"{sorted(declared) or 'none (this objective has no settings)'}")
            default = declared[name]
            numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) if numeric else \
                isinstance(value, type(default))
            if not ok:
                raise ConfigError(f"config key {key}.{model}.{name}: value {value!r} is not allowed; allowed: a "
                                  f"value of type {type(default).__name__} (default {default!r})")


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
    objective = OBJECTIVES[model]
    if objective.sampling_path:
        settings["mim_decoder_qx"] = fidelity["mim_decoder_qx"]
    if objective.beta_switch is not None:
        settings["beta_schedule"] = fidelity[objective.beta_switch]
    if fidelity["non_finite_test_loss"] != "skip":  # the default stays out of settings: no retraining
        settings["non_finite_test_loss"] = fidelity["non_finite_test_loss"]
    family = dataset_family(dataset)
    if family.settings is not None:
        settings = family.settings(settings, fidelity)
    if objective.settings:  # only objectives that declare settings carry them
        settings["objective_settings"] = {**objective.settings, **config.get("objective_settings", {}).get(model, {}),
                                          **exp.get("objective_settings", {}).get(model, {})}
    return settings


def dataset_file(dataset: str, settings: dict[str, Any] | None = None) -> str | None:
    """The file a dataset's runs read: a built tensor file, one's own vectors, or None (toy data, sampled on
    the fly)."""
    if dataset in image_datasets():
        return DATASET_FILE.format(dataset=dataset)
    return dataset_family(dataset).file(dataset, settings or {})


def raw_files(config: dict[str, Any], source: str, pattern: str = RAW_FILE) -> list[str]:
    """The raw files of a data source (or, with pattern RAW_SOURCE_RECORD, their source records)."""
    return [pattern.format(source=source, filename=name) for name in config["data"]["sources"][source]["files"]]


def raw_filenames(config: dict[str, Any]) -> str:
    """A wildcard pattern of every configured raw file name (keeps RAW_FILE from matching a source record)."""
    return alternatives(sorted({name for src in config["data"]["sources"].values() for name in src["files"]}))


def raw_source_records(paths: list[str]) -> dict[str, dict]:
    """{file name: source record} of the raw files a dataset was built from (what rule download wrote)."""
    records = {}
    for path in paths:
        with open(path) as fh:
            records[Path(path).name.removesuffix(".source.json")] = json.load(fh)
    return records


def remote_entry(config: dict[str, Any], source: str, filename: str) -> dict[str, Any]:
    """URLs (mirror + name), checksums and the installed-package folder (if any) of one raw file."""
    if source not in config["data"]["sources"]:
        raise ConfigError(f"data source {source!r} is not configured; allowed: {sorted(config['data']['sources'])}")
    src = config["data"]["sources"][source]
    if filename not in src["files"]:
        raise ConfigError(f"file {filename!r} is not configured for data source {source}; allowed: {sorted(src['files'])}")
    entry = {k: v for k, v in (src["files"][filename] or {}).items() if v}
    entry["urls"] = [m.rstrip("/") + "/" + filename for m in src["mirrors"]]
    if src.get("installed"):
        entry["installed"] = src["installed"]
    return entry


def experiment_seeds(config: dict[str, Any], name: str) -> list[int]:
    return list(experiment(config, name).get("seeds", config["seeds"]))


def seed_groups(config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(experiments whose runs train in seed groups, the others), in config order.

    A rule's outputs are fixed when the workflow is parsed, one set per seed, so one group rule per stage
    can only serve one seed list: the global `seeds`. An experiment with a seed list of its own trains each
    run in a job of its own (the same numbers, a process per run)."""
    grouped, alone = [], []
    for name in config["experiments"]:
        (grouped if experiment_seeds(config, name) == list(config["seeds"]) else alone).append(name)
    return grouped, alone


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
    """Resolved ImageRunConfig fields of one image run (objective settings only where the objective declares
    some, as for the low-dimensional runs)."""
    settings = {**config["images"]["training"], "dataset": dataset, "arch": arch, "objective": objective,
                "prior": prior, "seed": int(seed), **{switch: config["fidelity"][switch] for switch in IMAGE_SWITCHES}}
    declared = IMAGE_OBJECTIVES[objective].settings
    if declared:
        configured = config["images"].get("objective_settings", {}).get(objective, {})
        settings["objective_settings"] = {**declared, **configured}
    return settings


def showcase_datasets(config: dict[str, Any]) -> list[str]:
    """The image datasets whose showcase runs (images.showcase: its models at its prior and seed) are all in
    the image grid; each gets a showcase figure."""
    images, showcase = config["images"], config["images"]["showcase"]
    planned = (set(showcase["rows"]) <= set(images["models"]) and showcase["prior"] in images["priors"]
               and showcase["seed"] in images["seeds"])
    return list(images["datasets"]) if planned and showcase["rows"] else []


def image_runs(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    images = config["images"]
    for dataset, model, prior, seed in itertools.product(images["datasets"], images["models"], images["priors"],
                                                         images["seeds"]):
        arch, objective = model.rsplit("-", 1)
        yield dict(dataset=dataset, arch=arch, objective=objective, prior=prior, seed=seed)
