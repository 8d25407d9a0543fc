"""Named random streams derived from a run's seed, so each job draws from its own documented stream.

Training seeds torch's weight initialisation with the run seed itself. A low-dimensional run then draws its
training noise from a generator seeded with the same integer, as the original's one global stream does for
the published figures. An image run draws each purpose from its own stream: the training data (the epoch's
order and its dynamic binarisation), the model's noise (reparameterisation, prior samples, validation) and
the VampPrior's initial pseudo-inputs; none replays the words that set the initial weights. Every later job
(evaluation, figures, animation frames) draws from a stream of its own.
"""
from __future__ import annotations

import numpy as np

# The stream numbers are part of the numbers we publish: never renumber one.
STREAMS = {"evaluation": 1, "figures": 2, "animation": 3, "image-data": 4, "image-noise": 5, "pseudo-inputs": 6,
           "clustering": 7}


def stream(seed: int, name: str) -> int:
    """The integer seed of stream `name` for a run seeded with `seed`."""
    if name not in STREAMS:
        raise ValueError(f"random stream {name!r} is not one of {sorted(STREAMS)}")
    return int(np.random.SeedSequence([int(seed), STREAMS[name]]).generate_state(1)[0])
