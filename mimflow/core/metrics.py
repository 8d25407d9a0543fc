"""Metrics of spec 4: KSG mutual information, KNN accuracy, and the original's distribution stats."""
from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma


def ksg_mutual_information(x: np.ndarray, z: np.ndarray, k: int = 5) -> float:
    """Kraskov-Stoegbauer-Grassberger estimator, algorithm 1, max-norm, in nats.

    I = psi(k) + psi(N) - <psi(n_x + 1) + psi(n_z + 1)>, where n_x + 1 counts the points (self
    included) strictly inside each point's k-th-neighbour distance in the joint space, as in the
    knnie code the original uses (radius - 1e-15). KD-trees make it O(N log N).
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
    if len(x) != len(z):
        raise ValueError(f"x and z need the same number of points, got {len(x)} and {len(z)}")
    n = len(x)
    if not 0 < k < n:
        raise ValueError(f"k must be in 1..{n - 1} for {n} points, got {k}")
    joint = np.hstack([x, z])
    # leafsize 32: about 20% faster than the default for these radius counts (bench/RESULTS.md)
    radius = cKDTree(joint, leafsize=32).query(joint, k=k + 1, p=np.inf)[0][:, k] - 1e-15
    n_x = cKDTree(x, leafsize=32).query_ball_point(x, radius, p=np.inf, return_length=True)
    n_z = cKDTree(z, leafsize=32).query_ball_point(z, radius, p=np.inf, return_length=True)
    return float(digamma(k) + digamma(n) - np.mean(digamma(n_x) + digamma(n_z)))


def knn_accuracies(train_z: np.ndarray, train_labels: np.ndarray, test_z: np.ndarray,
                   test_labels: np.ndarray, neighbors: tuple[int, ...] = (1, 3, 5, 10)) -> dict[str, float]:
    """sklearn KNeighborsClassifier (uniform, Euclidean) accuracy per k, keyed clf_acc_KNN<k>.

    The same numbers as one `KNeighborsClassifier(n_neighbors=k).fit(...).score(...)` per k, from one
    neighbour search per search method instead of one per k: sklearn picks its method (KD-tree or brute
    force) from k and the data, so the ks are grouped by the method it picks, each group is searched once
    with its largest k, and every k takes its nearest k of that sorted list (the k nearest of a
    search with more neighbours are the same points). The vote is sklearn's: the most frequent label,
    the smallest label among equals. Only exactly equal distances at the k-th place could pick another
    point than a separate search would.
    """
    from sklearn.neighbors import KNeighborsClassifier

    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    classes, train_codes = np.unique(train_labels, return_inverse=True)
    by_method: dict[str, list[int]] = {}
    for k in neighbors:
        method = KNeighborsClassifier(n_neighbors=k).fit(train_z, train_labels)._fit_method
        by_method.setdefault(method, []).append(k)
    accuracies = {}
    for method, ks in by_method.items():
        search = KNeighborsClassifier(n_neighbors=max(ks), algorithm=method).fit(train_z, train_labels)
        nearest = train_codes.reshape(-1)[search.kneighbors(test_z, return_distance=False)]
        for k in ks:
            votes = np.zeros((len(nearest), len(classes)), dtype=np.int64)
            np.add.at(votes, (np.arange(len(nearest))[:, None], nearest[:, :k]), 1)
            predicted = classes[np.argmax(votes, axis=1)]  # argmax: the first (smallest) label among equals
            accuracies[k] = float(np.mean(predicted == test_labels))
    return {f"clf_acc_KNN{k}": accuracies[k] for k in neighbors}


def mean_l2_error(x: np.ndarray, x_recon: np.ndarray) -> float:
    """Mean Euclidean norm ||x - x~||_2 per data vector (the original's x_recon_err, not an RMSE)."""
    return float(np.linalg.norm(np.asarray(x) - np.asarray(x_recon), axis=-1).mean())


def ksg_error_scale(n: int, dx: int, dz: int) -> float:
    """The original's heuristic MI_ksg_l2_err = N^-1/2 + N^(-1/(dx+dz))."""
    return 1.0 / math.sqrt(n) + n ** (-1.0 / (dx + dz))
