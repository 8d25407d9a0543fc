"""The source a job runs, from its rule's script and its wildcards (mimflow.core.source_code does the reading).

Each rule carries its jobs' source hash as the param `code` (rules/common.smk), so Snakemake plans a job again
when a file it runs changes (the params rerun trigger), and the job records the same files in provenance.json.
The entry modules are the registries' own: an objective's loss module, an image objective's, a plugin
dataset family's source, a metric's module. A job takes the general modules of its stage plus the entries
it uses:
- training: the run's objective (and a plugin dataset family's module);
- evaluation: every metric's module (a run's metrics.json holds them all);
- other jobs of a run: a plugin dataset family's module, for runs on that family.
Built-in dataset families live together in mimflow/datasets.py, which every job that reads data imports.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

from .core.source_code import PACKAGE, StageSource, stage_files
from .registry import IMAGE_OBJECTIVES, METRICS, OBJECTIVES, dataset_family

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "workflow_scripts"
# The scripts whose jobs train (the run's objective is theirs) and evaluate (every metric is theirs).
TRAINING_SCRIPTS = {"train_lowdim", "train_image"}
EVALUATION_SCRIPTS = {"evaluate_lowdim", "evaluate_image"}


def _entry_file(function: Callable[..., Any]) -> Path:
    """The file that defines a registry entry's function: a mimflow module or a plugin file."""
    return Path(sys.modules[function.__module__].__file__).resolve()


def _is_package_module(function: Callable[..., Any]) -> bool:
    return function.__module__.split(".")[0] == PACKAGE


def _stop_modules() -> frozenset[str]:
    """The mimflow modules that define objectives: no stage walks into them, each job adds its own."""
    losses = [entry.loss for registry in (OBJECTIVES, IMAGE_OBJECTIVES) for entry in registry.values()]
    return frozenset(loss.__module__ for loss in losses if _is_package_module(loss))


def _job_entries(script: str, wildcards: Mapping[str, Any]) -> tuple[Path, ...]:
    entries: list[Path] = []
    model, objective, dataset = wildcards.get("model"), wildcards.get("objective"), wildcards.get("dataset")
    if script in TRAINING_SCRIPTS | EVALUATION_SCRIPTS:
        if model in OBJECTIVES:
            entries.append(_entry_file(OBJECTIVES[model].loss))
        if objective in IMAGE_OBJECTIVES:
            entries.append(_entry_file(IMAGE_OBJECTIVES[objective].loss))
    if script in EVALUATION_SCRIPTS:
        entries.extend(_entry_file(metric.compute) for metric in METRICS.values() if metric.compute is not None)
    if dataset:
        try:
            source = dataset_family(dataset).source
        except (KeyError, ValueError):
            source = None  # an image dataset: no family
        if source is not None and not _is_package_module(source):
            entries.append(_entry_file(source))  # a plugin's family; the built-ins are in every data stage
    return tuple(sorted(set(entries)))


@functools.lru_cache(maxsize=None)
def _stage_files(script_path: Path, entries: tuple[Path, ...], stop: frozenset[str]) -> tuple[Path, ...]:
    return tuple(stage_files(script_path, entries, stop))


def stage_source(script: str, wildcards: Mapping[str, Any] | None = None,
                 scripts_dir: Path = SCRIPTS_DIR) -> StageSource:
    """The source files a job of this workflow script (its name without .py) runs, given its wildcards; their
    contents are read afresh on every call."""
    entries = _job_entries(script, dict(wildcards or {}))
    return StageSource(_stage_files((scripts_dir / f"{script}.py").resolve(), entries, _stop_modules()))


def stage_code(script: str, scripts_dir: Path = SCRIPTS_DIR) -> Callable[[Any], str]:
    """A rule's `code` param: the sha256 of the source its job runs, a function of the job's wildcards
    (computed once per set of files while Snakemake plans)."""
    by_entries: dict[tuple, str] = {}
    by_wildcards: dict[tuple, str] = {}  # the registries are fixed while Snakemake plans

    def code(wildcards) -> str:
        key = tuple(wildcards.get(name) for name in ("model", "objective", "dataset"))
        if key not in by_wildcards:
            values = dict(wildcards.items())
            entries = (_job_entries(script, values), _stop_modules())
            if entries not in by_entries:
                by_entries[entries] = stage_source(script, values, scripts_dir).sha256
            by_wildcards[key] = by_entries[entries]
        return by_wildcards[key]
    return code
