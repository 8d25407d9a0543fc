"""Which config built results/ last, so that `snakemake --report` with another config says in one line which
`--configfile` to add instead of failing on the first figure that config would have made.

The planning process of every snakemake command that runs jobs records its --configfile and --config
arguments (rules/common.smk, onstart); `--report` checks that the config's targets exist before Snakemake
collects them.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Sequence

from .io import write_json_atomic

LAST_BUILD = ".snakemake/mimflow_last_build.json"


def config_arguments(configfiles: Sequence[Any] | None, config: Sequence[str] | None) -> list[str]:
    """The command-line arguments that choose a config: --configfile=FILE for each file, then --config with
    its KEY=VALUE items."""
    arguments = [f"--configfile={path}" for path in configfiles or ()]
    if config:
        arguments += ["--config", *config]
    return arguments


def record_build(arguments: list[str], path: str | Path = LAST_BUILD) -> None:
    write_json_atomic({"config_arguments": arguments}, path)


def last_build(path: str | Path = LAST_BUILD) -> list[str] | None:
    """The config arguments of the last snakemake command that ran jobs here (None if none is recorded, or
    the record cannot be read)."""
    try:
        return list(json.loads(Path(path).read_text())["config_arguments"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def report_check(targets: Sequence[str], arguments: list[str], built_with: list[str] | None,
                 report: str) -> str | None:
    """None when every target exists; otherwise one line naming how many are missing, the first, and the
    config arguments to add (those of the last build, where they differ from this command's)."""
    missing = [target for target in targets if not Path(target).exists()]
    if not missing:
        return None
    line = (f"mimflow: --report: {len(missing)} of the {len(targets)} outputs of this config are not built "
            f"(first: {missing[0]}); ")
    if built_with is not None and built_with != arguments:
        used = " ".join(shlex.quote(a) for a in built_with) if built_with else "no --configfile (config.yaml)"
        return line + (f"results/ were last built with {used}: run "
                       f"snakemake --report {report} {' '.join(shlex.quote(a) for a in built_with)}".rstrip())
    this = " ".join(shlex.quote(a) for a in arguments)
    return line + f"build them first (snakemake --cores all {this}".rstrip() + "), or add the --configfile that built results/"
