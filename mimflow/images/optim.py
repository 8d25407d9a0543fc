"""AdamNormGrad, the optimiser of the image experiments (spec 6.4).

Adam applied to per-tensor normalised gradients g / (||g||_2 + 1e-7), so every parameter tensor
moves at a rate set by lr alone, whatever its gradient scale. As in the original (and in Kingma &
Ba's "efficient" form), eps is added to sqrt(v) before the bias correction is folded into the step
size: step = lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps).

The update runs as multi-tensor operations (torch._foreach_*): about ten for all parameter tensors
together instead of about ten per tensor, which on a GPU is most of a step's kernel launches. Each
multi-tensor operation does, per element, the arithmetic of the per-tensor form, so on the CPU the result
is the same bit for bit; `foreach=False` keeps the per-tensor form (the reference in the tests).
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

GRAD_NORM_EPS = 1e-7


class AdamNormGrad(torch.optim.Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, foreach: bool = True):
        if not lr >= 0:
            raise ValueError(f"lr must be >= 0, got {lr!r}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas!r}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))
        self.foreach = foreach

    def _state(self, p: torch.Tensor) -> dict:
        """The tensor's moments, created at its first step, and its step count advanced by one."""
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                (self._foreach_update if self.foreach else self._per_tensor_update)(group, params)
        return loss

    def _per_tensor_update(self, group: dict, params: list[torch.Tensor]) -> None:
        beta1, beta2 = group["betas"]
        for p in params:
            grad = p.grad / (torch.linalg.vector_norm(p.grad) + GRAD_NORM_EPS)
            if group["weight_decay"] != 0:
                grad = grad.add(p, alpha=group["weight_decay"])  # after normalisation, as the original
            state = self._state(p)
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step_size = group["lr"] * math.sqrt(1 - beta2 ** state["step"]) / (1 - beta1 ** state["step"])
            p.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(group["eps"]), value=-step_size)

    def _foreach_update(self, group: dict, params: list[torch.Tensor]) -> None:
        """The per-tensor update, written as multi-tensor operations in the same order."""
        beta1, beta2 = group["betas"]
        grads = [p.grad for p in params]
        norms = torch._foreach_norm(grads)
        torch._foreach_add_(norms, GRAD_NORM_EPS)
        grads = torch._foreach_div(grads, norms)
        if group["weight_decay"] != 0:
            torch._foreach_add_(grads, params, alpha=group["weight_decay"])
        states = [self._state(p) for p in params]
        exp_avgs = [state["exp_avg"] for state in states]
        exp_avg_sqs = [state["exp_avg_sq"] for state in states]
        torch._foreach_mul_(exp_avgs, beta1)
        torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        denominators = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_add_(denominators, group["eps"])
        step_sizes = [-group["lr"] * math.sqrt(1 - beta2 ** state["step"]) / (1 - beta1 ** state["step"])
                      for state in states]
        torch._foreach_addcdiv_(params, exp_avgs, denominators, step_sizes)
