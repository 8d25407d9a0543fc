"""Two-level hierarchical VAEs of the image experiments (spec 6.3): convHVAE and PixelHVAE.

Both models share the encoders q(z2|x), q(z1|x,z2), the prior p(z1|z2) and the top prior p(z2)
(standard normal or VampPrior); they differ only in the Bernoulli decoder p(x|z1,z2) (layers.py).

Images travel as flat (B, C*H*W) tensors in [0, 1], binary for data, grey for pseudo-inputs and
for decoder means. Every random draw takes an explicit ``generator`` (None = torch's global RNG),
so a run is a pure function of its seeds.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..core.checkpoint import load_checkpoint
from ..core.settings import check_choice
from ..names import ARCHS, MASKED_CONV_GRADS, PRIORS
from .data import ImageData, load_image_data
from .layers import (
    HIDDEN,
    ConvDecoder,
    GatedConv2d,
    GatedDense,
    PixelCNNDecoder,
    conv_feature_size,
    full_precision,
    gaussian_heads,
    he_init_linear,
    log_normal_diag,
    log_normal_standard,
    reparameterize,
)
from .settings import ImageRunConfig


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
    masked_conv_grad: str = "original"  # PixelCNN masked-weight gradients (layers.MaskedConv2d)

    def __post_init__(self) -> None:
        check_choice("arch", self.arch, ARCHS)
        check_choice("masked_conv_grad", self.masked_conv_grad, MASKED_CONV_GRADS)
        check_choice("prior", self.prior, PRIORS)
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
# The model
# ---------------------------------------------------------------------------------------------

class HVAE2Level(nn.Module):
    """Shared encoders and priors of the two-level HVAE; subclasses choose the decoder."""

    def __init__(self, cfg: HVAEConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.input_shape[0]
        feat = conv_feature_size(cfg.input_shape)

        # q(z2 | x)
        self.q_z2_layers = nn.Sequential(
            GatedConv2d(c, 32, 7, 1, 3), GatedConv2d(32, 32, 3, 2, 1), GatedConv2d(32, 64, 5, 1, 2),
            GatedConv2d(64, 64, 3, 2, 1), GatedConv2d(64, 6, 3, 1, 1))
        self.q_z2_mean, self.q_z2_logvar = gaussian_heads(feat, cfg.z2_size)

        # q(z1 | x, z2)
        self.q_z1_layers_x = nn.Sequential(
            GatedConv2d(c, 32, 3, 1, 1), GatedConv2d(32, 32, 3, 2, 1), GatedConv2d(32, 64, 3, 1, 1),
            GatedConv2d(64, 64, 3, 2, 1), GatedConv2d(64, 6, 3, 1, 1))
        self.q_z1_layers_z2 = GatedDense(cfg.z2_size, feat)
        self.q_z1_layers_joint = GatedDense(2 * feat, HIDDEN)
        self.q_z1_mean, self.q_z1_logvar = gaussian_heads(HIDDEN, cfg.z1_size)

        # p(z1 | z2)
        self.p_z1_layers = nn.Sequential(GatedDense(cfg.z2_size, HIDDEN), GatedDense(HIDDEN, HIDDEN))
        self.p_z1_mean, self.p_z1_logvar = gaussian_heads(HIDDEN, cfg.z1_size)

        # p(x | z1, z2)
        self.decoder = self.make_decoder(cfg)

        he_init_linear(self)

        # VampPrior pseudo-inputs: the weight of a bias-free Linear(K -> x_dim), created after the He
        # init so that it keeps its own N(pseudoinputs_mean, pseudoinputs_std^2) init.
        self._prior_components: tuple[torch.Tensor, torch.Tensor] | None = None  # set by fixed_prior()
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

    @contextlib.contextmanager
    def fixed_prior(self) -> Iterator[None]:
        """Inside: the VampPrior's components q(z2 | u_k) are computed once, without gradient, and reused by
        every log p(z2) (evaluation, where the pseudo-inputs do not change; the same numbers, K fewer encodings
        per pass). A no-op for the standard prior."""
        if self.cfg.prior == "standard":
            yield
            return
        with torch.no_grad():
            self._prior_components = self.q_z2_params(self.pseudoinputs())
        try:
            yield
        finally:
            self._prior_components = None

    def log_p_z2(self, z2: torch.Tensor) -> torch.Tensor:
        """log p(z2), shape (B,): N(0, I), or the VampPrior (1/K) sum_k q(z2 | u_k) (a log-sum-exp)."""
        if self.cfg.prior == "standard":
            return log_normal_standard(full_precision(z2))
        means, logvars = self._prior_components or self.q_z2_params(self.pseudoinputs())  # (K, z2_size) each
        z2, means, logvars = full_precision(z2), full_precision(means), full_precision(logvars)  # bf16 autocast
        log_components = (log_normal_diag(z2.unsqueeze(1), means.unsqueeze(0), logvars.unsqueeze(0))
                          - math.log(self.cfg.number_components))  # (B, K): log (1/K) q(z2 | u_k)
        # The original's log-sum-exp, written out: log K off each component first, then shifted by the row's
        # max, which stays in the graph. torch.logsumexp is the same formula but rounds (and differentiates)
        # differently: the weights part from the original's after the first step (bench/stream_matched_images.py).
        peak = log_components.max(dim=1).values
        return peak + torch.log(torch.exp(log_components - peak.unsqueeze(1)).sum(dim=1))

    # -- passes --------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None,
               noise: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """z2 ~ q(z2|x), z1 ~ q(z1|x, z2) (reparameterised, z2 drawn first) and p(z1|z2) at that z2.

        noise: given standard-normal draws (eps_z2, eps_z1) instead of drawing from `generator`.
        """
        eps_z2, eps_z1 = noise if noise is not None else (None, None)
        z2_q_mean, z2_q_logvar = self.q_z2_params(x)
        z2_q = reparameterize(z2_q_mean, z2_q_logvar, generator, eps_z2)
        z1_q_mean, z1_q_logvar = self.q_z1_params(x, z2_q)
        z1_q = reparameterize(z1_q_mean, z1_q_logvar, generator, eps_z1)
        z1_p_mean, z1_p_logvar = self.p_z1_params(z2_q)
        return dict(z1_q=z1_q, z1_q_mean=z1_q_mean, z1_q_logvar=z1_q_logvar,
                    z2_q=z2_q, z2_q_mean=z2_q_mean, z2_q_logvar=z2_q_logvar,
                    z1_p_mean=z1_p_mean, z1_p_logvar=z1_p_logvar)

    def decode_probs(self, x: torch.Tensor | None, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Bernoulli means of p(x|z1, z2), shape (B, x_dim); the pixel decoder conditions on x."""
        x_img = None if x is None else self._as_image(x)
        return self.decoder(x_img, z1, z2).flatten(1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None,
                noise: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        out = self.encode(x, generator, noise)
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


def build_image_model(cfg: ImageRunConfig) -> HVAE2Level:
    """The untrained model of one image run."""
    return build_hvae(HVAEConfig(arch=cfg.arch, prior=cfg.prior, z1_size=cfg.z1_size, z2_size=cfg.z2_size,
                                 number_components=cfg.number_components, masked_conv_grad=cfg.masked_conv_grad))


def load_image_model(path: str | Path, device: torch.device) -> tuple[HVAE2Level, ImageRunConfig, dict]:
    """A run's best model from its model.pt (rebuilt from the run settings), on `device` in eval mode;
    with those settings and the saved checkpoint dict (best_epoch, best_loss, ...)."""
    state = load_checkpoint(path)
    cfg = ImageRunConfig.from_dict(state["run_config"])
    model = build_image_model(cfg)
    model.load_state_dict(state["state_dict"])
    return model.to(device).eval(), cfg, state


def load_run(model_path: str | Path, data_path: str | Path,
             device: torch.device) -> tuple[HVAE2Level, ImageRunConfig, dict, ImageData]:
    """What an evaluation or figure job starts from: load_image_model's three, and the run's data."""
    model, cfg, state = load_image_model(model_path, device)
    return model, cfg, state, load_image_data(data_path, cfg.max_train_images)
