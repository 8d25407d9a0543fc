"""Frozen settings dataclasses: a dict round trip and the checks every run setting uses."""
from __future__ import annotations

import dataclasses
from typing import Any


class Settings:
    """Dict round-trip for frozen settings dataclasses: unknown keys are an error, lists become tuples."""

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown run setting(s) {unknown} for {cls.__name__}; allowed: {sorted(fields)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_positive(settings: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(settings, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(settings, name)}")


def check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {list(allowed)}")
