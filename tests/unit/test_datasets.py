"""Image datasets and PCA Fashion-MNIST built from fixture files in the real formats."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from mimflow.data.augment import (
    AffineAugment,
    apply_affine,
    dequantize,
    inverse_affine_matrices,
    random_affine,
)
from mimflow.data.images import (
    build_dynamic_mnist_like,
    build_omniglot,
    read_idx_gz,
    read_mnist_like,
)
from mimflow.data.pca import PCASource, build_pca_dataset
from tests.fixture_data import class_images, idx_bytes, make_fixture_files


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    make_fixture_files(root)
    return root


def bar_label(image_784: np.ndarray, order: str = "C") -> int:
    """The fixture's class is the row of its bright bar (row = 2 + label)."""
    image = image_784.reshape(28, 28, order=order)
    return int(np.argmax(image[:, 4:24].mean(1)) - 2)


def test_idx_round_trip(tmp_path):
    images, _ = class_images(5, np.random.default_rng(0))
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images)))
    assert torch.equal(read_idx_gz(path), torch.from_numpy(images))


def test_dynamic_mnist_splits_and_fixed_binarisation(raw_root):
    data = build_dynamic_mnist_like(raw_root / "mnist", n_validation=20, binarize_seed=777)
    raw = read_mnist_like(raw_root / "mnist")
    assert data["x_train"].shape == (100, 784) and data["x_val"].shape == (20, 784) and data["x_test"].shape == (64, 784)
    assert torch.equal(data["x_train"], raw["train_images"].reshape(120, -1)[:100])
    assert torch.equal(data["y_val"], raw["train_labels"][100:])
    np.random.seed(777)  # the original's procedure, on the global legacy RNG
    grey = raw["train_images"].reshape(120, -1).numpy() / 255.0
    expected_val = np.random.binomial(1, grey[100:])
    expected_test = np.random.binomial(1, raw["test_images"].reshape(64, -1).numpy() / 255.0)
    assert np.array_equal(data["x_val"].numpy(), expected_val)
    assert np.array_equal(data["x_test"].numpy(), expected_test)
    with pytest.raises(ValueError, match="n_validation"):
        build_dynamic_mnist_like(raw_root / "mnist", n_validation=120, binarize_seed=777)


def test_omniglot_labels_stay_with_their_images(raw_root):
    data = build_omniglot(raw_root / "omniglot" / "chardata.mat", n_validation=10, binarize_seed=777, shuffle_seed=0)
    assert data["x_train"].shape == (70, 784) and data["x_val"].shape == (10, 784) and data["x_test"].shape == (40, 784)
    # pixels are in the original's Fortran-order layout: undo it to read the bar
    for x, y in zip(data["x_train"].numpy(), data["y_train"].numpy()):
        assert bar_label(x, order="F") == y - 1  # targetchar is 1-based in the fixture
    again = build_omniglot(raw_root / "omniglot" / "chardata.mat", 10, 777, 0)
    assert torch.equal(again["x_train"], data["x_train"]) and torch.equal(again["y_test"], data["y_test"])
    other = build_omniglot(raw_root / "omniglot" / "chardata.mat", 10, 777, 1)
    assert not torch.equal(other["y_train"], data["y_train"])


def test_batched_affine_equals_torchvision_per_image():
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    g = torch.Generator().manual_seed(0)
    n = 16
    images = (torch.rand(n, 28, 28, generator=g) * 255).to(torch.uint8)
    u = lambda lo, hi: torch.rand(n, generator=g, dtype=torch.float64) * (hi - lo) + lo  # noqa: E731
    angle, tx, ty, scale, shear = u(-10, 10), torch.round(u(-2.8, 2.8)), torch.round(u(-2.8, 2.8)), u(0.8, 1.2), u(-5, 5)
    ours = apply_affine(images, inverse_affine_matrices(angle, tx, ty, scale, shear, torch.zeros(n, dtype=torch.float64)))
    for i in range(n):
        ref = TF.affine(images[i:i + 1], angle=float(angle[i]), translate=[int(tx[i]), int(ty[i])], scale=float(scale[i]),
                        shear=[float(shear[i]), 0.0], interpolation=InterpolationMode.NEAREST, fill=0)[0]
        assert torch.equal(ours[i], ref), i


@pytest.mark.parametrize("geometry", ["torchvision-0.2.1", "tensor-affine"])
def test_random_affine_touches_about_half_and_dequantize_range(geometry):
    g = torch.Generator().manual_seed(1)
    images = (torch.rand(2000, 28, 28, generator=g) * 255).to(torch.uint8)
    out = random_affine(images, AffineAugment(geometry=geometry), g)
    changed = (out != images).flatten(1).any(1).float().mean().item()
    assert 0.4 < changed < 0.6
    deq = dequantize(images, g)
    assert deq.min() >= 1e-3 and deq.max() <= 1 - 1e-3
    assert torch.all((deq * 256 - images.float()).clamp(0, 1) >= 0)


def test_pca_fits(raw_root):
    from sklearn.decomposition import PCA

    raw = read_mnist_like(raw_root / "fashion_mnist")
    per_split = build_pca_dataset(raw, 20, "per_split")
    train_fit = build_pca_dataset(raw, 20, "train")
    modern = build_pca_dataset(raw, 20, "per_split", pca_sign="sklearn-1.9")
    assert (per_split["fit"], per_split["pca_sign"], per_split["affine_geometry"]) == (
        "per_split", "sklearn-0.21", "torchvision-0.2.1")
    pixels = raw["test_images"].reshape(256, -1).numpy().astype(np.float64)
    # fitted on pixels / data.max() as the original; applied to pixels / 255 (ToTensor)
    reference = PCA(n_components=20, svd_solver="full").fit(pixels / pixels.max()).transform(pixels / 255.0)
    assert np.allclose(modern["test_x"].numpy(), reference, atol=1e-4)  # scikit-learn 1.9's own signs
    # the 0.21 convention only mirrors whole coordinates
    signs = np.sign((per_split["test_x"] * modern["test_x"]).sum(0).numpy())
    assert np.allclose(per_split["test_x"].numpy(), reference * signs, atol=1e-4)
    assert torch.equal(per_split["train_basis"], train_fit["train_basis"])
    assert not torch.allclose(per_split["test_x"], train_fit["test_x"])
    source = PCASource(train_fit, batch_size=128)
    g = torch.Generator().manual_seed(0)
    x, y = source.train_pass(g)
    assert x.shape == (640, 20) and y.shape == (640,)
    xt, yt = source.test_pass(g)
    assert xt.shape == (256, 20)
    with pytest.raises(ValueError, match="pca_fit"):
        build_pca_dataset(raw, 20, "test")
    with pytest.raises(ValueError, match="pca_sign"):
        build_pca_dataset(raw, 20, "train", pca_sign="sklearn-0.20")
    with pytest.raises(ValueError, match="affine_geometry"):
        build_pca_dataset(raw, 20, "train", affine_geometry="pil")
