"""The workflow configuration: validation with one-line errors, and settings of each run.

Pure functions over the merged config dict, so the Snakefile stays thin and tests need no Snakemake.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any, Iterator

import yaml

RUN_DIR = "results/runs/{experiment}/{dataset}/{model}/z{z_dim}-h{mid_dim}/seed{seed}"
IMAGE_RUN_DIR = "results/runs/images/{dataset}/{arch}-{objective}/{prior}/seed{seed}"


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


def check_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Validate against the JSON schema, then the cross-references; raise ConfigError (one line)."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
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
    unknown = [e for e in config["run_experiments"] if e not in config["experiments"]]
    if unknown:
        raise ConfigError(f"config key run_experiments: {unknown} not defined; allowed: {sorted(config['experiments'])}")


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
    from .data import is_pca_dataset
    from .objectives import objective

    exp = experiment(config, experiment_name)
    fidelity = {**config["fidelity"], **exp.get("fidelity", {})}
    settings = dict(config["lowdim_training"])
    settings.update(exp.get("training", {}))
    settings.update(dataset=dataset, model=model, z_dim=int(z_dim), mid_dim=int(mid_dim), seed=int(seed))
    if objective(model).sampling_path:
        settings["mim_decoder_qx"] = fidelity["mim_decoder_qx"]
    if is_pca_dataset(dataset):
        settings["pca_fit"] = fidelity["pca_fit"]
        settings.pop("dataset_size", None)  # real data: the split sizes are the dataset's own
    return settings


def dataset_file(dataset: str, settings: dict[str, Any] | None = None) -> str | None:
    """The built tensor file a dataset needs (None for toy data, which is sampled on the fly)."""
    from .data import is_pca_dataset

    if is_pca_dataset(dataset):
        return f"resources/datasets/{dataset}-{(settings or {}).get('pca_fit', 'per_split')}.pt"
    if dataset in IMAGE_DATASETS:
        return f"resources/datasets/{dataset}.pt"
    return None


# Image dataset -> the raw source it is built from.
IMAGE_DATASETS = {"dynamic_mnist": "mnist", "dynamic_fashion_mnist": "fashion_mnist", "omniglot": "omniglot"}


def raw_files(config: dict[str, Any], source: str) -> list[str]:
    return [f"resources/raw/{source}/{name}" for name in config["data"]["sources"][source]["files"]]


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


def experiment_runs(config: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
    """Every run of an experiment's grid as wildcard values."""
    exp = experiment(config, name)
    seeds = exp.get("seeds", config["seeds"])
    for dataset, models in exp["datasets"].items():
        for model, z_dim, mid_dim, seed in itertools.product(models, exp["z_dims"], exp["mid_dims"], seeds):
            yield dict(experiment=name, dataset=dataset, model=model, z_dim=z_dim, mid_dim=mid_dim, seed=seed)


def run_dir(**wildcards: Any) -> str:
    return RUN_DIR.format(**wildcards)


def settings_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def image_run_settings(config: dict[str, Any], dataset: str, arch: str, objective: str, prior: str,
                       seed: int) -> dict[str, Any]:
    """Resolved ImageRunConfig fields of one image run."""
    return {**config["images"]["training"], "dataset": dataset, "arch": arch, "objective": objective,
            "prior": prior, "seed": int(seed)}


def image_runs(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    images = config["images"]
    for dataset, model, prior, seed in itertools.product(images["datasets"], images["models"], images["priors"],
                                                         images["seeds"]):
        arch, objective = model.rsplit("-", 1)
        yield dict(dataset=dataset, arch=arch, objective=objective, prior=prior, seed=seed)
