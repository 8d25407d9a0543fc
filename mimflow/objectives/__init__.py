"""The low-dimensional objectives: one module per family, each registering its objectives in
mimflow.registry.OBJECTIVES at import. Importing this package registers the built-ins; a new objective is
one more module here, or a plugin module of one's own (docs/extending.md)."""
from ..registry import OBJECTIVES, Objective
from . import mim, vae  # noqa: F401  (registration on import)

__all__ = ["OBJECTIVES", "Objective"]
