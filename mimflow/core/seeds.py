"""Named random streams derived from a run's seed, so each job draws from its own documented stream.

Training seeds torch with the run seed itself; every later job (evaluation, figures, animation
frames) draws from a stream derived from (seed, stream number), independent of training's.
"""
from __future__ import annotations

import numpy as np

# The stream numbers are part of the numbers we publish: never renumber one.
STREAMS = {"evaluation": 1, "figures": 2, "animation": 3}


def stream(seed: int, name: str) -> int:
    """The integer seed of stream `name` for a run seeded with `seed`."""
    if name not in STREAMS:
        raise ValueError(f"random stream {name!r} is not one of {sorted(STREAMS)}")
    return int(np.random.SeedSequence([int(seed), STREAMS[name]]).generate_state(1)[0])
