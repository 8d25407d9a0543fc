"""Write scikit-learn's breast cancer data (569 real tumour measurements, 30 features, shipped with
scikit-learn) as one's own vectors.

    python docs/examples/make_breast_cancer.py resources/own/breast_cancer.npz

171 samples (30 %, stratified by diagnosis) are the test split; every feature is standardised with the
training split's mean and standard deviation. Labels: 0 malignant, 1 benign.
"""
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

out = Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
data = load_breast_cancer()
x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=171, stratify=data.target,
                                                    random_state=0)
mean, std = x_train.mean(0), x_train.std(0)
np.savez(out, x_train=(x_train - mean) / std, y_train=y_train, x_test=(x_test - mean) / std, y_test=y_test)
print(f"wrote {out}: {len(x_train)} training and {len(x_test)} test vectors of dimension {x_train.shape[1]}")
