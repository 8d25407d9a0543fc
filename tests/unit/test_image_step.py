"""The image training step (issue 40): bf16 that trains, the multi-tensor optimiser against its per-tensor
reference, and the epoch binarised in one draw against one draw per batch."""
from __future__ import annotations

import pytest
import torch

from mimflow.core.device import numerics, step_autocast
from mimflow.images.data import EpochBinarizer, training_generators
from mimflow.images.model import build_image_model
from mimflow.images.optim import AdamNormGrad
from mimflow.images.settings import ImageRunConfig
from mimflow.images.train import train_image

from .test_image_train import config, tiny_data

CPU = torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# bf16: autocast per step, never across an optimiser step
# ---------------------------------------------------------------------------------------------

def test_a_fresh_autocast_region_sees_the_weights_after_a_step():
    # What went wrong: one autocast region around the whole fit kept the bf16 copies of the initial weights.
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 8)
    optimizer = torch.optim.SGD(layer.parameters(), lr=1.0)
    x = torch.randn(4, 8)
    with numerics("bf16", CPU, autocast=False):
        with step_autocast("bf16", CPU):
            before = layer(x)
            assert before.dtype == torch.bfloat16
        before.float().sum().backward()
        optimizer.step()
        with step_autocast("bf16", CPU):
            after = layer(x)
    assert not torch.equal(before, after)
    assert step_autocast("fp32", CPU).__class__ is step_autocast("tf32", CPU).__class__  # no autocast there


def _grey_images(n: int = 400, seed: int = 0):
    from mimflow.images.data import ImageData

    g = torch.Generator().manual_seed(seed)
    grey = torch.rand(n, 784, generator=g) * torch.linspace(0.05, 0.95, 784)  # pixels of different means
    labels = torch.zeros(n, dtype=torch.long)
    val = torch.bernoulli(grey[:40], generator=g)
    return ImageData(grey, labels, val, labels[:40], val, labels[:40])


def test_bf16_training_learns_like_fp32():
    # Conv HVAE, standard prior, VAE, 400 grey images, 4 epochs: with the weights frozen under one autocast
    # region (the old path) the bf16 train loss stayed flat (597.4 -> 596.5) while fp32 fell (588.8 -> 551.3).
    torch.set_num_threads(1)
    data = _grey_images()
    drops = {}
    for precision in ("fp32", "bf16"):
        cfg = ImageRunConfig(dataset="dynamic_mnist", arch="convhvae_2level", objective="vae", prior="standard",
                             seed=1, epochs=4, warmup=1, batch_size=100, test_batch_size=40,
                             image_precision=precision)
        _, result = train_image(cfg, data, CPU)
        losses = [r.train_loss for r in result.history]
        drops[precision] = losses[0] - losses[-1]
    assert drops["fp32"] > 10  # the model learns in 4 epochs
    assert drops["bf16"] > 0.5 * drops["fp32"], drops


# ---------------------------------------------------------------------------------------------
# AdamNormGrad: multi-tensor update == the per-tensor reference
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
@pytest.mark.parametrize("arch, prior", [("convhvae_2level", "vampprior"), ("pixelhvae_2level", "standard")])
def test_multi_tensor_adam_norm_grad_equals_the_per_tensor_form_bit_for_bit(arch, prior, weight_decay):
    torch.set_num_threads(1)
    cfg = ImageRunConfig(dataset="dynamic_mnist", arch=arch, objective="smim", prior=prior, seed=3,
                         number_components=8)
    models, optimizers = [], []
    for foreach in (False, True):
        torch.manual_seed(cfg.seed)
        model = build_image_model(cfg)
        models.append(model)
        optimizers.append(AdamNormGrad(model.parameters(), lr=5e-4, weight_decay=weight_decay, foreach=foreach))
    g = torch.Generator().manual_seed(0)
    for step in range(3):
        grads = [torch.randn(p.shape, generator=g) * 10.0 ** (i % 5 - 2) for i, p in enumerate(models[0].parameters())]
        for model, optimizer in zip(models, optimizers):
            for p, grad in zip(model.parameters(), grads):
                p.grad = None if (step == 1 and p.dim() == 1) else grad.clone()  # some tensors skip a step
            optimizer.step()
    for reference, fast in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(reference, fast)
    for reference, fast in zip(optimizers[0].state.values(), optimizers[1].state.values()):
        assert reference["step"] == fast["step"]
        assert torch.equal(reference["exp_avg"], fast["exp_avg"])
        assert torch.equal(reference["exp_avg_sq"], fast["exp_avg_sq"])


def test_the_optimiser_state_is_the_same_for_both_forms():
    # A resume.pt written by either form loads into the other.
    layer = torch.nn.Linear(3, 2)
    layer.weight.grad, layer.bias.grad = torch.ones(2, 3), torch.ones(2)
    a, b = AdamNormGrad(layer.parameters(), foreach=False), AdamNormGrad(layer.parameters(), foreach=True)
    a.step()
    b.load_state_dict(a.state_dict())
    assert b.state_dict()["state"][0]["step"] == 1


# ---------------------------------------------------------------------------------------------
# Dynamic binarisation: one draw per epoch == one draw per batch (CPU)
# ---------------------------------------------------------------------------------------------

def test_one_draw_per_epoch_equals_one_draw_per_batch():
    torch.set_num_threads(2)
    grey = torch.rand(1050, 784, generator=torch.Generator().manual_seed(4))
    generators = training_generators(9, CPU)
    binarize = EpochBinarizer(grey, generators, CPU)
    epochs = [binarize.epoch() for _ in range(2)]
    stream = training_generators(9, CPU)["data"]  # the old loop: a permutation, then one draw per batch
    for epoch in epochs:
        order = torch.randperm(len(grey), generator=stream)
        old = torch.cat([torch.bernoulli(grey[index], generator=stream) for index in order.split(100)])
        assert torch.equal(epoch, old)
    assert torch.equal(stream.get_state(), generators["data"].get_state())
    assert "binarize" not in generators  # the CPU streams, and so resume.pt, are as before


def test_training_is_the_same_run_after_run():
    torch.set_num_threads(1)
    cfg = config(epochs=2)
    first = [(r.train_loss, r.val_loss) for r in train_image(cfg, tiny_data(), CPU)[1].history]
    second = [(r.train_loss, r.val_loss) for r in train_image(cfg, tiny_data(), CPU)[1].history]
    assert first == second


def test_a_binarize_stream_of_its_own_draws_the_pixels_and_the_data_stream_the_order():
    # The CUDA path (training_generators adds a "binarize" generator on the device), with a CPU generator in
    # its place: the order stays the data stream's, the pixels come from the other stream.
    grey = torch.rand(300, 784, generator=torch.Generator().manual_seed(5))
    generators = {"data": torch.Generator().manual_seed(1), "binarize": torch.Generator().manual_seed(2)}
    epoch = EpochBinarizer(grey, generators, CPU).epoch()
    data = torch.Generator().manual_seed(1)
    order = torch.randperm(300, generator=data)
    assert torch.equal(epoch, torch.bernoulli(grey[order], generator=torch.Generator().manual_seed(2)))
    assert torch.equal(generators["data"].get_state(), data.get_state())  # the permutation took all it drew
