"""The two fidelity switches of PCA Fashion-MNIST: component signs (pca_sign) and the augmentation
geometry (affine_geometry), each against a hand computation of what the original's libraries did."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from mimflow.data.augment import (
    AffineAugment,
    apply_affine_pil,
    inverse_affine_matrices_v021,
    random_affine,
)
from mimflow.data.pca import align_signs, build_pca_dataset, fit_pca
from mimflow.lowdim.data import lowdim_source
from mimflow.lowdim.settings import LowdimRunConfig
from mimflow.workflow import lowdim_run_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# pca_sign


def skewed_images() -> np.ndarray:
    """(12, 2, 2) uint8 images whose two principal axes are (almost) pixels 0 and 1.

    Pixel 0 (large variance): eleven images at 120, one outlier at 0, so the loading of largest
    magnitude is positive for one sign and the score of largest magnitude (the outlier's) is negative.
    Pixel 1 (smaller variance): one outlier above the rest, so both rules pick the same sign.
    """
    x = np.zeros((12, 4))
    x[:, 0] = 120
    x[0, 0] = 0
    x[:, 1] = 40
    x[5, 1] = 80
    x[:, 2] = np.arange(12) % 2  # a little independent noise keeps the axes apart
    x[:, 3] = (np.arange(12) // 2) % 2
    return x.astype(np.uint8).reshape(12, 2, 2)


def svd_flip_u_by_hand(x: np.ndarray, k: int) -> np.ndarray:
    """Components with the sign scikit-learn 0.21 gives them: exact SVD of the centred data, then for every
    column of U the entry of largest magnitude (first on ties) is made positive, and the row of Vt with it."""
    centred = x - x.mean(0)
    u, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = vt[:k].copy()
    for j in range(k):
        column = list(u[:, j])
        i = max(range(len(column)), key=lambda r: (abs(column[r]), -r))  # largest |U|, first on ties
        if column[i] < 0:
            out[j] = -out[j]
    return out


def test_svd_flip_on_u_is_what_0_21_did_and_differs_from_1_9():
    from sklearn.decomposition import PCA

    images = skewed_images()
    x = images.reshape(12, -1).astype(np.float64) / images.max()
    expected = svd_flip_u_by_hand(x, 2)
    _, ours, _ = fit_pca(torch.from_numpy(images), 2, "sklearn-0.21")
    assert np.allclose(ours.numpy(), expected, atol=1e-6)
    # the outlier's score on the first component is positive under 0.21 ...
    assert ((x - x.mean(0)) @ ours.numpy().T)[0, 0] > 0 and ours[0, 0] < 0
    # ... while scikit-learn 1.9 makes the largest loading positive: the first component is mirrored
    modern = PCA(n_components=2, svd_solver="full").fit(x).components_
    _, ours_modern, _ = fit_pca(torch.from_numpy(images), 2, "sklearn-1.9")
    assert np.allclose(ours_modern.numpy(), modern, atol=1e-6)
    assert np.allclose(ours[0].numpy(), -modern[0], atol=1e-6)
    assert np.allclose(ours[1].numpy(), modern[1], atol=1e-6)


def test_align_signs_ignores_given_signs_and_follows_ties():
    components = np.array([[0.6, -0.8], [0.8, 0.6]])
    scores = np.array([[3.0, -1.0], [-3.0, 1.5], [1.0, -2.0]])
    # column 0: |3| ties between rows 0 and 1, the first (+3) decides; column 1: -2 (row 2) decides
    assert np.array_equal(align_signs(components, scores, "sklearn-0.21"), [1.0, -1.0])
    assert np.array_equal(align_signs(-components, -scores, "sklearn-0.21"), [-1.0, 1.0])
    assert np.array_equal(align_signs(components, scores, "sklearn-1.9"), [-1.0, 1.0])  # -0.8 and 0.8 lead
    with pytest.raises(ValueError, match="pca_sign"):
        align_signs(components, scores, "sklearn-0.20")


def test_0_21_randomized_solver_agrees_with_exact_components():
    """0.21 used randomized_svd (n_iter 7, 10 oversamples, LU, U-based flip) for this shape of problem;
    on data with a decaying spectrum it gives the exact components with the same signs."""
    from sklearn.utils.extmath import randomized_svd

    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((64, 64)))[0][:30]
    x = (rng.standard_normal((800, 30)) * (40.0 / (1 + np.arange(30)))) @ basis + 100
    images = np.clip(np.round(x), 0, 255).astype(np.uint8).reshape(800, 8, 8)
    data = images.reshape(800, -1).astype(np.float32) / images.max()
    _, _, vt = randomized_svd(data - data.mean(0), 5, n_oversamples=10, n_iter=7, power_iteration_normalizer="LU",
                              transpose=False, flip_sign=True, random_state=0)
    _, ours, _ = fit_pca(torch.from_numpy(images), 5, "sklearn-0.21")
    assert np.allclose(ours.numpy(), vt, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# affine_geometry


def inverse_matrix_0_2_1(angle, translate, scale, shear, size=(28, 28)):
    """torchvision 0.2.1's inverse affine matrix for PIL, worked out by hand.

    Forward map about the centre C = (w/2 + 0.5, h/2 + 0.5): p -> C + T + scale * R (p - C) with
    R = [[cos t, -sin(t + s)], [sin t, cos(t + s)]] (t rotation, s shear, radians). Its inverse
    is p -> C + R^-1 (p - C - T) / scale, R^-1 = [[cos(t + s), sin(t + s)], [-sin t, cos t]] / det R.
    """
    t, s = math.radians(angle), math.radians(shear)
    det = math.cos(t) * math.cos(t + s) + math.sin(t) * math.sin(t + s)
    k = 1.0 / scale / det
    a, b, d, e = k * math.cos(t + s), k * math.sin(t + s), -k * math.sin(t), k * math.cos(t)
    cx, cy = size[0] * 0.5 + 0.5, size[1] * 0.5 + 0.5
    ox, oy = -cx - translate[0], -cy - translate[1]
    return [a, b, a * ox + b * oy + cx, d, e, d * ox + e * oy + cy]


PARAMETERS = [  # angle, (tx, ty), scale, shear
    (7.3, (2.0, -1.0), 1.13, -3.9),
    (-9.5, (0.0, 3.0), 0.83, 4.6),
    (0.0, (-2.0, 2.0), 0.9, 0.0),  # no rotation: Pillow's floating-point scaling path
    (4.0, (1.0, 1.0), 1.0, -4.0),  # shear cancels the angle in the first row only
    (2.5, (0.0, 0.0), 1.19, 5.0),
]


@pytest.mark.parametrize("angle, translate, scale, shear", PARAMETERS)
def test_0_2_1_geometry_equals_pil_pixel_for_pixel(angle, translate, scale, shear):
    rng = np.random.default_rng(int(abs(angle) * 10))
    images = rng.integers(1, 256, (6, 28, 28), dtype=np.uint8)
    expected_matrix = inverse_matrix_0_2_1(angle, translate, scale, shear)
    as_tensor = lambda v: torch.full((6,), float(v), dtype=torch.float64)  # noqa: E731
    data = inverse_affine_matrices_v021(as_tensor(angle), as_tensor(translate[0]), as_tensor(translate[1]),
                                        as_tensor(scale), as_tensor(shear), 28, 28)
    assert np.allclose(data.numpy(), np.array(expected_matrix)[None], rtol=0, atol=1e-12)
    ours = apply_affine_pil(torch.from_numpy(images), data).numpy()
    for image, out in zip(images, ours):
        reference = Image.fromarray(image, mode="L").transform((28, 28), Image.AFFINE, expected_matrix, Image.NEAREST)
        assert np.array_equal(out, np.asarray(reference))


def test_pil_sampling_is_fixed_point_not_float_floor():
    """Pillow samples with 16.16 fixed-point coefficients: flooring the exact float coordinates of the pixel
    centres differs from it for some pixels, so the fixed-point path is what reproduces PIL."""
    rng = np.random.default_rng(5)
    found = False
    for _ in range(300):
        angle, scale, shear = rng.uniform(-10, 10), rng.uniform(0.8, 1.2), rng.uniform(-5, 5)
        translate = (float(np.round(rng.uniform(-2.8, 2.8))), float(np.round(rng.uniform(-2.8, 2.8))))
        m = inverse_matrix_0_2_1(angle, translate, scale, shear)
        y, x = np.mgrid[0:28, 0:28] + 0.5
        col, row = np.floor(m[0] * x + m[1] * y + m[2]), np.floor(m[3] * x + m[4] * y + m[5])
        image = rng.integers(1, 256, (28, 28), dtype=np.uint8)
        inside = (col >= 0) & (col < 28) & (row >= 0) & (row < 28)
        naive = np.where(inside, image[row.clip(0, 27).astype(int), col.clip(0, 27).astype(int)], 0)
        pil = np.asarray(Image.fromarray(image, mode="L").transform((28, 28), Image.AFFINE, m, Image.NEAREST))
        t = lambda v: torch.tensor([float(v)], dtype=torch.float64)  # noqa: E731
        data = inverse_affine_matrices_v021(t(angle), t(translate[0]), t(translate[1]), t(scale), t(shear), 28, 28)
        assert np.array_equal(apply_affine_pil(torch.from_numpy(image[None]), data)[0].numpy(), pil)
        found = found or not np.array_equal(naive, pil)
    assert found


def test_geometries_differ_and_share_the_random_draws():
    g = torch.Generator().manual_seed(3)
    images = (torch.rand(64, 28, 28, generator=g) * 255).to(torch.uint8)
    old = random_affine(images, AffineAugment(geometry="torchvision-0.2.1"), torch.Generator().manual_seed(0))
    new = random_affine(images, AffineAugment(geometry="tensor-affine"), torch.Generator().manual_seed(0))
    same = (old == images).flatten(1).all(1)
    assert torch.equal(same, (new == images).flatten(1).all(1))  # the same images are left alone
    assert not torch.equal(old, new)
    with pytest.raises(ValueError, match="affine_geometry"):
        AffineAugment(geometry="pil")


# ---------------------------------------------------------------------------------------------
# wiring: the built file records the switches, a run checks them, settings carry them for PCA runs only


def test_pca_file_switches_are_checked(tmp_path):
    rng = np.random.default_rng(0)
    raw = {"train_images": torch.from_numpy(rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)),
           "train_labels": torch.from_numpy(rng.integers(0, 10, 300)),
           "test_images": torch.from_numpy(rng.integers(0, 256, (130, 28, 28), dtype=np.uint8)),
           "test_labels": torch.from_numpy(rng.integers(0, 10, 130))}
    path = tmp_path / "pca.pt"
    torch.save(build_pca_dataset(raw, 4, "per_split", "sklearn-0.21", "tensor-affine"), path)
    base = dict(dataset="pca-fashion-mnist4", model="mim", z_dim=2, mid_dim=5, seed=1, pca_fit="per_split")
    source = lowdim_source(LowdimRunConfig(**base, affine_geometry="tensor-affine"), path)
    assert source.augment.geometry == "tensor-affine"
    with pytest.raises(ValueError, match="affine_geometry"):
        lowdim_source(LowdimRunConfig(**base), path)
    with pytest.raises(ValueError, match="pca_sign"):
        lowdim_source(LowdimRunConfig(**base, pca_sign="sklearn-1.9", affine_geometry="tensor-affine"), path)
    with pytest.raises(ValueError, match="pca_sign"):
        LowdimRunConfig(**base, pca_sign="sklearn-0.20")


def test_run_settings_carry_the_switches_for_pca_runs_only():
    config = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    assert (config["fidelity"]["pca_sign"], config["fidelity"]["affine_geometry"]) == (
        LowdimRunConfig.pca_sign, LowdimRunConfig.affine_geometry)
    pca = lowdim_run_settings(config, "bottleneck_fmnist20", "pca-fashion-mnist20", "mim", 2, 50, 1)
    assert (pca["pca_sign"], pca["affine_geometry"]) == ("sklearn-0.21", "torchvision-0.2.1")
    toy = lowdim_run_settings(config, "toy2d", "toy4", "mim", 2, 5, 1)
    assert "pca_sign" not in toy and "affine_geometry" not in toy
    changed = copy.deepcopy(config)
    changed["fidelity"].update(pca_sign="sklearn-1.9", affine_geometry="tensor-affine")
    assert lowdim_run_settings(changed, "toy2d", "toy4", "mim", 2, 5, 1) == toy
    other = lowdim_run_settings(changed, "bottleneck_fmnist20", "pca-fashion-mnist20", "mim", 2, 50, 1)
    assert (other["pca_sign"], other["affine_geometry"]) == ("sklearn-1.9", "tensor-affine")
    LowdimRunConfig.from_dict(other)


# ---------------------------------------------------------------------------------------------
# the training pass: chunked, and on a device, with the numbers of the whole-pass expression


def fake_pca_data(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
    basis = torch.from_numpy(rng.standard_normal((5, 784)).astype(np.float32))
    return {"train_images": images, "train_labels": torch.arange(n) % 10, "train_mean": images.float().mean((0,)).reshape(-1) / 255,
            "train_basis": basis, "test_x": torch.zeros(10, 5), "test_labels": torch.zeros(10, dtype=torch.int64)}


@pytest.fixture
def one_thread():
    """Training jobs run on one thread (rules/lowdim.smk); BLAS may split a product by rows otherwise."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("n, chunk", [(300, 1024), (1000, 128), (2000, 512)])
def test_chunked_projection_equals_the_whole_pass_expression(n, chunk, one_thread):
    """Row blocks of 16 or more keep each row's sums on one thread (measured: 1-15 rows round otherwise);
    a pass is 58 blocks of 1,024 rows and one of 512."""
    from mimflow.data.augment import dequantize
    from mimflow.data.pca import project_dequantized

    data = fake_pca_data(n)
    ours, theirs = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    chunked = project_dequantized(data["train_images"], ours, data["train_mean"], data["train_basis"], chunk=chunk)
    pixels = dequantize(data["train_images"], theirs).reshape(n, -1)
    assert torch.equal(chunked, (pixels - data["train_mean"]) @ data["train_basis"].T)
    assert torch.equal(ours.get_state(), theirs.get_state())  # the same draws, no more


@pytest.mark.parametrize("geometry", ["torchvision-0.2.1", "tensor-affine"])
def test_a_pass_on_a_device_is_the_pass_on_the_cpu(geometry):
    """on_device moves the images, not the draws: the same generator gives the same pass (on a GPU, up to
    the projection's rounding; bench/gpu_check.sh --pca compares there)."""
    from mimflow.data.pca import PCASource

    source = PCASource(fake_pca_data(640), batch_size=128, augment=AffineAugment(geometry=geometry))
    moved = source.on_device("cpu")
    for seed in (1, 2):
        x, y = source.train_pass(torch.Generator().manual_seed(seed))
        x_moved, y_moved = moved.train_pass(torch.Generator().manual_seed(seed))
        assert torch.equal(x, x_moved) and torch.equal(y, y_moved)
