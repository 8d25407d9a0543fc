"""Spec 3.1 and 3.6: schedules, the training loop, early stopping, resume, and evaluation determinism."""
from __future__ import annotations

import math

import pytest
import torch

import mimflow.lowdim.train as train_mod
from mimflow.core.fit import NonFiniteLossError
from mimflow.lowdim.data import lowdim_source
from mimflow.lowdim.evaluate import evaluate_lowdim
from mimflow.lowdim.train import Objective, objective
from mimflow.lowdim.model import decoder_path, encoder_path
from mimflow.lowdim.settings import EvaluationConfig, LowdimRunConfig
from mimflow.lowdim.train import beta_schedule, noam_lr, train_lowdim
from mimflow.lowdim.train import test_loss as epoch_test_loss

SMALL = dict(dataset="toy4", z_dim=2, mid_dim=5, seed=3, epochs=4, warmup_steps=1, dataset_size=640)


def assert_states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ---- schedules ---------------------------------------------------------------------------------

def test_beta_schedule():
    assert [beta_schedule(e, 3) for e in (1, 2, 3, 4, 50)] == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0, 1.0])
    assert [beta_schedule(e, 25) for e in (1, 25, 26)] == pytest.approx([0.04, 1.0, 1.0])
    assert all(beta_schedule(e, 3, autoencoder=True) == 0.0 for e in (1, 3, 10))


def test_noam_lr():
    got = [noam_lr(e, 1e-3, 3) for e in (1, 2, 3, 4, 5)]
    assert got == pytest.approx([3.333e-4, 6.667e-4, 1e-3, 8.660e-4, 7.746e-4], rel=1e-3)
    assert noam_lr(200, 1e-3, 3) == pytest.approx(1.2247e-4, rel=1e-4)
    assert noam_lr(25, 1e-3, 25) == pytest.approx(1e-3)
    assert noam_lr(10, 1e-3, 25) == pytest.approx(4e-4)


# ---- training ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mim_run():
    cfg = LowdimRunConfig(model="mim", **SMALL)
    return cfg, train_lowdim(cfg)


def test_training_is_deterministic(mim_run):
    cfg, (model_a, result_a) = mim_run
    model_b, result_b = train_lowdim(cfg)
    assert [r.test_loss for r in result_a.history] == [r.test_loss for r in result_b.history]
    assert [r.train_loss for r in result_a.history] == [r.train_loss for r in result_b.history]
    assert (result_a.best_epoch, result_a.best_loss) == (result_b.best_epoch, result_b.best_loss)
    assert_states_equal(model_a.state_dict(), model_b.state_dict())
    assert_states_equal(result_a.best_state, result_b.best_state)


def test_seed_changes_the_run(mim_run):
    cfg, (_, result_a) = mim_run
    _, result_b = train_lowdim(LowdimRunConfig(model="mim", **{**SMALL, "seed": 4}))
    assert [r.test_loss for r in result_a.history] != [r.test_loss for r in result_b.history]


def test_history_follows_schedules_and_best_is_loaded(mim_run):
    cfg, (model, result) = mim_run
    assert [r.epoch for r in result.history] == list(range(1, len(result.history) + 1))
    for r in result.history:
        assert r.beta == beta_schedule(r.epoch, cfg.warmup_steps)
        assert r.lr == pytest.approx(noam_lr(r.epoch, cfg.lr, cfg.warmup_steps))
        assert math.isfinite(r.train_loss) and math.isfinite(r.test_loss)
    eligible = [r for r in result.history if r.epoch >= cfg.warmup_steps]
    best = min(eligible, key=lambda r: r.test_loss)
    assert (result.best_epoch, result.best_loss) == (best.epoch, best.test_loss)
    assert_states_equal(model.state_dict(), result.best_state)


def test_fidelity_switch_reaches_the_training_loop(mim_run):
    cfg, (_, result_2019) = mim_run
    _, result_imp = train_lowdim(LowdimRunConfig.from_dict({**cfg.to_dict(), "mim_decoder_qx": "importance"}))
    assert result_imp.history[0].train_loss != result_2019.history[0].train_loss  # beta = 1 from epoch 1
    _, vae_a = train_lowdim(LowdimRunConfig(model="vae", **{**SMALL, "epochs": 2}))
    _, vae_b = train_lowdim(LowdimRunConfig(model="vae", **{**SMALL, "epochs": 2, "mim_decoder_qx": "importance"}))
    assert [r.test_loss for r in vae_a.history] == [r.test_loss for r in vae_b.history]  # no sampling path


def test_ae_trains_with_beta_zero_and_delta_encoder():
    model, result = train_lowdim(LowdimRunConfig(model="ae", **{**SMALL, "epochs": 2}))
    assert all(r.beta == 0.0 for r in result.history)
    assert model.encoder.delta
    assert not train_mod.build_model(LowdimRunConfig(model="vae", **SMALL), 2).encoder.delta


@pytest.mark.parametrize("q_x_form", ["2019", "importance"])
def test_epoch_test_loss_formula(mim_run, q_x_form):
    cfg0, (model, _) = mim_run
    cfg = LowdimRunConfig.from_dict({**cfg0.to_dict(), "mim_decoder_qx": q_x_form})
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(9))
    for name in ("vae", "mim", "ae"):
        obj = objective(name)
        beta = 0.0 if obj.autoencoder else 1.0
        got = float(epoch_test_loss(model, x, obj, cfg, torch.Generator().manual_seed(10)))
        g = torch.Generator().manual_seed(10)
        with torch.no_grad():
            expected = obj.loss(encoder_path(model, x, g), beta).mean()
            if obj.sampling_path:  # prior draws, as many as test points; the two paths averaged
                z_obs = torch.randn(64, cfg.z_dim, generator=g)
                expected = (expected + obj.loss(decoder_path(model, z_obs, g, cfg.mim_decoder_qx), beta).mean()) / 2
        assert got == pytest.approx(expected.item(), rel=1e-6), name


def test_one_epoch_replay_of_the_mim_update():
    """Spec 3.4: per batch, mean(L_enc) + beta * mean(L_dec) on 128 fresh prior draws, one Adam step;
    the logged train loss is the sum over both paths averaged over batches and halved."""
    cfg = LowdimRunConfig(model="mim", **{**SMALL, "epochs": 1, "dataset_size": 256})
    trained, result = train_lowdim(cfg)

    obj = objective("mim")
    torch.manual_seed(cfg.seed)
    model = train_mod.build_model(cfg, 2)
    g = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=noam_lr(1, cfg.lr, cfg.warmup_steps))
    source = lowdim_source(cfg)
    x_train, _ = source.train_pass(g)
    total = 0.0
    for batch in x_train.split(cfg.batch_size):
        opt.zero_grad()
        enc = obj.loss(encoder_path(model, batch, g), 1.0).mean()
        enc.backward()
        z_obs = torch.randn(cfg.batch_size, cfg.z_dim, generator=g)
        dec = obj.loss(decoder_path(model, z_obs, g, "2019"), 1.0).mean()
        dec.backward()
        total += enc.item() + dec.item()
        opt.step()
    x_test, _ = source.test_pass(g)
    expected_test = float(epoch_test_loss(model, x_test, obj, cfg, g))

    assert result.history[0].train_loss == pytest.approx(total / 2 / 2, rel=1e-6)
    assert result.history[0].test_loss == pytest.approx(expected_test, rel=1e-6)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(trained.state_dict()[key], value)


def test_sampling_path_waits_for_beta_one():
    """Spec 3.4: MIM's decoder path trains only once beta >= 1, so during warm-up MIM updates like A-MIM
    (and its logged train loss is still halved)."""
    settings = {**SMALL, "epochs": 1, "warmup_steps": 2, "dataset_size": 256}
    mim_model, mim = train_lowdim(LowdimRunConfig(model="mim", **settings))
    amim_model, amim = train_lowdim(LowdimRunConfig(model="amim", **settings))
    assert mim.history[0].beta == 0.5
    assert_states_equal(mim_model.state_dict(), amim_model.state_dict())
    assert mim.history[0].train_loss == pytest.approx(amim.history[0].train_loss / 2, rel=1e-6)
    assert mim.history[0].test_loss != amim.history[0].test_loss  # the test loss always adds the decoder path


def _expected_stop(losses: list[float], w: int, epochs: int):
    best_epoch, best = -1, math.inf
    for e, loss in enumerate(losses, start=1):
        if e >= w and loss < best:
            best_epoch, best = e, loss
        if e >= w and e - best_epoch > w:
            return e, best_epoch, best, True
    return epochs, best_epoch, best, False


@pytest.mark.parametrize("seed, warmup", [(1, 1), (2, 1), (3, 1), (1, 2), (2, 3)])
def test_early_stopping(seed, warmup):
    cfg = LowdimRunConfig(dataset="toy4", model="vae", z_dim=2, mid_dim=5, seed=seed, epochs=30,
                          warmup_steps=warmup, dataset_size=256)
    _, result = train_lowdim(cfg)
    losses = [r.test_loss for r in result.history]
    stop_epoch, best_epoch, best_loss, stopped = _expected_stop(losses, warmup, cfg.epochs)
    assert len(result.history) == stop_epoch
    assert (result.best_epoch, result.best_loss, result.stopped_early) == (best_epoch, best_loss, stopped)
    if result.stopped_early:
        assert result.history[-1].epoch - result.best_epoch == warmup + 1
    assert result.best_loss == min(r.test_loss for r in result.history if r.epoch >= warmup)


def test_early_stopping_happens_on_a_noisy_short_run():
    cfg = LowdimRunConfig(dataset="toy4", model="vae", z_dim=2, mid_dim=5, seed=2, epochs=30,
                          warmup_steps=1, dataset_size=256)
    _, result = train_lowdim(cfg)
    assert result.stopped_early and len(result.history) < cfg.epochs
    assert result.history[-1].epoch - result.best_epoch == 2


def test_fewer_epochs_than_warmup_keeps_last_model():
    cfg = LowdimRunConfig(model="vae", **{**SMALL, "epochs": 2, "warmup_steps": 3})
    model, result = train_lowdim(cfg)
    assert len(result.history) == 2 and not result.stopped_early
    assert (result.best_epoch, result.best_loss) == (2, result.history[-1].test_loss)
    assert_states_equal(model.state_dict(), result.best_state)


class Interrupt(Exception):
    pass


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    cfg = LowdimRunConfig(model="mim", **{**SMALL, "epochs": 6, "warmup_steps": 2, "seed": 5})
    _, full = train_lowdim(cfg)
    assert len(full.history) >= 4, "the run must reach the interruption point"

    def crash_at_4(model, record):
        if record.epoch == 4:
            raise Interrupt

    resume = tmp_path / "r.pt"
    with pytest.raises(Interrupt):
        train_lowdim(cfg, resume_path=resume, on_epoch=crash_at_4)
    saved = torch.load(resume, weights_only=False)
    assert saved["epoch"] == 3 and len(saved["history"]) == 3 and not saved["finished"]

    seen = []
    model, resumed = train_lowdim(cfg, resume_path=resume, on_epoch=lambda m, r: seen.append(r.epoch))
    assert seen == list(range(4, len(full.history) + 1))  # only the missing epochs ran
    assert [r.test_loss for r in resumed.history] == [r.test_loss for r in full.history]
    assert [r.train_loss for r in resumed.history] == [r.train_loss for r in full.history]
    assert (resumed.best_epoch, resumed.best_loss, resumed.stopped_early) == \
        (full.best_epoch, full.best_loss, full.stopped_early)
    assert_states_equal(resumed.best_state, full.best_state)
    assert_states_equal(model.state_dict(), full.best_state)

    # a finished checkpoint trains nothing more and returns the same result
    seen.clear()
    _, again = train_lowdim(cfg, resume_path=resume, on_epoch=lambda m, r: seen.append(r.epoch))
    assert seen == []
    assert_states_equal(again.best_state, full.best_state)



def test_resume_checkpoint_of_other_settings_restarts_with_a_warning(tmp_path, caplog):
    """One resume policy for both families (core.fit): a stale resume.pt is logged and replaced."""
    first = LowdimRunConfig(model="mim", **{**SMALL, "epochs": 3, "warmup_steps": 2, "seed": 5})
    resume = tmp_path / "r.pt"
    train_lowdim(first, resume_path=resume)
    other = LowdimRunConfig(model="mim", **{**SMALL, "epochs": 4, "warmup_steps": 2, "seed": 5})
    seen = []
    with caplog.at_level("WARNING"):
        _, restarted = train_lowdim(other, resume_path=resume, on_epoch=lambda m, r: seen.append(r.epoch))
    assert "written for other settings" in caplog.text
    assert seen == [1, 2, 3, 4]  # trained from epoch 1, not resumed
    _, fresh = train_lowdim(other)
    assert [r.test_loss for r in restarted.history] == [r.test_loss for r in fresh.history]
    assert torch.load(resume, weights_only=False)["settings"] == other.to_dict()


def test_non_finite_loss_names_epoch_and_term(monkeypatch):
    nan_vae = Objective("vae", lambda t, beta: t.log_p_x_given_z * float("nan"))
    monkeypatch.setattr(train_mod, "objective", lambda name: nan_vae)
    with pytest.raises(NonFiniteLossError) as info:
        train_lowdim(LowdimRunConfig(model="vae", **SMALL))
    message = str(info.value)
    assert "epoch 1" in message and "encoder-path" in message


def test_non_finite_decoder_path_loss_is_named(monkeypatch):
    def loss(t, beta):  # finite on the encoder path (x_recon set), NaN on the decoder path
        return -t.log_p_x_given_z if t.x_recon is not None else t.log_p_x_given_z * float("nan")

    monkeypatch.setattr(train_mod, "objective", lambda name: Objective("mim", loss, sampling_path=True))
    with pytest.raises(NonFiniteLossError, match=r"decoder-path.*epoch 1\b"):
        train_lowdim(LowdimRunConfig(model="mim", **SMALL))


# ---- evaluation ----------------------------------------------------------------------------------

def test_evaluation_draws_in_the_original_order(mim_run):
    """The original's evaluation: the training pass, the codes of the training points (encoder draws), then
    the test pass. The draw order fixes every paper dataset's metrics, so it must not move."""
    cfg, (model, _) = mim_run
    source = lowdim_source(cfg)
    calls = []

    class Recording:
        x_dim = source.x_dim

        def train_pass(self, generator):
            out = source.train_pass(generator)
            calls.append(("train", generator.get_state().clone()))
            return out

        def test_pass(self, generator):
            calls.append(("test", generator.get_state().clone()))
            return source.test_pass(generator)

        def true_log_prob(self, x):
            return source.true_log_prob(x)

    evaluate_lowdim(model, Recording(), cfg, EvaluationConfig(ksg_max_points=200), torch.Generator().manual_seed(0))
    assert [name for name, _ in calls] == ["train", "test"]
    # between them: the training points' encoder draws (the generator moved)
    assert not torch.equal(calls[0][1], calls[1][1])


def test_evaluation_is_deterministic_and_consistent(mim_run):
    cfg, (model, _) = mim_run
    source = lowdim_source(cfg)
    ev = EvaluationConfig(ksg_max_points=500)
    a = evaluate_lowdim(model, source, cfg, ev, torch.Generator().manual_seed(0))
    b = evaluate_lowdim(model, source, cfg, ev, torch.Generator().manual_seed(0))
    assert a == b
    c = evaluate_lowdim(model, source, cfg, ev, torch.Generator().manual_seed(1))
    assert a["MI_ksg"] != c["MI_ksg"]
    expected_keys = {"MI_ksg", "MI_ksg_l2_err", "MI", "H_q_x", "H_p_z", "H_enc", "H_dec", "H_Msamp", "H_mean",
                     "Dkl_q_p", "Dkl_p_q", "Dkl", "H_P_x", "H_P_z", "x_recon_err", "n_test",
                     "clf_acc_KNN1", "clf_acc_KNN3", "clf_acc_KNN5", "clf_acc_KNN10"}
    assert set(a) == expected_keys
    assert all(math.isfinite(v) for v in a.values())
    assert a["n_test"] == 640
    assert a["MI_ksg_l2_err"] == pytest.approx(500 ** -0.5 + 500 ** -0.25)
    assert a["H_mean"] == pytest.approx(0.5 * (a["H_enc"] + a["H_dec"]))
    assert a["Dkl"] == pytest.approx(0.5 * (a["Dkl_q_p"] + a["Dkl_p_q"]))
    assert a["H_P_x"] == pytest.approx(1.56, abs=0.15)
    # H_enc = -<log q(x) + log q(z|x)>, MI = <log q(z|x) - log p(z)>, H_p_z = -<log p(z)> at the same z
    assert a["H_enc"] == pytest.approx(a["H_q_x"] - a["MI"] + a["H_p_z"], rel=1e-5, abs=1e-4)
    assert a["H_P_z"] == pytest.approx(a["H_p_z"], rel=1e-4)  # N(0, 1) vs N(0, (1 + 1e-6)^2)
    assert a["x_recon_err"] > 0
    assert all(0.0 <= a[f"clf_acc_KNN{k}"] <= 1.0 for k in (1, 3, 5, 10))
    # Jensen: -log(1/2 e^a + 1/2 e^b) <= -(a + b)/2 per point, so H_Msamp <= H_mean
    assert a["H_Msamp"] <= a["H_mean"] + 1e-6


def test_constant_beta_schedule_trains_at_beta_one_from_the_first_epoch():
    assert [beta_schedule(e, 3, schedule="constant") for e in (1, 2, 3, 4)] == [1.0, 1.0, 1.0, 1.0]
    assert beta_schedule(1, 3, autoencoder=True, schedule="constant") == 0.0
    cfg = LowdimRunConfig(model="mim-minusH", **{**SMALL, "epochs": 3, "warmup_steps": 3}, beta_schedule="constant")
    _, result = train_lowdim(cfg)
    assert [r.beta for r in result.history] == [1.0, 1.0, 1.0]
    assert [r.lr for r in result.history] == [noam_lr(e, cfg.lr, 3) for e in (1, 2, 3)]  # the lr keeps its warm-up


def test_non_finite_test_loss_is_skipped_as_a_candidate(monkeypatch, caplog):
    """The original's policy: a NaN test-loss epoch is logged and never the best checkpoint."""
    real = train_mod.test_loss
    calls = []

    def nan_at_epoch_3(*args):  # per stacked run, as the real one
        calls.append(1)
        losses = real(*args)
        return torch.full_like(losses, float("nan")) if len(calls) == 3 else losses

    monkeypatch.setattr(train_mod, "test_loss", nan_at_epoch_3)
    cfg = LowdimRunConfig(model="vae", **{**SMALL, "epochs": 5, "warmup_steps": 1})
    with caplog.at_level("WARNING"):
        _, result = train_lowdim(cfg)
    assert "non-finite test_loss (nan) at epoch 3: not a best-checkpoint candidate" in caplog.text
    assert len(result.history) >= 3 and result.best_epoch != 3 and math.isfinite(result.best_loss)
    calls.clear()
    with pytest.raises(NonFiniteLossError, match="epoch 3"):
        train_lowdim(LowdimRunConfig(model="vae", **{**SMALL, "epochs": 5, "warmup_steps": 1},
                                     non_finite_test_loss="raise"))
