"""Image training loop: determinism, resume after an interruption, early stopping held during warm-up."""
from __future__ import annotations

import pytest
import torch

from mimflow.image_config import ImageRunConfig
from mimflow.image_train import ImageData, train_image

CPU = torch.device("cpu")


def tiny_data(seed: int = 0) -> ImageData:
    g = torch.Generator().manual_seed(seed)
    grey = torch.rand(40, 784, generator=g)
    labels = torch.randint(0, 3, (40,), generator=g)
    binary = torch.bernoulli(torch.rand(16, 784, generator=g), generator=g)
    return ImageData(grey, labels, binary[:8], labels[:8], binary[8:], labels[8:16])


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
    assert torch.load(resume, weights_only=False)["epoch"] == 2
    _, resumed = train_image(cfg, tiny_data(), CPU, resume)
    assert [r.val_loss for r in resumed.history] == [r.val_loss for r in reference.history]
    for key, value in reference.best_state.items():
        assert torch.equal(value, resumed.best_state[key]), key


def test_resume_with_other_settings_starts_afresh(tmp_path):
    resume = tmp_path / "resume.pt"
    train_image(config(epochs=2), tiny_data(), CPU, resume)
    _, result = train_image(config(epochs=3, lr=1e-3), tiny_data(), CPU, resume)
    assert [r.epoch for r in result.history] == [1, 2, 3]


def test_early_stopping_waits_for_warmup():
    # patience 1: without the warm-up hold, a non-improving epoch 2 or 3 would stop the run early
    _, result = train_image(config(epochs=4, warmup=4, early_stopping_epochs=1, objective="vae"), tiny_data(), CPU)
    assert len(result.history) == 4
    assert result.history[0].beta == pytest.approx(0.25) and result.history[-1].beta == 1.0
