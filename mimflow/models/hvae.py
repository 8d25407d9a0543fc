"""Two-level hierarchical VAEs of the image experiments (spec 6.3): convHVAE and PixelHVAE.

Both models share the encoders q(z2|x), q(z1|x,z2), the prior p(z1|z2) and the top prior p(z2)
(standard normal or VampPrior); they differ only in the Bernoulli decoder p(x|z1,z2).

Images travel as flat (B, C*H*W) tensors in [0, 1], binary for data, grey for pseudo-inputs and
for decoder means. Every random draw takes an explicit ``generator`` (None = torch's global RNG),
so a run is a pure function of its seeds.

Log-densities are summed over dimensions, in nats. Like the original, the Gaussian densities omit
the -1/2 log(2 pi) constant per dimension: it cancels in the ELBO and in importance weights because
p(z) and q(z|x) have the same dimensionality, but it means the Gaussian terms alone are not
normalised densities.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

ARCHS = ("convhvae_2level", "pixelhvae_2level")
PRIORS = ("standard", "vampprior")
LOGVAR_MIN, LOGVAR_MAX = -6.0, 2.0  # Hardtanh on every Gaussian log-variance head
BERNOULLI_EPS = 1e-5  # probabilities are clamped to [eps, 1 - eps] inside log p(x|z)
HIDDEN = 300  # width of the dense layers
DECODER_CHANNELS = 64  # channels of the conv decoder and of the PixelCNN
PIXEL_LAYERS = 8  # masked convolutions: one type 'A', then type 'B'


# ---------------------------------------------------------------------------------------------
# Densities (summed over `dim`; Gaussians without the -1/2 log 2 pi constant)
# ---------------------------------------------------------------------------------------------

def log_normal_diag(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log N(x; mean, diag(exp(logvar))) + D/2 log(2 pi)."""
    return (-0.5 * (logvar + (x - mean).pow(2) / logvar.exp())).sum(dim)


def log_normal_standard(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log N(x; 0, I) + D/2 log(2 pi)."""
    return (-0.5 * x.pow(2)).sum(dim)


def log_bernoulli(x: torch.Tensor, probs: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Bernoulli log-likelihood of x (binary or grey) under clamped probabilities."""
    p = probs.clamp(BERNOULLI_EPS, 1.0 - BERNOULLI_EPS)
    return (x * p.log() + (1.0 - x) * (1.0 - p).log()).sum(dim)


def reparameterize(mean: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """mean + exp(logvar / 2) * eps with eps ~ N(0, I) drawn from `generator`."""
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + (0.5 * logvar).exp() * eps


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HVAEConfig:
    arch: str
    prior: str
    z1_size: int = 40
    z2_size: int = 40
    number_components: int = 500  # K pseudo-inputs of the VampPrior
    input_shape: tuple[int, int, int] = (1, 28, 28)
    pseudoinputs_mean: float = 0.05  # random init N(mean, std^2) when not initialised from data
    pseudoinputs_std: float = 0.01

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch {self.arch!r} is not one of {list(ARCHS)}")
        if self.prior not in PRIORS:
            raise ValueError(f"prior {self.prior!r} is not one of {list(PRIORS)}")
        for name in ("z1_size", "z2_size", "number_components"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        shape = tuple(self.input_shape)
        if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
            raise ValueError(f"input_shape must be three positive ints (C, H, W), got {self.input_shape!r}")
        object.__setattr__(self, "input_shape", shape)  # accept lists, store a hashable tuple
        if not self.pseudoinputs_std >= 0:
            raise ValueError(f"pseudoinputs_std must be >= 0, got {self.pseudoinputs_std!r}")

    @property
    def x_dim(self) -> int:
        c, h, w = self.input_shape
        return c * h * w


# ---------------------------------------------------------------------------------------------
# Building blocks (shared by both models)
# ---------------------------------------------------------------------------------------------

class GatedDense(nn.Module):
    """h(x) * sigmoid(g(x)) with two Linear maps."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.h = nn.Linear(in_features, out_features)
        self.g = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.h(x) * torch.sigmoid(self.g(x))


class GatedConv2d(nn.Module):
    """h(x) * sigmoid(g(x)) with two Conv2d maps."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.h = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.g = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.h(x) * torch.sigmoid(self.g(x))


class MaskedConv2d(nn.Conv2d):
    """PixelCNN convolution: the output at a pixel sees only earlier pixels in raster order.

    Type 'A' also hides the centre pixel (first layer: no pixel sees itself); type 'B' keeps it.
    The mask acts on all input channels alike, as in the original (no colour ordering).
    """

    def __init__(self, mask_type: str, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0, bias: bool = True):
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type {mask_type!r} is not one of ['A', 'B']")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self.mask_type = mask_type
        k_h, k_w = self.kernel_size
        mask = torch.ones_like(self.weight)
        mask[:, :, k_h // 2, k_w // 2 + (mask_type == "B"):] = 0  # centre row: right of (or from) centre
        mask[:, :, k_h // 2 + 1:] = 0  # rows below the centre
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Masking the weight in the graph (not in place) also keeps masked entries' gradients at zero.
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding, self.dilation, self.groups)


def he_init_linear(module: nn.Module) -> None:
    """N(0, 2 / fan_in) for the weights of every nn.Linear inside `module` (biases keep torch's init)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / m.in_features))


def _gaussian_heads(in_features: int, out_features: int) -> tuple[nn.Module, nn.Module]:
    """Mean head (Linear) and log-variance head (Linear -> Hardtanh(-6, 2))."""
    return (nn.Linear(in_features, out_features),
            nn.Sequential(nn.Linear(in_features, out_features), nn.Hardtanh(LOGVAR_MIN, LOGVAR_MAX)))


def _conv_feature_size(input_shape: tuple[int, int, int]) -> int:
    """Flattened size of the encoders' conv output: 6 channels after two stride-2 layers (294 for 28x28)."""
    _, h, w = input_shape
    for _ in range(2):
        h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    return 6 * h * w


@contextlib.contextmanager
def batchnorm_eval(module: nn.Module) -> Iterator[None]:
    """Temporarily put every BatchNorm of `module` in eval mode (restored on exit)."""
    norms = [m for m in module.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))]
    modes = [m.training for m in norms]
    try:
        for m in norms:
            m.eval()
        yield
    finally:
        for m, mode in zip(norms, modes):
            m.train(mode)


# ---------------------------------------------------------------------------------------------
# Decoders p(x | z1, z2)
# ---------------------------------------------------------------------------------------------

class ConvDecoder(nn.Module):
    """Dense maps of z1 and z2 -> a C x H x W map -> 4 gated convs -> 1x1 conv -> sigmoid."""

    def __init__(self, cfg: HVAEConfig):
        super().__init__()
        c = cfg.input_shape[0]
        self.input_shape = cfg.input_shape
        self.z1_layers = GatedDense(cfg.z1_size, HIDDEN)
        self.z2_layers = GatedDense(cfg.z2_size, HIDDEN)
        self.joint = GatedDense(2 * HIDDEN, cfg.x_dim)
        self.convs = nn.Sequential(
            GatedConv2d(c, DECODER_CHANNELS, 3, 1, 1),
            *[GatedConv2d(DECODER_CHANNELS, DECODER_CHANNELS, 3, 1, 1) for _ in range(3)],
        )
        self.out = nn.Conv2d(DECODER_CHANNELS, c, 1)

    def forward(self, x_img: torch.Tensor | None, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Bernoulli means, shape (B, C, H, W); x_img is ignored (no autoregression)."""
        h = self.joint(torch.cat([self.z1_layers(z1), self.z2_layers(z2)], dim=1))
        h = self.convs(h.view(-1, *self.input_shape))
        return torch.sigmoid(self.out(h))


class PixelCNNDecoder(nn.Module):
    """z1, z2 -> one C x H x W map each, stacked with x -> 8 masked convs (+BN, ReLU) -> 1x1 conv -> sigmoid."""

    def __init__(self, cfg: HVAEConfig):
        super().__init__()
        c = cfg.input_shape[0]
        self.input_shape = cfg.input_shape
        self.z1_map = GatedDense(cfg.z1_size, cfg.x_dim)
        self.z2_map = GatedDense(cfg.z2_size, cfg.x_dim)
        layers: list[nn.Module] = []
        for i in range(PIXEL_LAYERS):
            layers += [MaskedConv2d("A" if i == 0 else "B", 3 * c if i == 0 else DECODER_CHANNELS,
                                    DECODER_CHANNELS, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(DECODER_CHANNELS), nn.ReLU()]
        self.pixelcnn = nn.Sequential(*layers)
        self.out = nn.Conv2d(DECODER_CHANNELS, c, 1)

    def z_maps(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """The two latent channels-blocks that condition every pixel, shape (B, 2C, H, W)."""
        return torch.cat([self.z1_map(z1).view(-1, *self.input_shape),
                          self.z2_map(z2).view(-1, *self.input_shape)], dim=1)

    def probs_from_maps(self, x_img: torch.Tensor, zmaps: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.pixelcnn(torch.cat([x_img, zmaps], dim=1))))

    def forward(self, x_img: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Bernoulli means p(x_i | x_<i, z1, z2) for all pixels at once (teacher forcing)."""
        return self.probs_from_maps(x_img, self.z_maps(z1, z2))

    def probs_at(self, x_img: torch.Tensor, zmaps: torch.Tensor, row: int, col: int) -> torch.Tensor:
        """p(x[row, col] | earlier pixels, z), shape (B, C), from a window around the pixel.

        Exact and cheaper than a full pass: after L masked 3x3 layers a pixel sees at most L rows up
        and L columns either side, and the wrong values that zero padding creates at an inner window
        edge move inwards by one pixel per layer, so they stop just short of (row, col). Requires
        per-pixel normalisation, i.e. BatchNorm in eval mode.
        """
        _, h, w = self.input_shape
        r0 = max(0, row - PIXEL_LAYERS)
        c0, c1 = max(0, col - PIXEL_LAYERS), min(w, col + PIXEL_LAYERS + 1)
        window = self.probs_from_maps(x_img[:, :, r0:row + 1, c0:c1], zmaps[:, :, r0:row + 1, c0:c1])
        return window[:, :, row - r0, col - c0]

    @torch.no_grad()
    def sample(self, z1: torch.Tensor, z2: torch.Tensor,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Autoregressive Bernoulli sample in raster order; returns (binary sample, final-step probs).

        The final-step probabilities are p(x_i | sampled x_<i, z) for every pixel, i.e. what the
        original's last sampling step returns. BatchNorm runs in eval mode here so that sampling is
        causal and the running statistics are not updated by partially drawn images.
        """
        zmaps = self.z_maps(z1, z2)
        c, h, w = self.input_shape
        x = torch.zeros(zmaps.shape[0], c, h, w, dtype=zmaps.dtype, device=zmaps.device)
        with batchnorm_eval(self):
            for row in range(h):
                for col in range(w):
                    x[:, :, row, col] = torch.bernoulli(self.probs_at(x, zmaps, row, col), generator=generator)
            probs = self.probs_from_maps(x, zmaps)
        return x, probs


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------

class HVAE2Level(nn.Module):
    """Shared encoders and priors of the two-level HVAE; subclasses choose the decoder."""

    def __init__(self, cfg: HVAEConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.input_shape[0]
        feat = _conv_feature_size(cfg.input_shape)

        # q(z2 | x)
        self.q_z2_layers = nn.Sequential(
            GatedConv2d(c, 32, 7, 1, 3), GatedConv2d(32, 32, 3, 2, 1), GatedConv2d(32, 64, 5, 1, 2),
            GatedConv2d(64, 64, 3, 2, 1), GatedConv2d(64, 6, 3, 1, 1))
        self.q_z2_mean, self.q_z2_logvar = _gaussian_heads(feat, cfg.z2_size)

        # q(z1 | x, z2)
        self.q_z1_layers_x = nn.Sequential(
            GatedConv2d(c, 32, 3, 1, 1), GatedConv2d(32, 32, 3, 2, 1), GatedConv2d(32, 64, 3, 1, 1),
            GatedConv2d(64, 64, 3, 2, 1), GatedConv2d(64, 6, 3, 1, 1))
        self.q_z1_layers_z2 = GatedDense(cfg.z2_size, feat)
        self.q_z1_layers_joint = GatedDense(2 * feat, HIDDEN)
        self.q_z1_mean, self.q_z1_logvar = _gaussian_heads(HIDDEN, cfg.z1_size)

        # p(z1 | z2)
        self.p_z1_layers = nn.Sequential(GatedDense(cfg.z2_size, HIDDEN), GatedDense(HIDDEN, HIDDEN))
        self.p_z1_mean, self.p_z1_logvar = _gaussian_heads(HIDDEN, cfg.z1_size)

        # p(x | z1, z2)
        self.decoder = self.make_decoder(cfg)

        he_init_linear(self)

        # VampPrior pseudo-inputs: the weight of a bias-free Linear(K -> x_dim), created after the He
        # init so that it keeps its own N(pseudoinputs_mean, pseudoinputs_std^2) init.
        self.pseudoinput_layer: nn.Linear | None = None
        if cfg.prior == "vampprior":
            self.pseudoinput_layer = nn.Linear(cfg.number_components, cfg.x_dim, bias=False)
            nn.init.normal_(self.pseudoinput_layer.weight, cfg.pseudoinputs_mean, cfg.pseudoinputs_std)

    def make_decoder(self, cfg: HVAEConfig) -> nn.Module:
        raise NotImplementedError

    # -- shapes --------------------------------------------------------------------------------
    def _as_image(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, *self.cfg.input_shape)

    # -- encoders and conditional prior ----------------------------------------------------------
    def q_z2_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, logvar) of q(z2|x) for flat images x."""
        h = self.q_z2_layers(self._as_image(x)).flatten(1)
        return self.q_z2_mean(h), self.q_z2_logvar(h)

    def q_z1_params(self, x: torch.Tensor, z2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, logvar) of q(z1|x, z2)."""
        hx = self.q_z1_layers_x(self._as_image(x)).flatten(1)
        h = self.q_z1_layers_joint(torch.cat([hx, self.q_z1_layers_z2(z2)], dim=1))
        return self.q_z1_mean(h), self.q_z1_logvar(h)

    def p_z1_params(self, z2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, logvar) of p(z1|z2)."""
        h = self.p_z1_layers(z2)
        return self.p_z1_mean(h), self.p_z1_logvar(h)

    # -- pseudo-inputs and p(z2) ---------------------------------------------------------------
    def _require_vampprior(self) -> nn.Linear:
        if self.pseudoinput_layer is None:
            raise ValueError(f"pseudo-inputs exist only for prior 'vampprior', this model has {self.cfg.prior!r}")
        return self.pseudoinput_layer

    def pseudoinputs(self) -> torch.Tensor:
        """The K pseudo-inputs u_k, shape (K, x_dim), in [0, 1] (Hardtanh(0, 1))."""
        # Linear(K -> x_dim) applied to the K x K identity is exactly its transposed weight.
        return F.hardtanh(self._require_vampprior().weight.t(), 0.0, 1.0)

    @torch.no_grad()
    def init_pseudoinputs(self, train_images: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """The original's use_training_data_init: first K (grey) training images + N(0, std^2) noise."""
        layer = self._require_vampprior()
        k, x_dim = self.cfg.number_components, self.cfg.x_dim
        if train_images.dim() != 2 or train_images.shape[1] != x_dim or train_images.shape[0] < k:
            raise ValueError(f"train_images must have shape (N >= {k}, {x_dim}), got {tuple(train_images.shape)}")
        first = train_images[:k]
        # noise on the images' device (where a CPU generator usually lives), then moved to the weight
        noise = torch.randn(first.shape, generator=generator, dtype=first.dtype, device=first.device)
        layer.weight.copy_((first + self.cfg.pseudoinputs_std * noise).t().to(layer.weight))

    def log_p_z2(self, z2: torch.Tensor) -> torch.Tensor:
        """log p(z2), shape (B,): N(0, I), or the VampPrior (1/K) sum_k q(z2 | u_k) (via logsumexp)."""
        if self.cfg.prior == "standard":
            return log_normal_standard(z2)
        means, logvars = self.q_z2_params(self.pseudoinputs())  # (K, z2_size) each
        log_components = log_normal_diag(z2.unsqueeze(1), means.unsqueeze(0), logvars.unsqueeze(0))  # (B, K)
        return torch.logsumexp(log_components, dim=1) - math.log(self.cfg.number_components)

    # -- passes --------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """z2 ~ q(z2|x), z1 ~ q(z1|x, z2) (reparameterised, z2 drawn first) and p(z1|z2) at that z2."""
        z2_q_mean, z2_q_logvar = self.q_z2_params(x)
        z2_q = reparameterize(z2_q_mean, z2_q_logvar, generator)
        z1_q_mean, z1_q_logvar = self.q_z1_params(x, z2_q)
        z1_q = reparameterize(z1_q_mean, z1_q_logvar, generator)
        z1_p_mean, z1_p_logvar = self.p_z1_params(z2_q)
        return dict(z1_q=z1_q, z1_q_mean=z1_q_mean, z1_q_logvar=z1_q_logvar,
                    z2_q=z2_q, z2_q_mean=z2_q_mean, z2_q_logvar=z2_q_logvar,
                    z1_p_mean=z1_p_mean, z1_p_logvar=z1_p_logvar)

    def decode_probs(self, x: torch.Tensor | None, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Bernoulli means of p(x|z1, z2), shape (B, x_dim); the pixel decoder conditions on x."""
        x_img = None if x is None else self._as_image(x)
        return self.decoder(x_img, z1, z2).flatten(1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        out = self.encode(x, generator)
        out["x_mean"] = self.decode_probs(x, out["z1_q"], out["z2_q"])
        return out

    # -- sampling ------------------------------------------------------------------------------
    def sample_prior_z(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(z1, z2) with z2 ~ p(z2), z1 ~ p(z1|z2), reparameterised (gradients flow).

        VampPrior: z2 ~ q(z2 | u_k) for the FIRST n pseudo-inputs, one each (the original's
        deterministic subset, not a draw of mixture components), so n <= K.
        """
        if self.cfg.prior == "standard":
            ref = self.p_z1_mean.weight
            z2 = torch.randn(n, self.cfg.z2_size, generator=generator, dtype=ref.dtype, device=ref.device)
        else:
            if not 1 <= n <= self.cfg.number_components:
                raise ValueError(f"VampPrior sampling uses the first n pseudo-inputs: need 1 <= n <= "
                                 f"{self.cfg.number_components}, got n={n}")
            z2 = reparameterize(*self.q_z2_params(self.pseudoinputs()[:n]), generator)
        z1 = reparameterize(*self.p_z1_params(z2), generator)
        return z1, z2

    def sample_x_given_z(self, z1: torch.Tensor, z2: torch.Tensor,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        """Image probabilities (B, x_dim) for given latents: decoder mean (conv) / final-step PixelCNN probs."""
        raise NotImplementedError

    def generate_x(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images (probabilities, (n, x_dim)) from the prior, as the original's generate_x."""
        z1, z2 = self.sample_prior_z(n, generator)
        return self.sample_x_given_z(z1, z2, generator)

    def reconstruct_x(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Probabilities (B, x_dim) given z sampled from the encoder."""
        out = self.encode(x, generator)
        return self.sample_x_given_z(out["z1_q"], out["z2_q"], generator)


class ConvHVAE2Level(HVAE2Level):
    """convHVAE: a non-autoregressive conv decoder."""

    def make_decoder(self, cfg: HVAEConfig) -> nn.Module:
        return ConvDecoder(cfg)

    def sample_x_given_z(self, z1: torch.Tensor, z2: torch.Tensor,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        return self.decode_probs(None, z1, z2)


class PixelHVAE2Level(HVAE2Level):
    """PixelHVAE: a PixelCNN decoder conditioned on z1 and z2."""

    def make_decoder(self, cfg: HVAEConfig) -> nn.Module:
        return PixelCNNDecoder(cfg)

    def sample_x_given_z(self, z1: torch.Tensor, z2: torch.Tensor,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        """Autoregressive Bernoulli sampling; returns the final-step probabilities (no gradient)."""
        _, probs = self.decoder.sample(z1, z2, generator)
        return probs.flatten(1)


def build_hvae(cfg: HVAEConfig) -> HVAE2Level:
    """The model named by cfg.arch."""
    models = {"convhvae_2level": ConvHVAE2Level, "pixelhvae_2level": PixelHVAE2Level}
    return models[cfg.arch](cfg)
