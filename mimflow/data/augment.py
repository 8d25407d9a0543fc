"""Batched random affine augmentation of PCA Fashion-MNIST, the equivalent of
RandomApply([RandomAffine(degrees, translate, scale, shear)], p) with nearest resampling,
applied to a whole batch at once (one affine matrix per image).

Two geometries (fidelity switch `affine_geometry`):
* "torchvision-0.2.1" (the original): torchvision 0.2.1's inverse matrix (the shear angle is added to
  the rotation angle of the second column; centre (w/2 + 0.5, h/2 + 0.5)) applied as Pillow's
  Image.transform(AFFINE, NEAREST) applies it to an 8-bit image: 16.16 fixed-point coefficients and
  truncated source coordinates, or the floating-point scaling path when the matrix has no rotation.
* "tensor-affine": torchvision's current tensor `affine` (tan shear along x, centre at the image
  centre, grid_sample nearest).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.settings import check_choice
from ..names import AFFINE_GEOMETRIES


@dataclass(frozen=True)
class AffineAugment:
    p: float = 0.5
    degrees: float = 10.0
    translate: float = 0.1  # fraction of width/height
    scale: tuple[float, float] = (0.8, 1.2)
    shear: float = 5.0  # degrees, one angle drawn from [-shear, shear]
    geometry: str = AFFINE_GEOMETRIES[0]

    def __post_init__(self) -> None:
        check_choice("affine_geometry", self.geometry, AFFINE_GEOMETRIES)


# ---------------------------------------------------------------------------------------------
# "tensor-affine": torchvision's tensor affine


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
    on = dict(dtype=theta.dtype, device=theta.device)
    xs = torch.linspace(-width * 0.5 + half, width * 0.5 + half - 1, width, **on)
    ys = torch.linspace(-height * 0.5 + half, height * 0.5 + half - 1, height, **on)
    base = torch.stack([xs.expand(height, width), ys[:, None].expand(height, width),
                        torch.ones(height, width, **on)], -1).reshape(1, height * width, 3)
    rescaled = theta.transpose(1, 2) / torch.tensor([0.5 * width, 0.5 * height], **on)
    return (base @ rescaled).reshape(-1, height, width, 2)


def apply_affine(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Warp (B, H, W) images by per-image inverse matrices, nearest neighbour, zero fill."""
    h, w = images.shape[-2:]
    grid = affine_grid_pixels(theta, h, w).to(torch.float32)
    out = F.grid_sample(images[:, None].to(torch.float32), grid, mode="nearest", padding_mode="zeros",
                        align_corners=False)
    return out[:, 0].to(images.dtype)


# ---------------------------------------------------------------------------------------------
# "torchvision-0.2.1": the 0.2.1 matrix, resampled the way Pillow resamples 8-bit images


def _libm(fn, values: torch.Tensor) -> torch.Tensor:
    """fn (a math function) elementwise in float64: torch's vectorised sin differs from libm's in the last bit."""
    return torch.tensor(list(map(fn, values.double().tolist())), dtype=torch.float64)


def inverse_affine_matrices_v021(angle: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, scale: torch.Tensor,
                                 shear: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, 6) Pillow AFFINE data (a, b, c, d, e, f) of torchvision 0.2.1's RandomAffine, batched.

    Output pixel (x, y) samples the input at (a x' + b y' + c, d x' + e y' + f), x' = x + 0.5, y' = y + 0.5.
    0.2.1 inverts [[cos t, -sin(t + s)], [sin t, cos(t + s)]] * scale (t rotation, s shear, both in
    radians) about the centre (w/2 + 0.5, h/2 + 0.5), after undoing the translation. Trigonometry comes
    from libm (Python's math, as 0.2.1) and the rest runs in float64 in 0.2.1's order, so the matrix is
    bit for bit the one 0.2.1 computes.
    """
    rot = _libm(math.radians, angle)
    both = rot + _libm(math.radians, shear)
    cos_rot, sin_rot, cos_both, sin_both = (_libm(fn, v) for fn, v in
                                            ((math.cos, rot), (math.sin, rot), (math.cos, both), (math.sin, both)))
    inv_scale = 1.0 / scale.double()
    det = cos_both * cos_rot + sin_both * sin_rot
    factor = inv_scale / det
    a, b = factor * cos_both, factor * sin_both
    d, e = factor * -sin_rot, factor * cos_rot
    cx, cy = width * 0.5 + 0.5, height * 0.5 + 0.5
    ox, oy = -cx - tx.double(), -cy - ty.double()
    c = torch.zeros_like(a) + a * ox + b * oy + cx
    f = torch.zeros_like(d) + d * ox + e * oy + cy
    return torch.stack([a, b, c, d, e, f], -1)


def _fix16(v: torch.Tensor) -> torch.Tensor:
    """Pillow's FIX(): round a float64 to 16.16 fixed point, floor(v * 65536 + 0.5)."""
    return torch.floor(v * 65536.0 + 0.5).to(torch.int64)


def _source_indices_fixed(data: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pillow's affine_fixed: integer source column/row of every output pixel plus one, (B, H, W) int32 each.

    Pillow accumulates the 16.16 coefficients by integer additions along rows and columns; those sums are
    exact, so they equal start + y * step_y + x * step_x (int32 suffices for images this small). The +1
    (index into an image with a one-pixel border) is folded into the start as 65536: (v + 65536) >> 16 is
    (v >> 16) + 1 exactly.
    """
    a, b, c, d, e, f = data.unbind(-1)
    a0, a1, a3, a4 = _fix16(a), _fix16(b), _fix16(d), _fix16(e)
    a2 = _fix16(c + a * 0.5 + b * 0.5) + 65536
    a5 = _fix16(f + d * 0.5 + e * 0.5) + 65536
    xs = torch.arange(width, dtype=torch.int64, device=data.device)
    ys = torch.arange(height, dtype=torch.int64, device=data.device)
    col_start, row_start = a2[:, None] + ys * a1[:, None], a5[:, None] + ys * a4[:, None]  # (B, H)
    col_step, row_step = xs * a0[:, None], xs * a3[:, None]  # (B, W)
    col = col_start.to(torch.int32)[:, :, None] + col_step.to(torch.int32)[:, None, :]
    row = row_start.to(torch.int32)[:, :, None] + row_step.to(torch.int32)[:, None, :]
    return col.bitwise_right_shift_(16), row.bitwise_right_shift_(16)  # arithmetic shift: floor division by 65536


def _running_sum(start: torch.Tensor, step: torch.Tensor, n: int) -> torch.Tensor:
    """(B, n) float64 positions start, start + step, ... accumulated one addition at a time (as Pillow)."""
    out = torch.empty(len(start), n, dtype=torch.float64, device=start.device)
    value = start.clone()
    for i in range(n):
        out[:, i] = value
        value = value + step
    return out


def _truncate(v: torch.Tensor) -> torch.Tensor:
    """Pillow's COORD(): -1 for negative coordinates, else truncation to int."""
    return torch.where(v < 0, torch.full_like(v, -1.0), torch.trunc(v)).to(torch.int32)


def _source_indices_scale(data: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pillow's ImagingScaleAffine (matrices with b == d == 0): floating-point, running sums; plus one, as
    _source_indices_fixed."""
    a, _, c, _, e, f = data.unbind(-1)
    col = _truncate(_running_sum(c + a * 0.5, a, width)) + 1
    row = _truncate(_running_sum(f + e * 0.5, e, height)) + 1
    return col[:, None, :].expand(-1, height, width), row[:, :, None].expand(-1, height, width)


def apply_affine_pil(images: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """Warp (B, H, W) images by per-image Pillow AFFINE data (B, 6), NEAREST, zero outside.

    Equals Image.fromarray(image, "L").transform((W, H), Image.AFFINE, data, Image.NEAREST) per image
    (Pillow 6.2 through 13 share this code path; tested against the installed Pillow). Each image is read
    through a one-pixel zero border, so every source position outside the image (clamped onto the border)
    reads 0 without a mask.
    """
    n, h, w = images.shape
    bordered = F.pad(images, (1, 1, 1, 1)).reshape(n, (h + 2) * (w + 2))
    out = torch.empty_like(images)
    for start in range(0, n, _CHUNK):
        part = slice(start, start + _CHUNK)
        col, row = _source_indices_fixed(data[part], h, w)
        scaling = (data[part, 1] == 0) & (data[part, 3] == 0)
        if scaling.any():
            col[scaling], row[scaling] = _source_indices_scale(data[part][scaling], h, w)
        flat = row.clamp_(0, h + 1).mul_(w + 2).add_(col.clamp_(0, w + 1)).to(torch.int64).reshape(len(col), h * w)
        torch.gather(bordered[part], 1, flat, out=out[part].view(len(col), h * w))
    return out


_CHUNK = 4096  # images per step of apply_affine_pil (bounds its index tensors to a few hundred MB)


# ---------------------------------------------------------------------------------------------


def random_affine(images: torch.Tensor, aug: AffineAugment, generator: torch.Generator) -> torch.Tensor:
    """Augment a (B, H, W) batch: each image, with probability p, gets its own random affine map.

    The parameters are drawn as RandomAffine.get_params draws them: angle ~ U(-degrees, degrees),
    translations rounded from U(-translate * size, translate * size), scale ~ U(scale), shear ~ U(-shear, shear).
    """
    n, h, w = images.shape

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, dtype=torch.float64) * (high - low) + low

    chosen = torch.rand(n, generator=generator) < aug.p
    angle = uniform(-aug.degrees, aug.degrees)
    tx = torch.round(uniform(-aug.translate * w, aug.translate * w))
    ty = torch.round(uniform(-aug.translate * h, aug.translate * h))
    scale = uniform(*aug.scale)
    shear = uniform(-aug.shear, aug.shear)
    out = images.clone()
    if chosen.any():
        # the parameters are drawn and the matrices computed on the CPU (the generator's stream, libm); the
        # warp runs where the images are, exactly (integer source positions, or the same grid)
        picked = chosen.to(images.device)
        if aug.geometry == "torchvision-0.2.1":
            data = inverse_affine_matrices_v021(angle[chosen], tx[chosen], ty[chosen], scale[chosen], shear[chosen], h, w)
            out[picked] = apply_affine_pil(images[picked], data.to(images.device))
        else:
            theta = inverse_affine_matrices(angle[chosen], tx[chosen], ty[chosen], scale[chosen], shear[chosen],
                                            torch.zeros(int(chosen.sum()), dtype=torch.float64))
            out[picked] = apply_affine(images[picked], theta.to(images.device))
    return out


def dequantize(images_uint8: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(255 x + U[0, 1)) / 256 clamped to [1e-3, 1 - 1e-3], x = pixel / 255, as the original's train transform."""
    return dequantize_noise_(torch.rand(images_uint8.shape, generator=generator), images_uint8)


def dequantize_noise_(noise: torch.Tensor, images_uint8: torch.Tensor) -> torch.Tensor:
    """Turn uniform noise into dequantised pixels in place: (pixel + noise) / 256, clamped."""
    noise += images_uint8  # in place: the same IEEE sums as pixel + noise, without three 4-byte copies
    noise /= 256.0
    return noise.clamp_(1e-3, 1 - 1e-3)


__all__ = ["AffineAugment", "apply_affine", "apply_affine_pil", "dequantize", "dequantize_noise_", "inverse_affine_matrices",
           "inverse_affine_matrices_v021", "random_affine"]
