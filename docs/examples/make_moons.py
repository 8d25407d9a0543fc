"""Write a dataset of one's own vectors in mimflow's format: two interleaved half-moons in 2-D.

    python docs/examples/make_moons.py resources/own/moons.npz

The .npz holds x_train (n, 2) and x_test (n, 2) as floats and y_train, y_test (which moon) as integers.
"""
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_moons

out = Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
x_train, y_train = make_moons(n_samples=4000, noise=0.08, random_state=0)
x_test, y_test = make_moons(n_samples=1000, noise=0.08, random_state=1)
# centre and scale to about the toy data's range
mean, scale = x_train.mean(0), x_train.std(0).max()
np.savez(out, x_train=(x_train - mean) / scale, y_train=y_train, x_test=(x_test - mean) / scale, y_test=y_test)
print(f"wrote {out}: {len(x_train)} training and {len(x_test)} test vectors of dimension {x_train.shape[1]}")
