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
    n_x, n_z = count_within(x, radius), count_within(z, radius)
    return float(digamma(k) + digamma(n) - np.mean(digamma(n_x) + digamma(n_z)))


def _count_brute_force(points: np.ndarray, radius: np.ndarray, rows: slice | np.ndarray = slice(None),
                       chunk: int = 500) -> np.ndarray:
    """Points within max-norm `radius` of each of points[rows] (self included), from the whole distance rows."""
    import torch

    every, limit = torch.from_numpy(points), torch.from_numpy(radius[rows])
    queries = every[rows]
    counts = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        distance = torch.cdist(queries[start:start + chunk], every, p=float("inf"))  # max |a - b|: no rounding
        counts[start:start + chunk] = (distance <= limit[start:start + chunk, None]).sum(1).numpy()
    return counts


def count_within(points: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Per point, the points within its max-norm radius (self included), as cKDTree.query_ball_point counts them.

    Both ways compare the same exact distances (a max of absolute differences rounds nothing), so they
    give the same counts; the choice is speed only. The KD-tree is fast while few points fall inside the
    radii; in a latent space of 4 or more dimensions with hundreds of points per radius (the KSG radii of a
    20-D x beside a posterior-collapsed z) it visits most of the tree, and the chunked all-pairs count is
    2-3x faster (bench/RESULTS.md). A probe of 200 points decides.
    """
    probe = np.linspace(0, len(points) - 1, min(200, len(points))).astype(np.int64)
    if points.shape[1] >= 4 and _count_brute_force(points, radius, probe).mean() >= 100:
        return _count_brute_force(points, radius)
    return cKDTree(points, leafsize=32).query_ball_point(points, radius, p=np.inf, return_length=True)


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
        if method == "kd_tree":
            found = kd_tree_neighbours(train_z, test_z, max(ks))
        else:
            search = KNeighborsClassifier(n_neighbors=max(ks), algorithm=method).fit(train_z, train_labels)
            found = search.kneighbors(test_z, return_distance=False)
        nearest = train_codes.reshape(-1)[found]
        for k in ks:
            votes = np.zeros((len(nearest), len(classes)), dtype=np.int64)
            np.add.at(votes, (np.arange(len(nearest))[:, None], nearest[:, :k]), 1)
            predicted = classes[np.argmax(votes, axis=1)]  # argmax: the first (smallest) label among equals
            accuracies[k] = float(np.mean(predicted == test_labels))
    return {f"clf_acc_KNN{k}": accuracies[k] for k in neighbors}


KD_TREE_FAST_DIMS = 8  # below this the KD-tree alone is faster (z_dim 6: 2.6 s against 3.8 s, bench/RESULTS.md)


def kd_tree_neighbours(train: np.ndarray, test: np.ndarray, k: int, candidates: int = 32) -> np.ndarray:
    """The k nearest training points of each test point, nearest first, exactly as sklearn's KD-tree finds them.

    A KD-tree search slows down fast with the dimension (about 25 s for 10,000 points among 60,000 at 12-14
    dimensions). This finds each point's `candidates` nearest by a brute-force search (one matrix product,
    whose ||a||^2 - 2ab + ||b||^2 rounds differently), then ranks those by the KD-tree's own distance, the
    squared differences summed over the dimensions in order in float64. A point's answer is kept when its
    k-th exact distance lies below the last candidate's by more than the brute force's rounding can reach
    (so no other point can be nearer); the few points that fail that check are searched by the KD-tree.
    """
    from sklearn.neighbors import KDTree, NearestNeighbors

    train = np.asarray(train, dtype=np.float64).reshape(len(train), -1)
    test = np.asarray(test, dtype=np.float64).reshape(len(test), -1)
    m = min(max(candidates, k + 1), len(train))
    if m <= k or train.shape[1] < KD_TREE_FAST_DIMS:  # nothing to prune, or the tree is fast anyway
        return KDTree(train).query(test, k=k, return_distance=False)
    approx, index = NearestNeighbors(n_neighbors=m, algorithm="brute").fit(train).kneighbors(test)
    exact = np.zeros(index.shape)
    for j in range(train.shape[1]):  # the KD-tree's order of additions, one dimension after the other
        diff = test[:, j, None] - train[index, j]
        exact += diff * diff
    order = np.argsort(exact, axis=1, kind="stable")[:, :k]
    nearest = np.take_along_axis(index, order, axis=1)
    kth = np.take_along_axis(exact, order[:, -1:], axis=1)[:, 0]
    # |brute - exact| of a squared distance stays below a few (dims + 2) ulps of ||a||^2 + ||b||^2; 1e-10 is ample.
    slack = 1e-10 * ((test ** 2).sum(1) + (train ** 2).sum(1).max()) + 1e-300
    unsure = np.flatnonzero(kth >= approx[:, -1] ** 2 - slack)
    if len(unsure):
        nearest[unsure] = KDTree(train).query(test[unsure], k=k, return_distance=False)
    return nearest


def mean_l2_error(x: np.ndarray, x_recon: np.ndarray) -> float:
    """Mean Euclidean norm ||x - x~||_2 per data vector (the original's x_recon_err, not an RMSE)."""
    return float(np.linalg.norm(np.asarray(x) - np.asarray(x_recon), axis=-1).mean())


def ksg_error_scale(n: int, dx: int, dz: int) -> float:
    """The original's heuristic MI_ksg_l2_err = N^-1/2 + N^(-1/(dx+dz))."""
    return 1.0 / math.sqrt(n) + n ** (-1.0 / (dx + dz))
