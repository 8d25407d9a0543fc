"""Building blocks of the image HVAEs (spec 6.3): log-densities, reparameterised sampling, gated and
masked layers, and the two Bernoulli decoders p(x|z1,z2).

Log-densities are summed over dimensions, in nats. Like the original, the Gaussian densities omit
the -1/2 log(2 pi) constant per dimension: it cancels in the ELBO and in importance weights because
p(z) and q(z|x) have the same dimensionality, but it means the Gaussian terms alone are not
normalised densities.
"""
from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..names import MASKED_CONV_GRADS

if TYPE_CHECKING:
    from .model import HVAEConfig

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


def full_precision(t: torch.Tensor) -> torch.Tensor:
    """float32 for a half/bfloat16 tensor (from bf16 autocast); any other tensor itself, unchanged."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None,
                   eps: torch.Tensor | None = None) -> torch.Tensor:
    """mean + exp(logvar / 2) * eps with eps ~ N(0, I) drawn from `generator`, or the given eps."""
    if eps is None:
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + (0.5 * logvar).exp() * eps


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

    grad_mode (fidelity.masked_conv_grad) decides what the masked weights' gradients are:
    - "original": zero the masked weights in place before each pass (the original's
      ``weight.data *= mask``). The forward is the same, but the masked positions still get gradients, and
      those count in AdamNormGrad's per-tensor gradient norm (the published training dynamics).
    - "masked": multiply by the mask inside the graph, so masked positions get exactly zero gradient.
    """

    def __init__(self, mask_type: str, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0, bias: bool = True, grad_mode: str = "original"):
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type {mask_type!r} is not one of ['A', 'B']")
        if grad_mode not in MASKED_CONV_GRADS:
            raise ValueError(f"masked_conv_grad {grad_mode!r} is not one of {list(MASKED_CONV_GRADS)}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self.mask_type = mask_type
        self.grad_mode = grad_mode
        k_h, k_w = self.kernel_size
        mask = torch.ones_like(self.weight)
        mask[:, :, k_h // 2, k_w // 2 + (mask_type == "B"):] = 0  # centre row: right of (or from) centre
        mask[:, :, k_h // 2 + 1:] = 0  # rows below the centre
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.grad_mode == "original":
            # Through .data, as the original: no version bump, so a second pass in the same graph (SymMIM's
            # prior path) does not invalidate the first one's saved weight.
            self.weight.data.mul_(self.mask)
            weight = self.weight
        else:
            weight = self.weight * self.mask
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


def he_init_linear(module: nn.Module) -> None:
    """N(0, 2 / fan_in) for the weights of every nn.Linear inside `module` (biases keep torch's init)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / m.in_features))


def gaussian_heads(in_features: int, out_features: int) -> tuple[nn.Module, nn.Module]:
    """Mean head (Linear) and log-variance head (Linear -> Hardtanh(-6, 2))."""
    return (nn.Linear(in_features, out_features),
            nn.Sequential(nn.Linear(in_features, out_features), nn.Hardtanh(LOGVAR_MIN, LOGVAR_MAX)))


def conv_feature_size(input_shape: tuple[int, int, int]) -> int:
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
                                    DECODER_CHANNELS, 3, 1, 1, bias=False, grad_mode=cfg.masked_conv_grad),
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
