"""The extension points of mimflow, one registry each: low-dimensional objectives, low-dimensional dataset
families and evaluation metrics.

Every name, figure label, colour and allowed config value of an extension comes from its registry entry:
the config schema's enums, the Snakefile's wildcard constraints, the settings checks and the figures all
read them here. Importing this module (and the built-in entries) imports no torch, so planning stays fast;
an entry's functions import what they need when they run.

A plugin is a module that calls `register_objective`, `register_dataset` or `register_metric` at import;
the config key `plugins` lists the modules to import (docs/extending.md).
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

Entry = TypeVar("Entry")


class Registry(Generic[Entry]):
    """Named entries of one kind, in registration order; an unknown or doubly registered name is a
    one-line error naming it and what is allowed."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, entry: Entry) -> Entry:
        name = entry.name  # type: ignore[attr-defined]
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice; registered: {self.names()}")
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> Entry:
        if name not in self._entries:
            raise ValueError(f"{self.kind} {name!r} is not registered; registered: {self.names()}")
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def values(self) -> list[Entry]:
        return list(self._entries.values())

    def unregister(self, name: str) -> None:
        """Remove an entry (tests that register a plugin clean up after themselves)."""
        self._entries.pop(name, None)


# --- objectives -------------------------------------------------------------------------------------------

SettingValue = Any  # int | float | str | bool


@dataclass(frozen=True)
class Objective:
    """How a low-dimensional model trains.

    loss(terms, beta, **settings) maps the terms of one forward path (mimflow.lowdim.model.PathTerms) and the
    scheduled beta to a per-sample loss (callers average over the batch). `settings` are the objective's own
    config values with their defaults (config key objective_settings); they reach the loss as keywords.
    """

    name: str
    loss: Callable[..., Any]
    label: str = ""  # figure legends (default: the name)
    color: str = "black"  # matplotlib colour: the MIM family blue, the VAE family red, as in the published figures
    sampling_path: bool = False  # adds MIM's decoder path with z ~ P(z), once beta >= 1
    autoencoder: bool = False  # delta encoder and beta = 0
    beta_switch: str | None = None  # the fidelity switch that sets this objective's beta schedule, if any
    settings: Mapping[str, SettingValue] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", self.name):
            raise ValueError(f"objective name {self.name!r} is not allowed; allowed: a letter, then letters, "
                             "digits, '_' or '-'")
        if not self.label:
            object.__setattr__(self, "label", self.name)


OBJECTIVES: Registry[Objective] = Registry("objective")


def register_objective(name: str, loss: Callable[..., Any], label: str | None = None, color: str = "black",
                       **options: Any) -> Objective:
    """Register a low-dimensional objective; options are the other Objective fields."""
    return OBJECTIVES.register(Objective(name=name, loss=loss, label=label or name, color=color, **options))


# --- datasets ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetFamily:
    """A family of low-dimensional datasets, named by a regular expression.

    source(cfg, data_path) returns the run's data stream (train_pass, test_pass, x_dim, true_log_prob; see
    mimflow.lowdim.data). file(name, settings) is the built file a run reads (None: nothing to build or read);
    settings(run_settings, fidelity) adds the fidelity switches that change this family's runs (and only
    those, so flipping another retrains nothing); density says whether the data have a known P(x), which the
    per-run figures draw as contours.
    """

    name: str
    pattern: str
    source: Callable[..., Any]
    description: str = ""
    file: Callable[[str, Mapping[str, Any]], str | None] = lambda name, settings: None
    settings: Callable[[dict, Mapping[str, Any]], dict] | None = None  # run settings from the fidelity switches
    density: bool = False
    published: bool = False  # the paper's own data: the reproduction scorecard may compare it

    def matches(self, dataset: str) -> bool:
        return re.fullmatch(self.pattern, dataset) is not None


DATASETS: Registry[DatasetFamily] = Registry("dataset family")


def register_dataset(name: str, pattern: str, source: Callable[..., Any], **options: Any) -> DatasetFamily:
    """Register a family of low-dimensional datasets; options are the other DatasetFamily fields."""
    return DATASETS.register(DatasetFamily(name=name, pattern=pattern, source=source, **options))


def dataset_family(dataset: str) -> DatasetFamily:
    """The family a low-dimensional dataset name belongs to (the first registered that matches)."""
    for family in DATASETS.values():
        if family.matches(dataset):
            return family
    raise ValueError(f"dataset {dataset!r} belongs to no registered family; allowed: "
                     + "; ".join(f"{f.name} ({f.description or f.pattern})" for f in DATASETS.values()))


# --- metrics ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """An evaluation metric of a low-dimensional run (a key of its metrics.json).

    compute(arrays) is None for the metrics mimflow.lowdim.evaluate computes itself (the original's exact
    definitions, in its draw order); a plugin metric computes one float from the evaluation's stored arrays
    (mimflow.lowdim.evaluate.EvaluationArrays) after them, drawing no random numbers.
    """

    name: str
    title: str  # stats figure title
    unit: str  # stats figure axis label
    compute: Callable[[Any], float] | None = None
    description: str = ""


METRICS: Registry[Metric] = Registry("metric")


def register_metric(name: str, title: str | None = None, unit: str | None = None,
                    compute: Callable[[Any], float] | None = None, **options: Any) -> Metric:
    return METRICS.register(Metric(name=name, title=title or name, unit=unit or name, compute=compute, **options))


# --- plugins ----------------------------------------------------------------------------------------------

_loaded_plugins: list[str] = []


def load_builtins() -> None:
    """Register the built-in objectives, dataset families and metrics (idempotent)."""
    importlib.import_module("mimflow.objectives")
    importlib.import_module("mimflow.datasets")
    importlib.import_module("mimflow.metrics")


def load_plugins(modules: list[str] | tuple[str, ...]) -> None:
    """Import the built-ins, then each plugin once: a module name (on the Python path) or a .py file (relative
    to the working directory). One that cannot be imported is a one-line error naming it."""
    load_builtins()
    for module in modules:
        if module in _loaded_plugins:
            continue
        try:
            if module.endswith(".py"):
                _import_file(module)
            else:
                importlib.import_module(module)
        except (ImportError, FileNotFoundError) as err:
            raise ValueError(f"plugin {module!r} cannot be imported ({err}); allowed: a module on the Python path "
                             "or a .py file relative to the working directory") from err
        _loaded_plugins.append(module)


def _import_file(path: str) -> None:
    import importlib.util
    import sys
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no file {file.resolve()}")
    name = "mimflow_plugin_" + re.sub(r"\W", "_", file.with_suffix("").as_posix())
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def loaded_plugins() -> list[str]:
    return list(_loaded_plugins)


def configure(config: Mapping[str, Any]) -> None:
    """Make the registries what a config asks for: the built-ins, its plugins and its vector datasets. The
    Snakefile calls it when planning and every job script at its start, so both see the same names."""
    load_plugins(list(config.get("plugins", [])))
    from .datasets import register_vector_datasets

    register_vector_datasets(config.get("vector_datasets", {}))
