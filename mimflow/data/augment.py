"""Batched random affine augmentation, the equivalent of torchvision's
RandomApply([RandomAffine(degrees, translate, scale, shear)], p) with nearest interpolation,
applied to a whole batch at once (one affine matrix per image, one grid_sample call).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AffineAugment:
    p: float = 0.5
    degrees: float = 10.0
    translate: float = 0.1  # fraction of width/height
    scale: tuple[float, float] = (0.8, 1.2)
    shear: float = 5.0  # degrees, x only (torchvision's meaning of a single number)


def inverse_affine_matrices(angle: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, scale: torch.Tensor,
                            shear_x: torch.Tensor, shear_y: torch.Tensor) -> torch.Tensor:
    """(B, 2, 3) inverse matrices about the image centre, torchvision's _get_inverse_affine_matrix batched."""
    rot, sx, sy = (torch.deg2rad(v.double()) for v in (angle, shear_x, shear_y))
    a = torch.cos(rot - sy) / torch.cos(sy)
    b = -torch.cos(rot - sy) * torch.tan(sx) / torch.cos(sy) - torch.sin(rot)
    c = torch.sin(rot - sy) / torch.cos(sy)
    d = -torch.sin(rot - sy) * torch.tan(sx) / torch.cos(sy) + torch.cos(rot)
    s = scale.double()
    m0, m1, m3, m4 = d / s, -b / s, -c / s, a / s
    m2 = m0 * (-tx.double()) + m1 * (-ty.double())
    m5 = m3 * (-tx.double()) + m4 * (-ty.double())
    return torch.stack([torch.stack([m0, m1, m2], -1), torch.stack([m3, m4, m5], -1)], 1)


def affine_grid_pixels(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sampling grid for grid_sample(align_corners=False) from pixel-space inverse matrices."""
    half = 0.5
    xs = torch.linspace(-width * 0.5 + half, width * 0.5 + half - 1, width, dtype=theta.dtype)
    ys = torch.linspace(-height * 0.5 + half, height * 0.5 + half - 1, height, dtype=theta.dtype)
    base = torch.stack([xs.expand(height, width), ys[:, None].expand(height, width),
                        torch.ones(height, width, dtype=theta.dtype)], -1).reshape(1, height * width, 3)
    rescaled = theta.transpose(1, 2) / torch.tensor([0.5 * width, 0.5 * height], dtype=theta.dtype)
    return (base @ rescaled).reshape(-1, height, width, 2)


def apply_affine(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Warp (B, H, W) images by per-image inverse matrices, nearest neighbour, zero fill."""
    h, w = images.shape[-2:]
    grid = affine_grid_pixels(theta, h, w).to(torch.float32)
    out = F.grid_sample(images[:, None].to(torch.float32), grid, mode="nearest", padding_mode="zeros",
                        align_corners=False)
    return out[:, 0].to(images.dtype)


def random_affine(images: torch.Tensor, aug: AffineAugment, generator: torch.Generator) -> torch.Tensor:
    """Augment a (B, H, W) batch: each image, with probability p, gets its own random affine map."""
    n, h, w = images.shape

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, dtype=torch.float64) * (high - low) + low

    chosen = torch.rand(n, generator=generator) < aug.p
    angle = uniform(-aug.degrees, aug.degrees)
    tx = torch.round(uniform(-aug.translate * w, aug.translate * w))
    ty = torch.round(uniform(-aug.translate * h, aug.translate * h))
    scale = uniform(*aug.scale)
    shear_x = uniform(-aug.shear, aug.shear)
    out = images.clone()
    if chosen.any():
        theta = inverse_affine_matrices(angle[chosen], tx[chosen], ty[chosen], scale[chosen], shear_x[chosen],
                                        torch.zeros(int(chosen.sum()), dtype=torch.float64))
        out[chosen] = apply_affine(images[chosen], theta)
    return out


def dequantize(images_uint8: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(255 x + U[0, 1)) / 256 clamped to [1e-3, 1 - 1e-3], x = pixel / 255, as the original's train transform."""
    noise = torch.rand(images_uint8.shape, generator=generator)
    return ((images_uint8.to(torch.float32) + noise) / 256.0).clamp(1e-3, 1 - 1e-3)


__all__ = ["AffineAugment", "apply_affine", "dequantize", "inverse_affine_matrices", "random_affine"]
