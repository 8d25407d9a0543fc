"""Spec 6.3-6.5: the two-level HVAEs, their losses, the importance-sampled NLL and AdamNormGrad."""
from __future__ import annotations

import math

import pytest
import torch

from mimflow.images.layers import MaskedConv2d, log_bernoulli, log_normal_diag
from mimflow.images.losses import (
    add_score_function_term,
    image_loss,
    importance_pass_plan,
    importance_sampled_nll,
    vae_elbo_terms,
)
from mimflow.images.model import HVAEConfig, build_hvae
from mimflow.images.optim import AdamNormGrad
from mimflow.names import ARCHS, PRIORS
from mimflow.registry import IMAGE_OBJECTIVES

torch.set_num_threads(1)

K = 8  # pseudo-inputs: small, so the tests stay fast
X_DIM = 784


def make_model(arch: str, prior: str = "vampprior", seed: int = 0, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)  # module init uses torch's global RNG
    return build_hvae(HVAEConfig(arch, prior, number_components=K, **kwargs))


def binary_images(n: int, seed: int = 1) -> torch.Tensor:
    """Blocky binary images (not white noise), so posteriors are not all alike."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, 7, 7, generator=g)
    grey = torch.nn.functional.interpolate(coarse, scale_factor=4).view(n, X_DIM)
    return torch.bernoulli(grey, generator=g)


def calibrated_eval(model: torch.nn.Module) -> torch.nn.Module:
    """Eval mode with BatchNorm statistics of one batch: fresh running stats (0, 1) make the untrained
    PixelCNN's activations shrink layer by layer until pixels no longer visibly influence each other."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
    model.train()
    with torch.no_grad():
        model(binary_images(8, seed=99), gen(99))
    return model.eval()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def clone(g: torch.Generator) -> torch.Generator:
    copy = torch.Generator()
    copy.set_state(g.get_state())
    return copy


# ---------------------------------------------------------------------------------------------
# Configuration and pseudo-inputs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, allowed", [
    ("arch", "hvae", "convhvae_2level"), ("prior", "mog", "vampprior"), ("z1_size", 0, "positive"),
    ("number_components", 2.5, "positive"), ("input_shape", (28, 28), "three")])
def test_config_rejects_bad_values_naming_them(field, value, allowed):
    kwargs = dict(arch="convhvae_2level", prior="standard")
    kwargs[field] = value
    with pytest.raises(ValueError, match=allowed) as err:
        HVAEConfig(**kwargs)
    assert repr(value) in str(err.value)


def test_init_pseudoinputs_from_training_images():
    model = make_model("convhvae_2level")
    images = torch.rand(K + 3, X_DIM)
    model.init_pseudoinputs(images, gen(3))
    noise = torch.randn(K, X_DIM, generator=gen(3))
    expected = (images[:K] + model.cfg.pseudoinputs_std * noise).clamp(0, 1)
    torch.testing.assert_close(model.pseudoinputs(), expected)
    with pytest.raises(ValueError, match="N >= 8"):
        model.init_pseudoinputs(images[:K - 1], gen(3))
    with pytest.raises(ValueError, match="vampprior"):
        make_model("convhvae_2level", "standard").pseudoinputs()


# ---------------------------------------------------------------------------------------------
# 1. VampPrior density
# ---------------------------------------------------------------------------------------------

def test_vampprior_log_density_equals_explicit_mixture():
    model = make_model("convhvae_2level", z2_size=3).double()
    with torch.no_grad():
        means, logvars = model.q_z2_params(model.pseudoinputs())
        # points near some components and one far away, so both the mixture and its tail are exercised
        z2 = torch.cat([means[:4] + 0.3 * torch.randn(4, 3, generator=gen(5), dtype=torch.float64),
                        torch.full((1, 3), 2.0, dtype=torch.float64)])
        actual = model.log_p_z2(z2)
    expected = []
    for z in z2:
        densities = []
        for k in range(K):
            var = logvars[k].exp()
            densities.append(torch.prod(torch.exp(-0.5 * (z - means[k]) ** 2 / var) / torch.sqrt(2 * math.pi * var)))
        expected.append(torch.log(torch.stack(densities).mean()))
    # log_p_z2 omits the -1/2 log(2 pi) per dimension, like the original
    expected = torch.stack(expected) + 0.5 * 3 * math.log(2 * math.pi)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-10)


def test_standard_prior_log_density():
    model = make_model("convhvae_2level", "standard")
    z2 = torch.randn(5, 40, generator=gen(2))
    torch.testing.assert_close(model.log_p_z2(z2), -0.5 * (z2 ** 2).sum(1))


# ---------------------------------------------------------------------------------------------
# 2. PixelCNN causality (and the exact windowed evaluation used for sampling)
# ---------------------------------------------------------------------------------------------

def test_mask_shapes():
    a, b = MaskedConv2d("A", 1, 1, 3), MaskedConv2d("B", 1, 1, 3)
    assert a.mask[0, 0].tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.mask[0, 0].tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]


@pytest.mark.parametrize("pixel", [0, 1, 27, 28, 29, 400, 783])
def test_pixel_decoder_is_causal(pixel):
    model = calibrated_eval(make_model("pixelhvae_2level", "standard"))
    g = gen(pixel)
    x = torch.bernoulli(torch.full((2, X_DIM), 0.5), generator=g)
    z1, z2 = torch.randn(2, 40, generator=g), torch.randn(2, 40, generator=g)
    later = x.clone()
    later[:, pixel:] = 1 - later[:, pixel:]  # flip pixel i and every later pixel
    with torch.no_grad():
        before, after = model.decode_probs(x, z1, z2), model.decode_probs(later, z1, z2)
    torch.testing.assert_close(after[:, :pixel + 1], before[:, :pixel + 1], rtol=0, atol=0)
    if pixel < X_DIM - 1:  # the check is not vacuous: pixel i does reach the pixel below it / to its right
        neighbour = pixel + 28 if pixel % 28 == 27 else pixel + 1
        if neighbour < X_DIM:
            assert (after[:, neighbour] - before[:, neighbour]).abs().max() > 1e-6


def test_windowed_pixel_probabilities_equal_full_pass():
    model = calibrated_eval(make_model("pixelhvae_2level", "standard"))
    decoder = model.decoder
    g = gen(9)
    x = torch.bernoulli(torch.full((2, 1, 28, 28), 0.4), generator=g)
    with torch.no_grad():
        zmaps = decoder.z_maps(torch.randn(2, 40, generator=g), torch.randn(2, 40, generator=g))
        full = decoder.probs_from_maps(x, zmaps)
        for row, col in [(0, 0), (0, 27), (3, 5), (8, 8), (9, 20), (14, 14), (27, 0), (27, 27), (20, 26)]:
            torch.testing.assert_close(decoder.probs_at(x, zmaps, row, col), full[:, :, row, col],
                                       rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# 3-4. Importance-sampled NLL
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHS)
def test_is_nll_with_one_sample_is_negative_elbo(arch):
    model = make_model(arch).eval()
    x = binary_images(5)
    g = gen(4)
    g_copy = clone(g)
    nll = importance_sampled_nll(model, x, n_samples=1, pass_copies=100, generator=g)
    with torch.no_grad():
        elbo = vae_elbo_terms(model, x, g_copy)["elbo"]
    assert nll.shape == (5,)
    torch.testing.assert_close(nll, -elbo, rtol=1e-6, atol=1e-4)


def test_is_nll_does_not_increase_with_samples():
    model = make_model("convhvae_2level").eval()
    x = binary_images(16, seed=2)
    means = [importance_sampled_nll(model, x, s, pass_copies=32, generator=gen(6)).mean().item() for s in (1, 8, 32)]
    assert means[0] >= means[1] - 1e-3 and means[1] >= means[2] - 1e-3, means
    assert means[0] > means[2] + 1.0, means  # the bound tightens visibly for this untrained model


@pytest.mark.parametrize("batch", [4, 100])
def test_is_nll_matches_a_direct_computation_in_both_chunk_layouts(batch):
    """S >= pass_copies: each image in chunks; S < pass_copies: several images (S copies each) per pass."""
    model = make_model("convhvae_2level").eval()
    x, g, s = binary_images(3, seed=3), gen(1), 8
    nll = importance_sampled_nll(model, x, s, pass_copies=batch, generator=clone(g))
    with torch.no_grad():
        if batch == 4:
            log_w = torch.stack([torch.cat([vae_elbo_terms(model, image.expand(4, -1), g)["elbo"] for _ in range(2)])
                                 for image in x])
        else:
            log_w = vae_elbo_terms(model, x.repeat_interleave(s, dim=0), g)["elbo"].view(3, s)
    expected = -(torch.logsumexp(log_w.double(), dim=1) - math.log(s)).float()
    torch.testing.assert_close(nll, expected, rtol=1e-6, atol=1e-4)


def test_importance_pass_plan_covers_every_sample_once():
    for n_images, s, copies in [(7, 5, 100), (7, 5, 5), (3, 250, 100), (4, 5000, 100), (4, 5000, 12000), (1, 1, 1)]:
        seen = torch.zeros(n_images, s, dtype=torch.int64)
        for i0, i1, s0, s1 in importance_pass_plan(n_images, s, copies):
            assert (i1 - i0) * (s1 - s0) <= copies
            seen[i0:i1, s0:s1] += 1
        assert bool((seen == 1).all()), (n_images, s, copies)
    assert len(importance_pass_plan(10, 5000, 100)) == 500  # the original: 50 passes of 100 copies per image
    assert len(importance_pass_plan(10, 5000, 10000)) == 5  # two whole images per pass


@pytest.mark.parametrize("arch, prior", [("convhvae_2level", "vampprior"), ("pixelhvae_2level", "standard")])
def test_few_large_passes_give_the_same_nll_as_the_original_layout_on_fixed_noise(arch, prior):
    """Issue 13: all samples of several images per pass (and the VampPrior encoded once) is the same estimator
    as the original's passes of 100 copies: on the same encoder noise, the same per-image NLL."""
    model = make_model(arch, prior)
    model = calibrated_eval(model) if arch == "pixelhvae_2level" else model.eval()
    x, s = binary_images(4, seed=5), 60
    g = gen(12)
    noise = (torch.randn(4, s, model.cfg.z2_size, generator=g), torch.randn(4, s, model.cfg.z1_size, generator=g))
    original = importance_sampled_nll(model, x, s, pass_copies=25, noise=noise)  # 3 passes per image, as MB < S
    with model.fixed_prior():
        few_large = importance_sampled_nll(model, x, s, pass_copies=4 * s, noise=noise)  # all 4 images in one pass
    torch.testing.assert_close(few_large, original, rtol=0, atol=2e-4)
    assert not torch.equal(original, importance_sampled_nll(model, x, s, pass_copies=25, generator=gen(3)))


def test_fixed_prior_gives_the_same_log_p_z2_without_reencoding():
    model = make_model("convhvae_2level", "vampprior").eval()
    z2 = torch.randn(5, 40, generator=gen(2))
    with torch.no_grad():
        expected = model.log_p_z2(z2)
        with model.fixed_prior():
            calls = []
            hook = model.q_z2_layers.register_forward_hook(lambda *a: calls.append(1))
            cached = model.log_p_z2(z2)
            hook.remove()
    assert torch.equal(cached, expected) and calls == []
    assert model._prior_components is None  # released on exit


# ---------------------------------------------------------------------------------------------
# 5. Every model x objective x prior trains one step
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("arch", ARCHS)
def test_every_objective_trains_one_step(arch, prior):
    x = binary_images(4, seed=4)
    for objective in IMAGE_OBJECTIVES:
        model = make_model(arch, prior)
        optimiser = AdamNormGrad(model.parameters(), lr=5e-4)
        for beta in (0.5, 1.0):
            before = [p.detach().clone() for p in model.parameters()]
            optimiser.zero_grad()
            loss, terms = image_loss(model, x, objective, beta, generator=gen(7))
            assert loss.dim() == 0 and torch.isfinite(loss), (arch, prior, objective, beta)
            assert terms["re"].shape == terms["kl"].shape == terms["loss"].shape == (4,)
            loss.backward()
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            assert grads and all(torch.isfinite(gr).all() for gr in grads)
            optimiser.step()
            assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
            has_prior_path = objective == "smim" and beta >= 1
            assert ("loss_p" in terms) == has_prior_path
            if has_prior_path:
                assert terms["loss_p"].shape == (4,) and torch.isfinite(terms["loss_p"]).all()


def test_unknown_objective_is_rejected():
    model = make_model("convhvae_2level", "standard")
    with pytest.raises(ValueError, match="'vae', 'smim', 'amim'"):
        image_loss(model, binary_images(2), "mim", 1.0)


# ---------------------------------------------------------------------------------------------
# 6. AdamNormGrad
# ---------------------------------------------------------------------------------------------

def test_adam_norm_grad_first_step_is_adam_on_the_normalised_gradient():
    lr, eps, (beta1, beta2) = 5e-4, 1e-8, (0.9, 0.999)
    start = torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float64)
    grad = torch.tensor([3.0, -4.0, 1e-3, 12.0], dtype=torch.float64)
    p = torch.nn.Parameter(start.clone())
    optimiser = AdamNormGrad([p], lr=lr, betas=(beta1, beta2), eps=eps)
    p.grad = grad.clone()
    optimiser.step()
    g_hat = grad / (grad.norm() + 1e-7)
    # m = (1-b1) g, v = (1-b2) g^2; step = lr sqrt(1-b2)/(1-b1) m / (sqrt(v) + eps), eps before bias correction
    expected = start - lr * g_hat / (g_hat.abs() + eps / math.sqrt(1 - beta2))
    torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-15)
    # the update no longer depends on the gradient's scale
    q = torch.nn.Parameter(start.clone())
    other = AdamNormGrad([q], lr=lr, betas=(beta1, beta2), eps=eps)
    q.grad = 1000.0 * grad
    other.step()
    torch.testing.assert_close(q.detach(), p.detach(), rtol=0, atol=1e-12)


def test_adam_norm_grad_second_step():
    lr, eps, (beta1, beta2) = 1e-2, 1e-8, (0.9, 0.999)
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    optimiser = AdamNormGrad([p], lr=lr)
    grads = [torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64), torch.tensor([0.0, -5.0, 0.0], dtype=torch.float64)]
    m = torch.zeros(3, dtype=torch.float64)
    v = torch.zeros(3, dtype=torch.float64)
    expected = torch.zeros(3, dtype=torch.float64)
    for t, grad in enumerate(grads, start=1):
        p.grad = grad.clone()
        optimiser.step()
        g_hat = grad / (grad.norm() + 1e-7)
        m = beta1 * m + (1 - beta1) * g_hat
        v = beta2 * v + (1 - beta2) * g_hat ** 2
        expected = expected - lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m / (v.sqrt() + eps)
    torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# 7. Generation and reconstruction
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHS)
def test_generate_and_reconstruct(arch):
    model = make_model(arch).eval()
    x = binary_images(2, seed=5)
    with torch.no_grad():
        samples = model.generate_x(2, gen(11))
        again = model.generate_x(2, gen(11))
        recon = model.reconstruct_x(x, gen(12))
    for images in (samples, recon):
        assert images.shape == (2, X_DIM)
        assert images.min() >= 0 and images.max() <= 1 and torch.isfinite(images).all()
    torch.testing.assert_close(samples, again, rtol=0, atol=0)  # a pure function of the generator
    with pytest.raises(ValueError, match="first n pseudo-inputs"):
        model.sample_prior_z(K + 1, gen(0))


def test_vampprior_samples_come_from_the_first_pseudoinputs():
    model = make_model("convhvae_2level").eval()
    with torch.no_grad():
        _, z2 = model.sample_prior_z(3, gen(13))
        means, logvars = model.q_z2_params(model.pseudoinputs()[:3])
        eps = torch.randn(3, 40, generator=gen(13))
    torch.testing.assert_close(z2, means + (0.5 * logvars).exp() * eps)


# ---------------------------------------------------------------------------------------------
# 8. Loss formulas
# ---------------------------------------------------------------------------------------------

def terms_at(model, x, g):
    with torch.no_grad():
        return vae_elbo_terms(model, x, clone(g))


@pytest.mark.parametrize("beta", [0.3, 1.0])
def test_amim_loss_is_half_one_plus_beta_log_joint(beta):
    model = make_model("convhvae_2level").eval()
    x, g = binary_images(4), gen(21)
    t = terms_at(model, x, g)
    loss, terms = image_loss(model, x, "amim", beta, clone(g))
    per_sample = -0.5 * (1 + beta) * (t["log_p_x_given_z"] + t["log_p_z1_given_z2"] + beta * t["log_p_z2"])
    torch.testing.assert_close(terms["loss"], per_sample, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(loss, per_sample.mean(), rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(terms["re"], -t["log_p_x_given_z"])


@pytest.mark.parametrize("beta", [0.3, 1.0])
def test_vae_loss_is_re_plus_beta_kl(beta):
    model = make_model("convhvae_2level").eval()
    x, g = binary_images(4), gen(22)
    t = terms_at(model, x, g)
    loss, terms = image_loss(model, x, "vae", beta, clone(g))
    kl = t["log_q_z1_given_x_z2"] + t["log_q_z2_given_x"] - t["log_p_z1_given_z2"] - t["log_p_z2"]
    torch.testing.assert_close(terms["kl"], kl)
    torch.testing.assert_close(terms["re"], -log_bernoulli(x, model(x, clone(g))["x_mean"]))
    torch.testing.assert_close(loss, (terms["re"] + beta * kl).mean())


def test_smim_below_beta_one_is_amim():
    model = make_model("convhvae_2level").eval()
    x, g = binary_images(4), gen(23)
    smim, terms = image_loss(model, x, "smim", 0.99, clone(g))
    amim, _ = image_loss(model, x, "amim", 0.99, clone(g))
    assert "loss_p" not in terms
    torch.testing.assert_close(smim, amim, rtol=0, atol=0)


def test_smim_prior_path_formula():
    """beta >= 1: loss = mean(encoder path) + beta mean(loss_p), loss_p from the prior path, n = min(B, K)."""
    beta = 1.5  # beyond the schedule's cap of 1, so that every place beta enters is visible
    model = make_model("convhvae_2level").eval()
    x, g = binary_images(K + 2), gen(24)
    total, terms = image_loss(model, x, "smim", beta, clone(g))
    assert terms["loss_p"].shape == (K,)  # capped at the number of pseudo-inputs
    torch.testing.assert_close(total, terms["loss"].mean() + beta * terms["loss_p"].mean())
    # rebuild the prior path by hand with the same random stream
    replay = clone(g)
    with torch.no_grad():
        vae_elbo_terms(model, x, replay)  # the encoder path's draws come first
        z1, z2 = model.sample_prior_z(K, replay)
        xs = model.decode_probs(None, z1, z2)
        q2_mean, q2_logvar = model.q_z2_params(xs)
        q1_mean, q1_logvar = model.q_z1_params(xs, z2)
        p1_mean, p1_logvar = model.p_z1_params(z2)
        log_p_x = log_bernoulli(xs, model.decode_probs(xs, z1, z2))
        log_q_z = log_normal_diag(z1, q1_mean, q1_logvar) + log_normal_diag(z2, q2_mean, q2_logvar)
        log_p_z = log_normal_diag(z1, p1_mean, p1_logvar) + beta * model.log_p_z2(z2)
    expected = -0.5 * (log_p_x + log_p_z + beta * (log_q_z + log_p_x))
    # the REINFORCE term's detached products (~|loss|^2) cost float32 digits in the value
    torch.testing.assert_close(terms["loss_p"], expected, rtol=1e-4, atol=1e-2)


def test_score_function_term_keeps_the_value_and_adds_loss_times_score():
    w = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    loss = (w ** 2).sum() * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)  # per-sample losses
    log_prob = w[0] * torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64) + w[1]
    combined = add_score_function_term(loss, log_prob)
    torch.testing.assert_close(combined, loss, rtol=0, atol=1e-12)
    (grad,) = torch.autograd.grad(combined.sum(), w, retain_graph=True)
    (grad_loss,) = torch.autograd.grad(loss.sum(), w, retain_graph=True)
    (grad_score,) = torch.autograd.grad((loss.detach() * log_prob).sum(), w)
    torch.testing.assert_close(grad, grad_loss + grad_score, rtol=0, atol=1e-12)


def test_smim_prior_path_gradient_includes_the_score_term():
    """Decoded x that differs from the decoder mean (as the PixelCNN's does): the REINFORCE term must act."""
    model = make_model("convhvae_2level", "standard")

    def decoded_off_the_mean(z1, z2, generator=None):  # stand-in for a sampler; carries gradient to detach
        return 0.5 * model.decode_probs(None, z1, z2) + 0.25

    model.sample_x_given_z = decoded_off_the_mean
    x, g, beta = binary_images(3), gen(27), 1.0
    total, _ = image_loss(model, x, "smim", beta, clone(g))
    bias = model.decoder.out.bias
    (grad_total,) = torch.autograd.grad(total, bias)
    replay = clone(g)
    t = vae_elbo_terms(model, x, replay)
    encoder_path = -0.5 * (1 + beta) * (t["log_p_x_given_z"] + t["log_p_z1_given_z2"] + beta * t["log_p_z2"])
    z1, z2 = model.sample_prior_z(3, replay)
    fixed_x = decoded_off_the_mean(z1, z2).detach()
    q2_mean, q2_logvar = model.q_z2_params(fixed_x)
    q1_mean, q1_logvar = model.q_z1_params(fixed_x, z2)
    p1_mean, p1_logvar = model.p_z1_params(z2)
    log_p_x = log_bernoulli(fixed_x, model.decode_probs(fixed_x, z1, z2))
    prior_path = -0.5 * (log_p_x + log_normal_diag(z1, p1_mean, p1_logvar) + beta * model.log_p_z2(z2)
                         + beta * (log_normal_diag(z1, q1_mean, q1_logvar) + log_normal_diag(z2, q2_mean, q2_logvar)
                                   + log_p_x))
    (grad_plain,) = torch.autograd.grad(encoder_path.mean() + beta * prior_path.mean(), bias, retain_graph=True)
    (grad_score,) = torch.autograd.grad(beta * (prior_path.detach() * log_p_x).mean(), bias)
    assert grad_score.abs().max() > 10 * grad_plain.abs().max()  # the score term dominates here
    torch.testing.assert_close(grad_total, grad_plain + grad_score, rtol=1e-4, atol=1e-3)
