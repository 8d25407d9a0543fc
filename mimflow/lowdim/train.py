"""Training of the low-dimensional experiments (spec 3.1, 3.6): runs of one shape trained as one stack.

beta and the Noam learning rate advance once per epoch; the best checkpoint is the lowest test
loss at epoch >= warmup; early stopping waits `warmup` epochs for an improvement.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..core.fit import FitResult, NonFiniteLossError, RunTracker, StopRule, non_finite_loss_error
from ..core.io import save_torch_atomic
from ..names import STACK_BATCH_MULTIPLE
from .data import LowdimSource, lowdim_source
from ..objectives import OBJECTIVES, Objective
from .model import Generators, LowdimModel, LowdimModelConfig, decoder_path, encoder_path, standard_normal
from .settings import LowdimRunConfig
from .stacked import StackedLowdimModel, build_stack, member_optimizer_state, solo_model


def objective(name: str) -> Objective:
    """The registered objective of a model name (one-line error naming it and the registered ones)."""
    return OBJECTIVES[name]


def beta_schedule(epoch: int, warmup_steps: int, autoencoder: bool = False, schedule: str = "warmup") -> float:
    """beta(e) = min(1, e / warmup), or 1 throughout with schedule "constant"; the AE trains with beta = 0."""
    if autoencoder:
        return 0.0
    return 1.0 if schedule == "constant" else min(1.0, max(epoch / warmup_steps, 0.0))


def noam_lr(epoch: int, base_lr: float, warmup_steps: int) -> float:
    """lr(e) = lr0 sqrt(w) min(e w^-1.5, e^-0.5): linear ramp to lr0 at e = w, then lr0 sqrt(w/e)."""
    return base_lr * warmup_steps ** 0.5 * min(epoch * warmup_steps ** -1.5, max(epoch, 1) ** -0.5)


@dataclass
class EpochRecord:
    epoch: int
    beta: float
    lr: float
    train_loss: float
    test_loss: float
    wall_time_s: float


def build_model(cfg: LowdimRunConfig, x_dim: int) -> LowdimModel:
    return LowdimModel(LowdimModelConfig(
        x_dim=x_dim, z_dim=cfg.z_dim, mid_dim=cfg.mid_dim, layers=cfg.layers, act=cfg.act,
        min_logvar=cfg.min_logvar, delta_encoder=objective(cfg.model).autoencoder,
    ))


def objective_loss(obj: Objective, terms, beta: float, cfg: LowdimRunConfig, generator: Generators) -> torch.Tensor:
    """The objective's loss of one path, averaged over the batch (last axis); an objective that draws gets the
    runs' own generators."""
    draw = {"generator": generator} if obj.draws else {}
    return obj.loss(terms, beta, **cfg.objective_settings, **draw).mean(-1)


@torch.no_grad()
def test_loss(model: LowdimModel | StackedLowdimModel, x: torch.Tensor, obj: Objective, cfg: LowdimRunConfig,
              generator: Generators, dataset_size: int | None = None) -> torch.Tensor:
    """The original's per-epoch test loss at beta = 1 (AE: 0) on one fresh pass; shape (S,) for S stacked runs.

    Batches have equal size, so the mean over the whole pass equals the original's mean of
    batch means; the sampling path uses as many prior draws as there are test points. An objective with
    batch-level terms gets the pass batch by batch at the training batch size (the mean of batch means,
    each batch's encoder path, then its sampling path, drawn in that order). dataset_size is the training
    pass's N that the loss sees (PathTerms.dataset_size).
    """
    beta = beta_schedule(1, 1, obj.autoencoder)
    if obj.batch_terms:
        total = None  # float64 elementwise sums: each run's number is the same in any stack
        batches = x.split(cfg.batch_size, dim=-2)
        for batch in batches:
            loss = _pass_loss(model, batch, obj, cfg, generator, beta, dataset_size).double()
            total = loss if total is None else total + loss
        return total / len(batches)
    return _pass_loss(model, x, obj, cfg, generator, beta, dataset_size)


def _pass_loss(model, x: torch.Tensor, obj: Objective, cfg: LowdimRunConfig, generator: Generators,
               beta: float, dataset_size: int | None = None) -> torch.Tensor:
    loss = objective_loss(obj, encoder_path(model, x, generator, dataset_size), beta, cfg, generator)
    if obj.sampling_path:
        z_obs = standard_normal((*x.shape[:-1], cfg.z_dim), generator).to(x.device)
        loss = (loss + objective_loss(obj, decoder_path(model, z_obs, generator, cfg.mim_decoder_qx, dataset_size),
                                      beta, cfg, generator)) / 2
    return loss


# Elementwise kernels (tanh, exp, ...) compute a vectorised body and a scalar tail that can round differently;
# a run's slice of a stacked tensor has the vectorised/scalar split it has alone only when every slice starts
# on a multiple of the widest loop step (2 AVX-512 vectors, 32 floats). Slices hold batch_size x width values,
# so runs stack when batch_size is a multiple of STACK_BATCH_MULTIPLE (32; the paper's 128 is); otherwise each
# run trains alone.


@dataclass
class RunOutcome:
    """One run of a (stacked) training: its best model and history, or the error that ended it (with the
    epochs recorded before it in `result`)."""

    cfg: LowdimRunConfig
    model: LowdimModel | None = None
    result: FitResult | None = None
    error: Exception | None = None
    restored: bool = False  # taken whole from a finished resume checkpoint, nothing trained


@dataclass
class _Member:
    """A run inside a stacked training: its random stream, its bookkeeping and, off the stack, its state."""

    cfg: LowdimRunConfig
    generator: torch.Generator
    tracker: RunTracker
    model_state: dict | None = None
    optimizer_state: dict | None = None
    error: NonFiniteLossError | None = None
    restored: bool = False


def check_stackable(cfgs: Sequence[LowdimRunConfig]) -> None:
    """Runs can share a stack only when they differ in nothing but their seed (distinct seeds)."""
    if not cfgs:
        raise ValueError("no runs to train")
    first = {**cfgs[0].to_dict(), "seed": None}
    for cfg in cfgs[1:]:
        other = {**cfg.to_dict(), "seed": None}
        if other != first:
            diff = sorted(k for k in first if first[k] != other[k])
            raise ValueError(f"runs trained together must differ only in their seed; seed {cfg.seed} differs in {diff}")
    seeds = [cfg.seed for cfg in cfgs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds trained together must be distinct, got {seeds}")


def _note_non_finite(loss: torch.Tensor, term: str, first_failure: list) -> None:
    """Remember, per run, the first non-finite batch loss and its term (one host sync per batch)."""
    finite = torch.isfinite(loss)
    if not bool(finite.all()):
        for index, (ok, value) in enumerate(zip(finite.tolist(), loss.tolist())):
            if not ok and first_failure[index] is None:
                first_failure[index] = (term, value)


def _train_stack(members: list[_Member], source: LowdimSource, model_config: LowdimModelConfig, start: int,
                 device: torch.device, on_epoch: Callable[[LowdimRunConfig, EpochRecord], None] | None) -> None:
    """Train members that all continue at epoch `start` in lockstep, until each stops, fails or ends.

    A member that stops or fails leaves after its epoch and the stack is rebuilt from the others; every
    member keeps its last weights and optimizer state.
    """
    cfg, obj = members[0].cfg, objective(members[0].cfg.model)
    model, optimizer = build_stack(model_config, [m.model_state for m in members],
                                   None if start == 1 else [m.optimizer_state for m in members], cfg.lr, device)
    for epoch in range(start, cfg.epochs + 1):
        started = time.perf_counter()
        generators = [m.generator for m in members]
        lr = noam_lr(epoch, cfg.lr, cfg.warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        beta = beta_schedule(epoch, cfg.warmup_steps, obj.autoencoder, cfg.beta_schedule)
        use_sampling_path = obj.sampling_path and beta >= 1.0

        model.train()
        x_train = torch.stack([source.train_pass(g)[0] for g in generators]).to(device)
        dataset_size = x_train.shape[1]  # N, as the loss sees it (PathTerms.dataset_size)
        n_batches = dataset_size // cfg.batch_size
        # The original sums batch losses as Python floats: float64 additions in the same order are the same sums.
        totals = torch.zeros(len(members), dtype=torch.float64, device=device)
        first_failure: list[tuple[str, float] | None] = [None] * len(members)
        for batch in x_train.split(cfg.batch_size, dim=1):
            optimizer.zero_grad(set_to_none=True)
            loss = objective_loss(obj, encoder_path(model, batch, generators, dataset_size), beta, cfg, generators)
            _note_non_finite(loss, "encoder-path", first_failure)
            loss.sum().backward()  # runs share no weights: each run's gradient is that of its own loss
            totals += loss.detach().double()
            if use_sampling_path:
                z_obs = standard_normal((len(members), cfg.batch_size, cfg.z_dim), generators).to(device)
                loss = objective_loss(obj, decoder_path(model, z_obs, generators, cfg.mim_decoder_qx, dataset_size),
                                      beta, cfg, generators)
                _note_non_finite(loss, "decoder-path", first_failure)
                (beta * loss).sum().backward()
                totals += loss.detach().double()
            optimizer.step()
        train_losses = (totals / n_batches / (2 if obj.sampling_path else 1)).tolist()

        model.eval()
        x_test = torch.stack([source.test_pass(g)[0] for g in generators]).to(device)
        test_losses = test_loss(model, x_test, obj, cfg, generators, dataset_size).tolist()
        wall = (time.perf_counter() - started) / len(members)  # the stack's epoch time, shared out

        leaving = set()
        for index, member in enumerate(members):
            if first_failure[index] is not None:
                member.error = non_finite_loss_error(*first_failure[index], epoch)
                leaving.add(index)
                continue
            record = EpochRecord(epoch, beta, lr, train_losses[index], test_losses[index], wall)
            try:
                stop = member.tracker.observe(record, lambda i=index: model.member_state_dict(i))
            except NonFiniteLossError as error:  # a non-finite test loss under the "raise" policy: this run only
                member.error = error
                leaving.add(index)
                continue
            if on_epoch is not None:
                on_epoch(member.cfg, record)
            if stop or epoch == cfg.epochs or member.tracker.resume_path is not None:
                member.model_state = model.member_state_dict(index)
                member.optimizer_state = member_optimizer_state(model, optimizer, index)
                member.tracker.save(epoch, cfg.epochs, member.model_state, member.optimizer_state,
                                    member.generator.get_state())
            if stop:
                leaving.add(index)
        if leaving:
            for index in set(range(len(members))) - leaving:
                members[index].model_state = model.member_state_dict(index)
                members[index].optimizer_state = member_optimizer_state(model, optimizer, index)
            members = [m for i, m in enumerate(members) if i not in leaving]
            if not members:
                return
            model, optimizer = build_stack(model_config, [m.model_state for m in members],
                                           [m.optimizer_state for m in members], cfg.lr, device)


def train_lowdim_runs(
    cfgs: Sequence[LowdimRunConfig],
    source: LowdimSource | None = None,
    resume_paths: Sequence[Path | None] | None = None,
    on_epoch: Callable[[LowdimRunConfig, EpochRecord], None] | None = None,
    record_states: bool = False,
    device: torch.device | str = "cpu",
    resume_key: dict | None = None,
    reuse_finished: bool = True,
) -> list[RunOutcome]:
    """Train runs that differ only in their seed as one stack; one outcome per run, in the given order.

    Each run's numbers are those it gets alone: its weights start from torch.manual_seed(seed), all its
    sampling uses its own generator seeded with the seed, in the single-run order, and it selects its best
    checkpoint and stops early by itself. A run whose loss turns non-finite ends with its error; the others
    go on. record_states keeps every run's weights after every epoch (animation frames). source defaults to
    the toy stream of the runs' dataset; real-data runs pass their loaded source. A run's resume checkpoint
    (resume_paths) must match its settings plus resume_key (e.g. the code version) to be used; a finished
    one stands for the run without training, unless reuse_finished is False (a forced retraining), when the
    run trains afresh and its resume checkpoint is overwritten as it goes.
    """
    check_stackable(cfgs)
    cfg0 = cfgs[0]
    source = source if source is not None else lowdim_source(cfg0)
    device = torch.device(device)
    if device.type != "cpu" and hasattr(source, "on_device"):
        source = source.on_device(device)  # e.g. PCA augmentation on the GPU, from the same CPU random draws
    resume_paths = list(resume_paths) if resume_paths is not None else [None] * len(cfgs)
    stop_rule = StopRule(candidate_from=cfg0.warmup_steps, count_from=cfg0.warmup_steps, patience=cfg0.warmup_steps)
    model_config = None
    members = []
    for cfg, resume_path in zip(cfgs, resume_paths):
        torch.manual_seed(cfg.seed)  # weight initialisation only; all sampling uses the run's generator
        initial = build_model(cfg, source.x_dim)
        model_config = initial.config
        tracker = RunTracker(stop_rule, {**cfg.to_dict(), **(resume_key or {})}, EpochRecord, resume_path,
                             record_states, loss_field="test_loss", non_finite=cfg.non_finite_test_loss)
        member = _Member(cfg, torch.Generator().manual_seed(cfg.seed), tracker, model_state=initial.state_dict())
        state = tracker.restore(cfg.epochs, reuse_finished)
        if state is not None:
            member.model_state, member.optimizer_state = state["model"], state["optimizer"]
            member.generator.set_state(state["generator"])
            member.restored = tracker.finished
        members.append(member)

    stackable = cfg0.batch_size % STACK_BATCH_MULTIPLE == 0
    for start in sorted({m.tracker.start for m in members if not m.tracker.finished}):
        due = [m for m in members if not m.tracker.finished and m.tracker.start == start]
        for stack in [due] if stackable else [[m] for m in due]:
            _train_stack(stack, source, model_config, start, device, on_epoch)

    outcomes = []
    for member in members:
        if member.error is not None:
            outcomes.append(RunOutcome(member.cfg, result=member.tracker.result, error=member.error))
            continue
        try:
            result = member.tracker.finish(lambda m=member: copy.deepcopy(m.model_state))
        except NonFiniteLossError as err:
            outcomes.append(RunOutcome(member.cfg, result=member.tracker.result, error=err))
            continue
        outcomes.append(RunOutcome(member.cfg, solo_model(model_config, result.best_state), result,
                                   restored=member.restored))
    return outcomes


def train_lowdim(
    cfg: LowdimRunConfig,
    resume_path: Path | None = None,
    on_epoch: Callable[[LowdimRunConfig, EpochRecord], None] | None = None,
    record_states: bool = False,
    source: LowdimSource | None = None,
    device: torch.device | str = "cpu",
) -> tuple[LowdimModel, FitResult]:
    """Train one run (a stack of one); returns the model loaded with its best checkpoint, and the history.
    Raises the run's error (NonFiniteLossError) when it failed."""
    (outcome,) = train_lowdim_runs([cfg], source, [resume_path], on_epoch, record_states, device)
    if outcome.error is not None:
        raise outcome.error
    return outcome.model, outcome.result


def save_epoch_states(result: FitResult, path: str | Path) -> None:
    """Per-epoch weights (an empty list unless the run recorded them), for animation frames."""
    save_torch_atomic({"epochs": [r.epoch for r in result.history][:len(result.epoch_states)],
                       "states": result.epoch_states}, path)
