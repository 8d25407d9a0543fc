"""Loading the registries (mimflow.registry): the built-in entries, the config's plugin modules and its
files of vectors. The layer above the kernel: the Snakefile (through mimflow.workflow) calls configure()
when planning and every job (mimflow.jobs) at its start, so both see the same names.

A plugin is a module (on the Python path) or a .py file (relative to the working directory) that registers
entries at import (docs/extending.md).
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, Mapping

from .datasets import register_vector_datasets
from .registry import register_image_subsets

BUILTIN_MODULES = ("mimflow.objectives", "mimflow.images.objectives", "mimflow.datasets", "mimflow.metrics")

_loaded_plugins: list[str] = []


def load_builtins() -> None:
    """Register the built-in objectives, image objectives, dataset families and metrics (idempotent)."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def load_plugins(modules: list[str] | tuple[str, ...]) -> None:
    """Import the built-ins, then each plugin once. One that cannot be imported is a one-line error naming it."""
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


def forget_plugin(module: str) -> None:
    """Let a plugin be loaded again (tests that register one clean up after themselves)."""
    if module in _loaded_plugins:
        _loaded_plugins.remove(module)


def configure(config: Mapping[str, Any]) -> None:
    """Make the registries what a config asks for: the built-ins, its plugins, its vector datasets and its
    image subsets."""
    load_plugins(list(config.get("plugins", [])))
    register_vector_datasets(config.get("vector_datasets", {}))
    register_image_subsets(config.get("image_subsets", {}))
