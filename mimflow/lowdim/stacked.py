"""Several low-dimensional runs of one shape trained as one stacked model.

Runs that differ only in their seed (same dataset, model, z_dim, mid_dim and settings) have identical
shapes, so their weights stack along a leading run dimension and one batched matrix product serves
all of them. A run's numbers must not depend on its company: every kernel used here computes run i's
slice exactly as the single-run layers compute it (batched products call the same per-matrix kernel,
reductions run over per-run rows, elementwise kernels do not depend on position, and each run's
random draws come from its own generator in the single-run order). tests/unit/test_stacked.py checks
this bit for bit, against the single-run model and across different companies.

The single-run model (LowdimModel) stays the format of everything saved: a member is taken out of
the stack as a LowdimModel state dict and a single-run Adam state, and a stack is built from those.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .model import LowdimModel, LowdimModelConfig, activation, normal_log_prob

ALIGN_FLOATS = 16  # 64 bytes: the alignment of a fresh CPU tensor


def _aligned_bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b per run, each run's result matrix starting on a 64-byte boundary (batch stride padded)."""
    runs, rows, cols = a.shape[0], a.shape[1], b.shape[2]
    stride = -(-rows * cols // ALIGN_FLOATS) * ALIGN_FLOATS
    out = torch.empty(runs, stride, dtype=a.dtype, device=a.device).as_strided((runs, rows, cols), (stride, cols, 1))
    return torch.bmm(a, b, out=out)


class StackedLinear(torch.autograd.Function):
    """bias + x W^T per run, with the gradients computed by the same matrix products nn.Linear's use.

    Autograd's own baddbmm backward forms dL/dW as (x^T g)^T, while nn.Linear (addmm on the
    column-major W^T) forms it as g^T x; the two round differently, so the products are spelled out.
    The BLAS kernel also rounds small products differently when an output matrix does not start on a
    64-byte boundary, as a single run's freshly allocated one does, so dL/dW of every run is written
    into its own aligned block.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias, x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None
        grad_weight = _aligned_bmm(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(1, keepdim=True) if ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


class StackedGaussianMLP(nn.Module):
    """S GaussianMLPs of one shape: weights (S, out, in), biases (S, 1, out), inputs (S, n, in)."""

    def __init__(self, weights: Sequence[tuple[torch.Tensor, torch.Tensor]], act: str, min_scale: float, delta: bool):
        super().__init__()
        # Layers in GaussianMLP order: the hidden Linear layers, then the loc head, then the log-scale head.
        self.weights = nn.ParameterList()
        for weight, bias in weights:
            self.weights.append(nn.Parameter(weight))
            self.weights.append(nn.Parameter(bias))
        self.act = activation(act)
        self.min_scale = min_scale
        self.delta = delta

    @staticmethod
    def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return StackedLinear.apply(x, weight, bias)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        params = list(self.weights)
        h = inputs
        for i in range(0, len(params) - 4, 2):
            h = self.act(self._linear(h, params[i], params[i + 1]))
        loc = self._linear(h, params[-4], params[-3])
        if self.delta:
            return loc, torch.full_like(loc, self.min_scale)
        return loc, torch.exp(self._linear(h, params[-2], params[-1])) + self.min_scale


def _mlp_layers(prefix: str, layers: int) -> list[str]:
    """State-dict names of a GaussianMLP's Linear layers in parameter order (weight names; bias follows)."""
    hidden = [f"{prefix}.hidden.{2 * i}" for i in range(layers - 1)]
    return hidden + [f"{prefix}.fc_loc", f"{prefix}.fc_logscale"]


class StackedLowdimModel(nn.Module):
    """S LowdimModels of one configuration (the seed apart) evaluated as one; see the module docstring."""

    def __init__(self, config: LowdimModelConfig, member_states: Sequence[dict[str, torch.Tensor]]):
        super().__init__()
        self.config = config
        self.size = len(member_states)
        c = config

        def stacked(prefix: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
            names = _mlp_layers(prefix, c.layers)
            return [(torch.stack([s[f"{n}.weight"] for s in member_states]),
                     torch.stack([s[f"{n}.bias"] for s in member_states]).unsqueeze(1)) for n in names]

        self.encoder = StackedGaussianMLP(stacked("encoder"), c.act, c.min_scale, c.delta_encoder)
        self.decoder = StackedGaussianMLP(stacked("decoder"), c.act, c.min_scale, False)
        self.prior_scale = 1.0 + c.min_scale
        # Parameter i of this stack is parameter i of every member's LowdimModel (same order).
        self._names = [f"{n}.{kind}" for prefix in ("encoder", "decoder")
                       for n in _mlp_layers(prefix, c.layers) for kind in ("weight", "bias")]

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        return normal_log_prob(z, torch.zeros_like(z), self.prior_scale)

    def member_slice(self, param_index: int, stacked: torch.Tensor, index: int) -> torch.Tensor:
        """Member `index` of stacked parameter `param_index` (or of its optimizer moment), single-run shape, CPU."""
        member = stacked[index]
        if self._names[param_index].endswith(".bias"):
            member = member.squeeze(0)  # biases are stacked as (S, 1, out)
        return member.detach().cpu().clone()

    def member_state_dict(self, index: int) -> dict[str, torch.Tensor]:
        """Member `index` as a LowdimModel state dict (copies, on the CPU)."""
        return {name: self.member_slice(i, p, index) for i, (name, p) in enumerate(zip(self._names, self.parameters()))}


def build_stack(config: LowdimModelConfig, member_states: Sequence[dict[str, torch.Tensor]],
                optimizer_states: Sequence[dict] | None, lr: float,
                device: torch.device | str = "cpu") -> tuple[StackedLowdimModel, torch.optim.Adam]:
    """A stacked model and its Adam from per-member LowdimModel states and single-run Adam state dicts.

    optimizer_states None starts fresh optimizers. Members of one stack must have taken the same number of
    optimizer steps (they train in lockstep), which keeps Adam's per-parameter step count shared.
    """
    model = StackedLowdimModel(config, member_states).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    if optimizer_states is not None:
        first = optimizer_states[0]
        state = {}
        for index, param in enumerate(model.parameters()):
            if index not in first["state"]:
                continue  # a parameter without gradient (the AE's unused log-scale head) has no Adam state
            steps = {float(s["state"][index]["step"]) for s in optimizer_states}
            if len(steps) != 1:
                raise ValueError(f"members of one stack have taken different numbers of steps: {sorted(steps)}")
            state[index] = {"step": first["state"][index]["step"].clone()}
            for moment in ("exp_avg", "exp_avg_sq"):
                state[index][moment] = torch.stack([s["state"][index][moment] for s in optimizer_states]) \
                    .reshape(param.shape).to(device)
        optimizer.load_state_dict({"state": state, "param_groups": first["param_groups"]})
    return model, optimizer


def member_optimizer_state(model: StackedLowdimModel, optimizer: torch.optim.Adam, index: int) -> dict:
    """Member `index`'s part of the stacked Adam as a single-run Adam state dict (CPU copies)."""
    full = optimizer.state_dict()
    state = {}
    for key, entry in full["state"].items():
        state[key] = {"step": entry["step"].clone()}
        for moment in ("exp_avg", "exp_avg_sq"):
            state[key][moment] = model.member_slice(key, entry[moment], index)
    return {"state": state, "param_groups": full["param_groups"]}


def solo_model(config: LowdimModelConfig, state: dict[str, torch.Tensor]) -> LowdimModel:
    model = LowdimModel(config)
    model.load_state_dict(state)
    return model
