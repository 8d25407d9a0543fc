"""The kernel of mimflow's extension points, one registry each: low-dimensional objectives, image
objectives, low-dimensional dataset families and evaluation metrics.

Every name, figure label, colour and allowed config value of an extension comes from its registry entry:
the config schema's enums, the Snakefile's wildcard constraints, the settings checks and the figures all
read them here. This module is the bottom layer: it imports nothing of mimflow but the constants of
mimflow.names. The built-in entries
(mimflow.objectives, mimflow.images.objectives, mimflow.datasets, mimflow.metrics) register themselves
here when imported, and mimflow.plugins loads them and the config's plugins. Importing it (and the
built-ins) imports no torch, so planning stays fast; an entry's functions import what they need when
they run.

A plugin is a module that calls `register_objective`, `register_image_objective`, `register_dataset` or
`register_metric` at import; the config key `plugins` lists the modules to import (docs/extending.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

from .names import IMAGE_DATASETS

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


def _check_entry_name(entry: Any, kind: str, pattern: str, allowed: str) -> None:
    """An objective's name must fit its pattern (it becomes a wildcard value); its label defaults to it."""
    if not re.fullmatch(pattern, entry.name):
        raise ValueError(f"{kind} name {entry.name!r} is not allowed; allowed: {allowed}")
    if not entry.label:
        object.__setattr__(entry, "label", entry.name)


# --- objectives -------------------------------------------------------------------------------------------

SettingValue = Any  # int | float | str | bool


@dataclass(frozen=True)
class Objective:
    """How a low-dimensional model trains.

    loss(terms, beta, **settings) maps the terms of one forward path (mimflow.lowdim.model.PathTerms: the
    log-densities, x, z, each sample's posterior q_loc and q_scale, and the pass size dataset_size) and the
    scheduled beta to a per-sample loss (callers average over the batch). `settings` are the objective's own
    config values with their defaults (config key objective_settings); they reach the loss as keywords.
    An objective that draws random numbers sets draws=True and receives the keyword `generator`: the run's
    own streams, a list of one torch.Generator per stacked run (a run alone is a stack of one; terms have
    shape (runs, n)). Drawing with mimflow.lowdim.model.standard_normal(shape, generator) takes each run's
    slice from its own generator, so a run's numbers do not depend on the runs it trains beside.
    A loss whose value for a sample depends on the other samples of its batch sets batch_terms=True: the
    per-epoch test loss (which picks the best checkpoint) is then computed batch by batch at the training
    batch size, as training computes it, instead of in one call over the whole test pass.
    """

    name: str
    loss: Callable[..., Any]
    label: str = ""  # figure legends (default: the name)
    color: str = "black"  # matplotlib colour: the MIM family blue, the VAE family red, as in the published figures
    sampling_path: bool = False  # adds MIM's decoder path with z ~ P(z), once beta >= 1
    autoencoder: bool = False  # delta encoder and beta = 0
    beta_switch: str | None = None  # the fidelity switch that sets this objective's beta schedule, if any
    draws: bool = False  # the loss takes generator= (the run's own random stream)
    batch_terms: bool = False  # the loss couples the samples of a batch (MMD, a total-correlation estimate)
    settings: Mapping[str, SettingValue] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        _check_entry_name(self, "objective", r"[A-Za-z][A-Za-z0-9_-]*", "a letter, then letters, digits, '_' or '-'")


OBJECTIVES: Registry[Objective] = Registry("objective")


def register_objective(name: str, loss: Callable[..., Any], label: str | None = None, color: str = "black",
                       **options: Any) -> Objective:
    """Register a low-dimensional objective; options are the other Objective fields."""
    return OBJECTIVES.register(Objective(name=name, loss=loss, label=label or name, color=color, **options))


@dataclass(frozen=True)
class ImageObjective:
    """How an image model (mimflow.images) trains.

    loss(terms, beta, **settings) maps the single-sample terms of the encoder path (a dict of per-image
    tensors: log_p_x_given_z, log_p_z1_given_z2, log_p_z2, log_q_z1_given_x_z2, log_q_z2_given_x and kl, shape
    (B,); the sample z1, z2 and the posterior parameters q_z1_mean, q_z1_logvar, q_z2_mean, q_z2_logvar,
    shape (B, z); x (B, x_dim); and dataset_size, the training images N) and the scheduled beta to the
    per-image loss (mimflow.images.losses.image_loss averages it over the batch).
    sampling_path adds SymMIM's prior-sampling path (z ~ p(z), x ~ p(x|z)) with weight beta once beta >= 1.
    A loss whose value for an image depends on the rest of its batch sets batch_terms=True: the validation
    loss that picks the best checkpoint is then computed on batches of the training batch size.
    `settings` are the objective's own keywords with their defaults (config images.objective_settings).
    """

    name: str
    loss: Callable[..., Any]
    label: str = ""
    color: str = "black"
    sampling_path: bool = False
    batch_terms: bool = False  # the loss couples the images of a batch (a total correlation, an MMD)
    settings: Mapping[str, SettingValue] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        _check_entry_name(self, "image objective", r"[a-z][a-z0-9_]*", "a lower-case letter, then lower-case "
                          "letters, digits or '_' (it follows the decoder's name after a '-')")


IMAGE_OBJECTIVES: Registry[ImageObjective] = Registry("image objective")


def register_image_objective(name: str, loss: Callable[..., Any], label: str | None = None, color: str = "black",
                             **options: Any) -> ImageObjective:
    """Register an image objective; options are the other ImageObjective fields."""
    return IMAGE_OBJECTIVES.register(ImageObjective(name=name, loss=loss, label=label or name, color=color,
                                                    **options))


def image_models(archs: tuple[str, ...] | list[str]) -> list[str]:
    """Every image model name, <decoder>-<objective>, of the given decoders and the registered objectives."""
    return [f"{arch}-{objective}" for arch in archs for objective in IMAGE_OBJECTIVES.names()]


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
    ignores: tuple[str, ...] = ()  # run settings this family's data never read: left out of provenance and tables

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


@dataclass(frozen=True)
class ImageSubset:
    """A class-stratified subset of a built image dataset, a dataset of its own name (config image_subsets):
    `train_per_class`, `validation_per_class` and `test_per_class` images of each class, drawn from the
    parent's own train, validation and test splits by a RandomState(seed) (mimflow.data.subsets)."""

    name: str
    parent: str
    train_per_class: int
    validation_per_class: int
    test_per_class: int
    seed: int = 0

    def spec(self) -> dict[str, Any]:
        return {"parent": self.parent, "train_per_class": self.train_per_class,
                "validation_per_class": self.validation_per_class, "test_per_class": self.test_per_class,
                "seed": self.seed}


IMAGE_SUBSETS: Registry[ImageSubset] = Registry("image subset")


def register_image_subsets(entries: Mapping[str, Mapping[str, Any]]) -> None:
    """Register each configured subset; its parent must be a built-in image dataset (names.IMAGE_DATASETS)."""
    for name, entry in entries.items():
        if name in IMAGE_DATASETS:
            raise ValueError(f"image subset {name!r} has the name of a built-in image dataset; allowed: another name")
        if entry.get("parent") not in IMAGE_DATASETS:
            raise ValueError(f"image subset {name!r}: parent {entry.get('parent')!r} is not allowed; allowed: one of "
                             f"{', '.join(IMAGE_DATASETS)}")
        subset = ImageSubset(name=name, **entry)
        if name in IMAGE_SUBSETS:
            if IMAGE_SUBSETS[name] != subset:
                IMAGE_SUBSETS.unregister(name)  # reconfigured (e.g. --config in one process): the new one holds
            else:
                continue
        IMAGE_SUBSETS.register(subset)


def image_datasets() -> list[str]:
    """Every image dataset name: the built-in ones, then the configured subsets."""
    return [*IMAGE_DATASETS, *IMAGE_SUBSETS.names()]


def image_root(dataset: str) -> str:
    """The built-in image dataset a dataset's images come from (itself, or a subset's parent)."""
    return IMAGE_SUBSETS[dataset].parent if dataset in IMAGE_SUBSETS else dataset


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


# --- lookups ----------------------------------------------------------------------------------------------


def model_label(model: str) -> str:
    """The figure label of a low-dimensional objective (its name where none is registered)."""
    return OBJECTIVES[model].label if model in OBJECTIVES else model


def model_color(model: str) -> str:
    return OBJECTIVES[model].color if model in OBJECTIVES else "black"
