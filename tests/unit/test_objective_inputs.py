"""What an objective sees (docs/extending.md): in both families every loss gets each sample's posterior
parameters and the dataset size N; objectives with batch terms are selected on batches of the training size;
and docs/examples/tc_vae.py, which needs all of it, stacks bit for bit as alone and trains as the VAE at
weight 1."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mimflow.images.data import ImageData
from mimflow.images.settings import ImageRunConfig
from mimflow.lowdim.settings import LowdimRunConfig
from mimflow.plugins import forget_plugin, load_plugins
from mimflow.registry import IMAGE_OBJECTIVES, OBJECTIVES, register_image_objective, register_objective

PLUGIN = str(Path(__file__).resolve().parents[2] / "docs" / "examples" / "tc_vae.py")
LOWDIM = dict(dataset="toy4", z_dim=2, mid_dim=20, epochs=6, warmup_steps=1, dataset_size=1024)


@pytest.fixture
def tc_vae():
    load_plugins([PLUGIN])
    yield
    OBJECTIVES.unregister("tcvae")
    IMAGE_OBJECTIVES.unregister("tcvae")
    forget_plugin(PLUGIN)


@pytest.fixture
def spy():
    """A VAE objective in each family that keeps what its loss was handed."""
    from mimflow.images.objectives import vae_loss as image_vae_loss
    from mimflow.objectives.vae import vae_loss

    seen = {"lowdim": [], "images": []}

    def lowdim(t, beta):
        seen["lowdim"].append(t)
        return vae_loss(t, beta)

    def images(t, beta):
        seen["images"].append(t)
        return image_vae_loss(t, beta)

    register_objective("spy", lowdim)
    register_image_objective("spy", images)
    yield seen
    OBJECTIVES.unregister("spy")
    IMAGE_OBJECTIVES.unregister("spy")


def test_a_lowdim_loss_sees_each_samples_posterior_and_the_pass_size(spy):
    from mimflow.lowdim.train import build_model, train_lowdim_runs

    cfgs = [LowdimRunConfig(model="spy", seed=seed, **{**LOWDIM, "epochs": 1}) for seed in (1, 2)]
    train_lowdim_runs(cfgs)
    first = spy["lowdim"][0]  # the first training batch of the stack of two runs
    assert first.q_loc.shape == first.q_scale.shape == first.z.shape == (2, cfgs[0].batch_size, 2)
    assert first.dataset_size == 1024 // 128 * 128  # the samples of one training pass (drop_last)
    assert all(t.dataset_size == first.dataset_size for t in spy["lowdim"])  # the test loss's too
    # the parameters are the encoder's at the batch's x, for each run of the stack (its initial weights here)
    for index, cfg in enumerate(cfgs):
        torch.manual_seed(cfg.seed)
        loc, scale = build_model(cfg, 2).encoder(first.x[index])
        assert torch.equal(first.q_loc[index].detach(), loc.detach())
        assert torch.equal(first.q_scale[index].detach(), scale.detach())


def test_an_image_loss_sees_both_posteriors_the_sample_and_the_training_size(spy):
    from mimflow.images.losses import image_loss
    from tests.unit.test_hvae import binary_images, make_model

    model = make_model("convhvae_2level", "standard")
    x = binary_images(4)
    image_loss(model, x, "spy", 0.5, torch.Generator().manual_seed(3), dataset_size=4000)
    t = spy["images"][-1]
    assert t["dataset_size"] == 4000 and torch.equal(t["x"], x)
    for name in ("z1", "z2", "q_z1_mean", "q_z1_logvar", "q_z2_mean", "q_z2_logvar"):
        assert t[name].shape == (4, 40), name
    mean, logvar = model.q_z2_params(x)
    assert torch.equal(t["q_z2_mean"], mean) and torch.equal(t["q_z2_logvar"], logvar)
    for name in ("log_p_x_given_z", "log_p_z1_given_z2", "log_p_z2", "log_q_z1_given_x_z2", "log_q_z2_given_x", "kl"):
        assert t[name].shape == (4,), name


def tiny_images() -> ImageData:
    """24 validation images: two batches of the training size 12, three of the test size 8."""
    from tests.unit.test_image_train import tiny_data

    return tiny_data(n_val=24)


def image_config(objective: str, **over) -> ImageRunConfig:
    return ImageRunConfig(**{**dict(dataset="dynamic_mnist", arch="convhvae_2level", objective=objective,
                                    prior="standard", seed=5, epochs=2, warmup=1, early_stopping_epochs=50,
                                    batch_size=12, test_batch_size=8), **over})


def test_image_batch_terms_are_selected_on_training_sized_batches(spy):
    """The validation loss that picks the best epoch: batches of test_batch_size (8) for a per-image objective,
    of the training batch size (12) for one with batch terms, each seeing N = the training images."""
    from mimflow.images.model import build_image_model
    from mimflow.images.train import validation_loss

    data = tiny_images()
    cfg = image_config("spy")
    model = build_image_model(cfg)
    validation_loss(model, data.x_val, cfg, torch.device("cpu"), torch.Generator().manual_seed(0), 40)
    assert [len(t["x"]) for t in spy["images"]] == [8, 8, 8]
    spy["images"].clear()
    IMAGE_OBJECTIVES.unregister("spy")
    register_image_objective("spy", lambda t, beta: spy["images"].append(t) or IMAGE_OBJECTIVES["vae"].loss(t, beta),
                             batch_terms=True)
    validation_loss(model, data.x_val, cfg, torch.device("cpu"), torch.Generator().manual_seed(0), 40)
    assert [len(t["x"]) for t in spy["images"]] == [12, 12]
    assert {t["dataset_size"] for t in spy["images"]} == {40}


def test_the_tc_vae_example_stacks_as_alone_and_is_the_vae_at_weight_one(tc_vae):
    """docs/examples/tc_vae.py uses every sample's posterior and N: a seed trained in a stack of two gives the
    numbers it gives alone, and at tc_weight 1 it trains step for step as the built-in VAE."""
    from mimflow.lowdim.train import train_lowdim, train_lowdim_runs
    from tests.unit.test_stacked import assert_same_run

    settings = {"tc_weight": 6.0}
    together = train_lowdim_runs([LowdimRunConfig(model="tcvae", seed=s, objective_settings=settings, **LOWDIM)
                                  for s in (2, 1)])
    for outcome in together:
        _, alone = train_lowdim(outcome.cfg)
        assert_same_run(outcome.result, alone)
    # weight 1: every training step is the VAE's; only the per-epoch test loss is taken batch by batch (batch
    # terms), with the noise drawn batch after batch, so it is another estimate of the same loss
    _, vae = train_lowdim(LowdimRunConfig(model="vae", seed=1, **{**LOWDIM, "warmup_steps": 99}))
    _, same = train_lowdim(LowdimRunConfig(model="tcvae", seed=1, objective_settings={"tc_weight": 1.0},
                                           **{**LOWDIM, "warmup_steps": 99}))
    assert [r.train_loss for r in vae.history] == [r.train_loss for r in same.history]
    assert together[1].result.history[-1].train_loss != same.history[-1].train_loss  # the term does something


def test_the_image_tc_vae_example_is_the_vae_at_weight_one_and_trains(tc_vae):
    from mimflow.images.train import train_image

    data = tiny_images()
    _, vae = train_image(image_config("vae"), data, torch.device("cpu"))
    _, same = train_image(image_config("tcvae", objective_settings={"tc_weight": 1.0}), data, torch.device("cpu"))
    # every training step is the VAE's; the validation loss is taken on batches of 12 (batch terms), not 8
    assert [r.train_loss for r in vae.history] == [r.train_loss for r in same.history]
    _, heavy = train_image(image_config("tcvae"), data, torch.device("cpu"))
    assert all(torch.isfinite(torch.tensor([r.train_loss, r.val_loss])).all() for r in heavy.history)
    assert heavy.history[0].train_loss != vae.history[0].train_loss
