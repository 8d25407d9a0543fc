"""Write scikit-learn's 8x8 digits (1,797 real images, shipped with scikit-learn) as one's own vectors.

    python docs/examples/make_digits.py resources/own/digits.npz

Pixels are scaled from 0-16 to 0-1; 360 images (a fifth, stratified by digit) are the test split.
"""
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

out = Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
digits = load_digits()
x, y = digits.data / 16.0, digits.target
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=360, stratify=y, random_state=0)
np.savez(out, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
print(f"wrote {out}: {len(x_train)} training and {len(x_test)} test vectors of dimension {x.shape[1]}")
