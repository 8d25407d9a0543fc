"""Image training (its epoch step in core.fit): determinism, resume after an interruption, early stopping
held during warm-up, and the model.pt round trip."""
from __future__ import annotations

import logging
import math
import random

import pytest
import torch

from mimflow.core.checkpoint import save_checkpoint
from mimflow.core.fit import StopRule
from mimflow.images.data import ImageData
from mimflow.images.model import load_image_model
from mimflow.images.settings import ImageRunConfig
from mimflow.images.train import train_image

CPU = torch.device("cpu")


def tiny_data(seed: int = 0, n_val: int = 8) -> ImageData:
    """40 grey training images, n_val binary validation and 8 binary test images, 3 classes."""
    g = torch.Generator().manual_seed(seed)
    grey = torch.rand(40, 784, generator=g)
    labels = torch.randint(0, 3, (40,), generator=g)
    binary = torch.bernoulli(torch.rand(n_val + 8, 784, generator=g), generator=g)
    return ImageData(grey, labels, binary[:n_val], labels[:n_val], binary[n_val:], labels[n_val:n_val + 8])


def config(**over) -> ImageRunConfig:
    base = dict(dataset="dynamic_mnist", arch="convhvae_2level", objective="smim", prior="vampprior", seed=5,
                epochs=4, warmup=2, early_stopping_epochs=50, batch_size=20, test_batch_size=8, number_components=8)
    base.update(over)
    return ImageRunConfig(**base)


class Interrupt(Exception):
    pass


def test_resume_after_interruption_matches_uninterrupted(tmp_path):
    torch.set_num_threads(1)
    cfg = config()
    _, reference = train_image(cfg, tiny_data(), CPU)

    def stop_at_3(model, record):
        if record.epoch == 3:
            raise Interrupt

    resume = tmp_path / "resume.pt"
    with pytest.raises(Interrupt):
        train_image(cfg, tiny_data(), CPU, resume, stop_at_3)
    saved = torch.load(resume, weights_only=False)
    assert saved["epoch"] == 2 and saved["settings"] == cfg.to_dict()  # core.fit's resume state
    seen = []
    _, resumed = train_image(cfg, tiny_data(), CPU, resume, lambda m, r: seen.append(r.epoch))
    assert seen == [3, 4]
    assert [r.val_loss for r in resumed.history] == [r.val_loss for r in reference.history]
    assert [r.train_loss for r in resumed.history] == [r.train_loss for r in reference.history]
    assert (resumed.best_epoch, resumed.best_loss) == (reference.best_epoch, reference.best_loss)
    for key, value in reference.best_state.items():
        assert torch.equal(value, resumed.best_state[key]), key


def test_resume_with_other_settings_starts_afresh(tmp_path, caplog):
    resume = tmp_path / "resume.pt"
    train_image(config(epochs=2), tiny_data(), CPU, resume)
    with caplog.at_level(logging.WARNING):
        _, result = train_image(config(epochs=3, lr=1e-3), tiny_data(), CPU, resume)
    assert [r.epoch for r in result.history] == [1, 2, 3]
    assert "other settings" in caplog.text


def test_early_stopping_waits_for_warmup():
    # patience 1: without the warm-up hold, a non-improving epoch 2 or 3 would stop the run early
    _, result = train_image(config(epochs=4, warmup=4, early_stopping_epochs=1, objective="vae"), tiny_data(), CPU)
    assert len(result.history) == 4
    assert result.history[0].beta == pytest.approx(0.25) and result.history[-1].beta == 1.0


def old_patience_stops(losses: list[float], warmup: int, early_stopping_epochs: int) -> list[bool]:
    """The image loop's own counter before core.fit: reset on a new best, +1 otherwise, 0 during warm-up."""
    best, patience, stops = float("inf"), 0, []
    for epoch, loss in enumerate(losses, 1):
        if loss < best:
            best, patience = loss, 0
        else:
            patience += 1
        if epoch < warmup:
            patience = 0
        stops.append(patience > early_stopping_epochs)
    return stops


@pytest.mark.parametrize("warmup, early_stopping_epochs", [(1, 1), (1, 3), (3, 1), (4, 2), (6, 5)])
def test_stop_rule_reproduces_the_old_patience_counter(warmup, early_stopping_epochs):
    rule = StopRule(candidate_from=1, count_from=warmup, patience=early_stopping_epochs)
    rng = random.Random(warmup * 100 + early_stopping_epochs)
    for _ in range(200):
        losses = [rng.choice([1.0, 2.0, 3.0, 4.0]) for _ in range(12)]
        best, best_epoch, stops = float("inf"), -1, []
        for epoch, loss in enumerate(losses, 1):
            if loss < best:
                best, best_epoch = loss, epoch
            stops.append(rule.epochs_without_improvement(epoch, best_epoch) > rule.patience)
        assert stops == old_patience_stops(losses, warmup, early_stopping_epochs), losses


def test_model_checkpoint_round_trip(tmp_path):
    cfg = config(epochs=1)
    model, result = train_image(cfg, tiny_data(), CPU)
    save_checkpoint(tmp_path / "model.pt", cfg.to_dict(), model, result)
    loaded, loaded_cfg, state = load_image_model(tmp_path / "model.pt", CPU)
    assert loaded_cfg == cfg and not loaded.training
    assert (state["best_epoch"], state["epochs_run"]) == (1, 1)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_non_finite_validation_stops_at_the_best_checkpoint(monkeypatch, caplog):
    """The original image code: a NaN validation loss stops training and the best checkpoint is kept."""
    import mimflow.images.train as image_train

    real, calls = image_train.image_loss, []

    def nan_from_epoch_2(model, x, objective, beta, generator, settings=None, dataset_size=None):
        calls.append(model.training)
        epoch_two = sum(calls) > 2  # 40 images at batch 20: 2 training steps per epoch
        loss, parts = real(model, x, objective, beta, generator, settings, dataset_size)
        return (loss * float("nan"), parts) if epoch_two else (loss, parts)

    monkeypatch.setattr(image_train, "image_loss", nan_from_epoch_2)
    with caplog.at_level(logging.WARNING):
        model, result = train_image(config(epochs=4), tiny_data(), CPU)
    assert "training stops at the best checkpoint" in caplog.text
    assert [r.epoch for r in result.history] == [1, 2] and result.best_epoch == 1 and result.stopped_early
    assert all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point())


@pytest.mark.parametrize("arch,objective", [("convhvae_2level", "smim"), ("pixelhvae_2level", "amim")])
def test_clustering_along_training_leaves_the_training_unchanged(arch, objective):
    """Scoring the validation latents every other epoch draws from its own stream: the losses, the best
    epoch and every weight equal those of the run without it, and the scored epochs hold the clustering."""
    torch.set_num_threads(1)
    cfg = config(arch=arch, objective=objective, epochs=3)
    _, plain = train_image(cfg, tiny_data(), CPU)
    _, scored = train_image(cfg, tiny_data(), CPU, clustering_every=2)
    assert [(r.train_loss, r.val_loss) for r in scored.history] == [(r.train_loss, r.val_loss) for r in plain.history]
    assert scored.best_epoch == plain.best_epoch
    for key, value in plain.best_state.items():
        assert torch.equal(value, scored.best_state[key]), key
    assert type(plain.history[0]).__name__ == "ImageEpochRecord"  # off: today's columns, nothing added
    first, second, third = scored.history
    assert math.isnan(first.val_KNN5) and math.isnan(third.val_NMI)
    assert 0.0 <= second.val_KNN1 <= 1.0 and 0.0 <= second.val_KNN10 <= 1.0 and 0.0 <= second.val_NMI <= 1.0
    assert 0 <= second.active_units_z1 <= cfg.z1_size and 0 <= second.active_units_z2 <= cfg.z2_size


def test_clustering_scores_repeat_for_the_same_weights():
    """Every scoring draws the same noise: the same model scores the same, so a trajectory's epochs differ by the
    model only."""
    from mimflow.images.evaluate import validation_clustering

    model, _ = train_image(config(epochs=1), tiny_data(), CPU)
    assert validation_clustering(model, tiny_data(), config(), CPU) == validation_clustering(model, tiny_data(),
                                                                                              config(), CPU)


def test_a_resume_state_without_clustering_is_not_reused_with_it(tmp_path):
    resume = tmp_path / "resume.pt"
    train_image(config(epochs=2), tiny_data(), CPU, resume)
    _, result = train_image(config(epochs=2), tiny_data(), CPU, resume, clustering_every=1)
    assert [r.epoch for r in result.history] == [1, 2] and not math.isnan(result.history[0].val_KNN5)
