"""Spec 4: KSG mutual information, KNN accuracy and the reconstruction error."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import digamma

from mimflow.core.metrics import (
    knn_accuracies,
    ksg_error_scale,
    ksg_mutual_information,
    mean_l2_error,
)


def gaussian_mi(rho: float) -> float:
    return -0.5 * math.log(1.0 - rho ** 2)


def correlated_pair(rho: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal(n)
    z = rho * x + math.sqrt(1.0 - rho ** 2) * rng.standard_normal(n)
    return x, z


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_ksg_matches_gaussian_mi(rho):
    x, z = correlated_pair(rho, 5000, np.random.default_rng(0))
    assert ksg_mutual_information(x, z) == pytest.approx(gaussian_mi(rho), abs=0.03)


def test_ksg_independent_is_near_zero():
    rng = np.random.default_rng(1)
    x, z = rng.standard_normal((5000, 1)), rng.standard_normal((5000, 1))
    assert abs(ksg_mutual_information(x, z)) < 0.05


def test_ksg_is_in_nats_and_scales_with_dependence():
    rng = np.random.default_rng(2)
    weak = ksg_mutual_information(*correlated_pair(0.5, 5000, rng))
    strong = ksg_mutual_information(*correlated_pair(0.9, 5000, rng))
    assert strong > weak + 0.5  # 0.830 vs 0.144 nats; bits would give 1.198 vs 0.208


def test_ksg_two_dimensional_blocks_add():
    rng = np.random.default_rng(3)
    rhos = (0.5, 0.9)
    pairs = [correlated_pair(r, 5000, rng) for r in rhos]
    x = np.stack([p[0] for p in pairs], axis=1)
    z = np.stack([p[1] for p in pairs], axis=1)
    expected = sum(gaussian_mi(r) for r in rhos)
    assert ksg_mutual_information(x, z) == pytest.approx(expected, abs=0.05)


def reference_ksg(x: np.ndarray, z: np.ndarray, k: int) -> float:
    """Brute-force KSG algorithm 1: psi(k) + psi(N) - <psi(n_x + 1) + psi(n_z + 1)>, max-norm,
    n_x = points other than i strictly closer than the k-th joint neighbour distance."""
    x, z = x.reshape(len(x), -1), z.reshape(len(z), -1)
    n = len(x)
    dx = np.abs(x[:, None, :] - x[None, :, :]).max(-1)
    dz = np.abs(z[:, None, :] - z[None, :, :]).max(-1)
    joint = np.maximum(dx, dz)
    np.fill_diagonal(joint, np.inf)
    eps = np.sort(joint, axis=1)[:, k - 1]
    np.fill_diagonal(dx, np.inf)
    np.fill_diagonal(dz, np.inf)
    n_x = (dx < eps[:, None]).sum(1)
    n_z = (dz < eps[:, None]).sum(1)
    return float(digamma(k) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_z + 1)))


@pytest.mark.parametrize("k, dx, dz", [(5, 1, 1), (3, 2, 1), (1, 2, 3)])
def test_ksg_matches_brute_force_reference(k, dx, dz):
    rng = np.random.default_rng(10 + k)
    x = rng.standard_normal((300, dx))
    z = 0.7 * x[:, :1] + rng.standard_normal((300, dz))
    assert ksg_mutual_information(x, z, k=k) == pytest.approx(reference_ksg(x, z, k), abs=1e-10)


def test_ksg_rejects_mismatched_lengths():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="same number of points"):
        ksg_mutual_information(rng.standard_normal(100), rng.standard_normal(99))


def test_ksg_rejects_k_not_below_n():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError):
        ksg_mutual_information(rng.standard_normal(5), rng.standard_normal(5), k=5)


def test_ksg_error_scale_formula():
    assert ksg_error_scale(10000, 2, 2) == pytest.approx(0.01 + 0.1)


def test_knn_accuracies_keys_and_separable_clusters():
    rng = np.random.default_rng(6)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    train_y = np.repeat(np.arange(4), 30)
    test_y = np.repeat(np.arange(4), 20)
    train_z = centers[train_y] + 0.1 * rng.standard_normal((len(train_y), 2))
    test_z = centers[test_y] + 0.1 * rng.standard_normal((len(test_y), 2))
    acc = knn_accuracies(train_z, train_y, test_z, test_y)
    assert set(acc) == {"clf_acc_KNN1", "clf_acc_KNN3", "clf_acc_KNN5", "clf_acc_KNN10"}
    assert all(v == 1.0 for v in acc.values())


def test_knn_accuracies_at_chance_on_shuffled_labels():
    rng = np.random.default_rng(7)
    train_z, test_z = rng.standard_normal((400, 2)), rng.standard_normal((400, 2))
    train_y, test_y = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    acc = knn_accuracies(train_z, train_y, test_z, test_y, neighbors=(5,))
    assert set(acc) == {"clf_acc_KNN5"}
    assert 0.35 < acc["clf_acc_KNN5"] < 0.65


def _sklearn_scores(train_z, train_y, test_z, test_y, neighbors):
    from sklearn.neighbors import KNeighborsClassifier

    return {f"clf_acc_KNN{k}": float(KNeighborsClassifier(n_neighbors=k).fit(train_z, train_y).score(test_z, test_y))
            for k in neighbors}


@pytest.mark.parametrize("dims, n_train, labels", [
    (3, 600, [0, 1, 2, 3, 4]),      # sklearn searches with a KD-tree for every k
    (20, 600, [2, 5, 7]),           # brute force (more than 15 features), labels not 0..C-1
    (3, 20, [0, 1, 2, 3]),          # k = 10 reaches half the training set: brute for 10, KD-tree for the rest
])
def test_knn_accuracies_equal_one_sklearn_classifier_per_k(dims, n_train, labels):
    """One search per sklearn search method gives each k exactly the accuracy of its own classifier,
    votes with equal counts included (even k, few labels: the smallest label wins in both)."""
    rng = np.random.default_rng(dims + n_train)
    train_y, test_y = rng.choice(labels, n_train), rng.choice(labels, 300)
    train_z = rng.standard_normal((n_train, dims)) + 0.5 * train_y[:, None]
    test_z = rng.standard_normal((300, dims)) + 0.5 * test_y[:, None]
    neighbors = (1, 2, 3, 4, 5, 10)
    assert knn_accuracies(train_z, train_y, test_z, test_y, neighbors) == \
        _sklearn_scores(train_z, train_y, test_z, test_y, neighbors)


@pytest.mark.parametrize("dims, candidates", [(3, 32), (10, 32), (10, 11), (12, 1000)])
def test_kd_tree_neighbours_equal_sklearn_kd_tree(dims, candidates):
    """The brute-force candidates re-ranked by the KD-tree's arithmetic give the KD-tree's own neighbours and
    order, also when few candidates leave most points to the KD-tree fallback (candidates=11, k=10)."""
    from sklearn.neighbors import KDTree

    from mimflow.core.metrics import kd_tree_neighbours

    rng = np.random.default_rng(dims)
    train = rng.standard_normal((3000, dims)).astype(np.float32) * rng.uniform(0.1, 3.0, dims).astype(np.float32)
    test = rng.standard_normal((500, dims)).astype(np.float32)
    found = kd_tree_neighbours(train, test, 10, candidates=candidates)
    assert np.array_equal(found, KDTree(train.astype(np.float64)).query(test.astype(np.float64), k=10,
                                                                         return_distance=False))


@pytest.mark.parametrize("dims, scale", [(2, 1.0), (6, 0.05), (6, 2.0)])
def test_count_within_equals_the_kd_tree_count(dims, scale):
    """Both counting ways (the all-pairs count is taken when hundreds of points fall in the radii, the
    second case) give cKDTree's counts, points exactly on a radius included."""
    from scipy.spatial import cKDTree

    from mimflow.core.metrics import _count_brute_force, count_within

    rng = np.random.default_rng(dims)
    points = np.round(rng.standard_normal((2000, dims)), 2) * scale  # a grid: many distances equal a radius
    radius = np.abs(points[rng.permutation(2000)] - points).max(1)
    expected = cKDTree(points).query_ball_point(points, radius, p=np.inf, return_length=True)
    assert np.array_equal(count_within(points, radius), expected)
    assert np.array_equal(_count_brute_force(points, radius), expected)


def test_mean_l2_error_hand_value():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert mean_l2_error(x, np.zeros_like(x)) == pytest.approx(2.5)
    # mean of per-vector norms (7.5), not an RMSE (5.59) nor a root mean squared norm (7.91)
    assert mean_l2_error(np.array([[3.0, 4.0], [6.0, 8.0]]), np.zeros((2, 2))) == pytest.approx(7.5)
