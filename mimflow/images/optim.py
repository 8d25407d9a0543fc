"""AdamNormGrad, the optimiser of the image experiments (spec 6.4).

Adam applied to per-tensor normalised gradients g / (||g||_2 + 1e-7), so every parameter tensor
moves at a rate set by lr alone, whatever its gradient scale. As in the original (and in Kingma &
Ba's "efficient" form), eps is added to sqrt(v) before the bias correction is folded into the step
size: step = lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps).
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

GRAD_NORM_EPS = 1e-7


class AdamNormGrad(torch.optim.Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if not lr >= 0:
            raise ValueError(f"lr must be >= 0, got {lr!r}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas!r}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad / (torch.linalg.vector_norm(p.grad) + GRAD_NORM_EPS)
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])  # after normalisation, as the original
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step_size = group["lr"] * math.sqrt(1 - beta2 ** state["step"]) / (1 - beta1 ** state["step"])
                p.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(group["eps"]), value=-step_size)
        return loss
