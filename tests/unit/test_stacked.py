"""Stacked training (issue 14): a run's numbers do not depend on the runs it trains with.

Every comparison is bit for bit (torch.equal, ==), never approximate.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import mimflow.lowdim.train as train_mod
from mimflow.core.fit import NonFiniteLossError
from mimflow.lowdim.train import Objective, objective
from mimflow.lowdim.settings import LowdimRunConfig
from mimflow.lowdim.stacked import StackedLinear, build_stack, member_optimizer_state
from mimflow.lowdim.train import build_model, check_stackable, train_lowdim, train_lowdim_runs

# Small but real: several epochs, early stopping at different epochs for different seeds.
BASE = dict(dataset="toy4", z_dim=2, mid_dim=20, epochs=8, warmup_steps=1, dataset_size=1024)


def cfgs(model: str, seeds, **overrides) -> list[LowdimRunConfig]:
    return [LowdimRunConfig(model=model, seed=seed, **{**BASE, **overrides}) for seed in seeds]


def assert_same_run(a, b) -> None:
    """Two results of one run: identical histories (losses, betas, lrs), selection and weights."""
    strip = [(r.epoch, r.beta, r.lr, r.train_loss, r.test_loss) for r in a.history]
    assert strip == [(r.epoch, r.beta, r.lr, r.train_loss, r.test_loss) for r in b.history]
    assert (a.best_epoch, a.best_loss, a.stopped_early) == (b.best_epoch, b.best_loss, b.stopped_early)
    assert a.best_state.keys() == b.best_state.keys()
    for key in a.best_state:
        assert torch.equal(a.best_state[key], b.best_state[key]), key


@pytest.mark.parametrize("shape", [(128, 2, 50), (128, 50, 2), (128, 5, 2), (128, 7, 3), (128, 5, 5), (9984, 2, 5)])
def test_stacked_linear_is_nn_linear_per_run_at_every_position(shape):
    """Forward and all three gradients of each run equal nn.Linear's, wherever the run sits in the stack
    (small weight gradients once rounded differently off a 64-byte boundary)."""
    n, fan_in, fan_out = shape
    g = torch.Generator().manual_seed(0)
    runs = 3
    x = torch.randn(runs, n, fan_in, generator=g)
    weight = torch.randn(runs, fan_out, fan_in, generator=g)
    bias = torch.randn(runs, 1, fan_out, generator=g)
    grad = torch.randn(runs, n, fan_out, generator=g)
    xs, ws, bs = (t.clone().requires_grad_() for t in (x, weight, bias))
    out = StackedLinear.apply(xs, ws, bs)
    out.backward(grad)
    for i in range(runs):
        linear = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.copy_(weight[i])
            linear.bias.copy_(bias[i, 0])
        xi = x[i].clone().requires_grad_()
        yi = linear(xi)
        yi.backward(grad[i])
        assert torch.equal(out[i], yi)
        assert torch.equal(xs.grad[i], xi.grad)
        assert torch.equal(ws.grad[i], linear.weight.grad)
        assert torch.equal(bs.grad[i, 0], linear.bias.grad)


def test_stack_round_trips_member_states():
    cfg_list = cfgs("vae", [1, 2, 3])
    states = []
    for cfg in cfg_list:
        torch.manual_seed(cfg.seed)
        states.append(build_model(cfg, 2).state_dict())
    model, optimizer = build_stack(build_model(cfg_list[0], 2).config, states, None, 1e-3)
    for i, state in enumerate(states):
        member = model.member_state_dict(i)
        assert member.keys() == state.keys()
        assert all(torch.equal(member[k], state[k]) for k in state)
    assert member_optimizer_state(model, optimizer, 0)["state"] == {}  # no step taken yet


@pytest.mark.parametrize("model", ["vae", "mim", "ae", "amim", "mim-minusH", "vae-plusH"])
def test_a_run_trained_in_company_equals_the_run_alone(model):
    """Every objective: seeds 3, 1, 2 as one stack give each seed exactly its single-run result."""
    together = train_lowdim_runs(cfgs(model, [3, 1, 2]))
    for outcome in together:
        _, alone = train_lowdim(outcome.cfg)
        assert outcome.error is None
        assert_same_run(outcome.result, alone)


def test_the_result_does_not_depend_on_the_company_or_its_order():
    """Seed 2 alone, with seed 1, and with seeds 4 and 1 in another order; importance-form MIM (decoder used
    twice per step) and a 3-D latent with a narrow hidden layer (unaligned per-run weight blocks)."""
    extra = dict(mim_decoder_qx="importance", z_dim=3, mid_dim=7, epochs=6)
    runs = {seeds: {o.cfg.seed: o.result for o in train_lowdim_runs(cfgs("mim", seeds, **extra))}
            for seeds in [(2,), (1, 2), (4, 2, 1)]}
    assert_same_run(runs[(2,)][2], runs[(1, 2)][2])
    assert_same_run(runs[(2,)][2], runs[(4, 2, 1)][2])
    assert_same_run(runs[(1, 2)][1], runs[(4, 2, 1)][1])


def test_members_stop_early_at_their_own_epochs():
    outcomes = train_lowdim_runs(cfgs("vae", [1, 2, 3, 4], mid_dim=5, epochs=30, dataset_size=256))
    lengths = {o.cfg.seed: len(o.result.history) for o in outcomes}
    assert len(set(lengths.values())) > 1, lengths  # the stack shrank as members stopped
    assert any(o.result.stopped_early for o in outcomes)


def test_resuming_a_stack_reproduces_the_uninterrupted_stack(tmp_path):
    runs = cfgs("mim", [1, 2, 3], epochs=6, warmup_steps=2)
    reference = train_lowdim_runs(runs)
    resumes = [tmp_path / f"seed{cfg.seed}.pt" for cfg in runs]

    class Interrupt(Exception):
        pass

    def crash_at_4(cfg, record):
        if record.epoch == 4:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_lowdim_runs(runs, resume_paths=resumes, on_epoch=crash_at_4)
    assert all(torch.load(p, weights_only=False)["epoch"] == 3 for p in resumes)
    resumes[0].unlink()  # seed 1 starts afresh: the others resume at epoch 4 in their own stack
    seen = []
    resumed = train_lowdim_runs(runs, resume_paths=resumes, on_epoch=lambda cfg, r: seen.append((cfg.seed, r.epoch)))
    assert (1, 1) in seen and (2, 1) not in seen and (2, 4) in seen
    for a, b in zip(resumed, reference):
        assert_same_run(a.result, b.result)


def test_a_non_finite_run_fails_alone(monkeypatch):
    """A NaN loss in one stacked run ends that run with the single-run error; the others are unchanged."""
    real = objective("vae")

    def nan_for_the_second_run(t, beta):
        loss = real.loss(t, beta)
        if loss.dim() == 2 and len(loss) == 3:  # the full stack (runs, batch); once it leaves, stacks of 2
            loss = torch.cat([loss[:1], loss[1:2] * float("nan"), loss[2:]])
        return loss

    runs = cfgs("vae", [1, 2, 3], epochs=3)
    alone = [train_lowdim(cfg)[1] for cfg in runs]
    monkeypatch.setattr(train_mod, "objective", lambda name: Objective("vae", nan_for_the_second_run))
    outcomes = train_lowdim_runs(runs)
    assert isinstance(outcomes[1].error, NonFiniteLossError)
    assert str(outcomes[1].error) == "non-finite encoder-path loss (nan) at epoch 1"
    assert outcomes[1].model is None
    assert_same_run(outcomes[0].result, alone[0])
    assert_same_run(outcomes[2].result, alone[2])


def test_only_seed_may_differ_in_a_stack():
    with pytest.raises(ValueError, match=r"differ only in their seed; seed 2 differs in \['mid_dim'\]"):
        check_stackable([cfgs("vae", [1])[0], cfgs("vae", [2], mid_dim=6)[0]])
    with pytest.raises(ValueError, match="distinct"):
        check_stackable(cfgs("vae", [1, 1]))


def test_a_batch_size_off_the_vector_width_trains_each_run_alone():
    """batch 100: slices would straddle vector loops, so the runs train one by one (same numbers)."""
    runs = cfgs("vae", [1, 2], batch_size=100, dataset_size=500, epochs=3)
    for outcome in train_lowdim_runs(runs):
        assert_same_run(outcome.result, train_lowdim(outcome.cfg)[1])


def test_a_non_finite_test_loss_under_raise_fails_only_that_run(monkeypatch):
    real = train_mod.test_loss
    calls = []

    def nan_for_the_middle_run_at_epoch_2(*args):
        calls.append(1)
        losses = real(*args)
        return torch.cat([losses[:1], losses[1:2] * float("nan"), losses[2:]]) if len(calls) == 2 else losses

    runs = cfgs("vae", [1, 2, 3], epochs=3, non_finite_test_loss="raise")
    alone = [train_lowdim(cfg)[1] for cfg in runs]
    monkeypatch.setattr(train_mod, "test_loss", nan_for_the_middle_run_at_epoch_2)
    outcomes = train_lowdim_runs(runs)
    assert str(outcomes[1].error) == "non-finite test_loss (nan) at epoch 2"
    assert_same_run(outcomes[0].result, alone[0])
    assert_same_run(outcomes[2].result, alone[2])


def test_an_objective_that_draws_gets_its_runs_own_stream():
    """A registered objective with draws=True receives the runs' generators; drawing through standard_normal,
    each seed trains in a stack exactly as alone (with torch's global generator it would not)."""
    from mimflow.lowdim.model import standard_normal
    from mimflow.objectives.vae import vae_loss
    from mimflow.registry import OBJECTIVES, register_objective

    seen = []

    def noisy_vae(t, beta, generator, weight=0.5):
        seen.append(type(generator).__name__)
        noise = standard_normal(t.log_p_z.shape, generator).to(t.log_p_z.device)  # (S, n): a row per stacked run
        return vae_loss(t, beta) + weight * noise * (t.log_q_z_given_x - t.log_p_z)

    register_objective("noisy-vae", noisy_vae, draws=True, settings={"weight": 0.5})
    try:
        together = train_lowdim_runs(cfgs("noisy-vae", [3, 1, 2], objective_settings={"weight": 0.5}))
        for outcome in together:
            _, alone = train_lowdim(outcome.cfg)
            assert_same_run(outcome.result, alone)
        _, vae_alone = train_lowdim(cfgs("vae", [1])[0])
        assert [r.train_loss for r in vae_alone.history] != [r.train_loss for r in together[1].result.history]
    finally:
        OBJECTIVES.unregister("noisy-vae")
    assert set(seen) == {"list"}  # a run alone is a stack of one: always one generator per stacked run


def test_the_mmd_vae_example_batch_terms_and_draws_stack_as_alone():
    """docs/examples/mmd_vae.py (batch-level MMD, prior draws from the run's stream): a seed stacked with
    others trains bit for bit as alone, and the per-epoch test loss is the mean of per-batch losses."""
    import torch

    from mimflow.lowdim.train import test_loss
    from mimflow.plugins import forget_plugin, load_plugins
    from mimflow.registry import OBJECTIVES

    plugin = str(Path(__file__).resolve().parents[2] / "docs" / "examples" / "mmd_vae.py")
    load_plugins([plugin])
    try:
        obj = OBJECTIVES["mmd-vae"]
        assert obj.draws and obj.batch_terms
        together = train_lowdim_runs(cfgs("mmd-vae", [2, 1], objective_settings={"mmd_weight": 100.0}))
        for outcome in together:
            _, alone = train_lowdim(outcome.cfg)
            assert_same_run(outcome.result, alone)
        # test loss: batch by batch at the training batch size, each batch's MMD over its own codes
        cfg = together[0].cfg
        model = together[0].model
        x = torch.randn(1, 3 * cfg.batch_size, 2)
        whole = test_loss(model, x, obj, cfg, [torch.Generator().manual_seed(7)])
        manual, generator = [], [torch.Generator().manual_seed(7)]
        for batch in x.split(cfg.batch_size, dim=-2):
            manual.append(test_loss(model, batch, obj, cfg, generator))
        assert torch.equal(whole, sum(m for m in manual) / len(manual))
        # one call over the whole pass would compare 384 codes at once: another number
        one_call = train_mod._pass_loss(model, x, obj, cfg, [torch.Generator().manual_seed(7)], 1.0)
        assert not torch.equal(whole, one_call)
    finally:
        OBJECTIVES.unregister("mmd-vae")
        forget_plugin(plugin)
