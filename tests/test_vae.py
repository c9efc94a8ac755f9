"""gancore.vae: the ELBO's terms against closed forms, shapes, training and determinism."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from gancore import toy
from gancore.errors import ConfigError
from gancore.vae import ConvVAE, MLPVAE, VAERun, build_vae, fit_vae, gaussian_kl, gaussian_nll


def test_kl_matches_closed_form_and_torch_distributions():
    mu = torch.tensor([[0.0, 0.0], [1.0, -2.0], [0.5, 0.3]], dtype=torch.float64)
    log_var = torch.tensor([[0.0, 0.0], [math.log(4.0), math.log(0.25)], [-1.0, 2.0]], dtype=torch.float64)
    kl = gaussian_kl(mu, log_var)
    # Row 0 is the prior itself; row 1 by hand: ½[(1 + 4 − 1 − log 4) + (4 + ¼ − 1 − log ¼)] = ½(7.25) = 3.625.
    assert kl[0].item() == 0.0
    assert kl[1].item() == pytest.approx(0.5 * ((1 + 4 - 1 - math.log(4)) + (4 + 0.25 - 1 - math.log(0.25))))
    assert kl[1].item() == pytest.approx(3.625)
    ref = kl_divergence(Normal(mu, (0.5 * log_var).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)
    torch.testing.assert_close(kl, ref)
    assert (kl >= 0).all()


def test_gaussian_nll_matches_hand_computation():
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    mean = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    s2 = 0.5
    # −log N(x; 0, s²I) = Σ_j [ x_j²/(2s²) + ½ log s² + ½ log 2π ] = (1 + 4)/1 + log 0.5 + log 2π
    by_hand = (1 + 4) / (2 * s2) + math.log(s2) + math.log(2 * math.pi)
    got = gaussian_nll(x, mean, torch.tensor(math.log(s2), dtype=torch.float64))
    assert got.shape == (1,)
    assert got.item() == pytest.approx(by_hand)
    ref = -Normal(mean, math.sqrt(s2)).log_prob(x).sum()
    assert got.item() == pytest.approx(ref.item())


def test_elbo_loss_is_mean_of_terms_and_uses_closed_form_kl():
    vae = build_vae((2,), seed=0, z_dim=3, hidden=16)
    x = torch.randn(7, 2)
    recon, kl = vae.elbo_terms(x, generator=torch.Generator().manual_seed(1))
    assert recon.shape == kl.shape == (7,)
    mu, log_var = vae.encode(x)
    torch.testing.assert_close(kl, gaussian_kl(mu, log_var))
    loss = vae.elbo_loss(x, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(loss, (recon + kl).mean())


def test_reconstruction_term_with_identity_networks():
    """Zero encoder variance is impossible, but a tiny one makes z = μ(x) and the term exact."""
    vae = MLPVAE(data_dim=2, z_dim=2, hidden=4, depth=1, decoder_var=0.25, learn_var=False)
    vae.encode = lambda x: (x, torch.full_like(x, -60.0))  # q(z|x) ≈ δ(z − x)
    vae.decode = lambda z: 2 * z  # mean 2x, so the residual is −x
    x = torch.tensor([[1.0, -1.0], [0.5, 0.0]])
    recon, _ = vae.elbo_terms(x, generator=torch.Generator().manual_seed(0))
    expected = (x.pow(2) / (2 * 0.25)).sum(1) + 2 * (0.5 * math.log(0.25) + 0.5 * math.log(2 * math.pi))
    torch.testing.assert_close(recon, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size,channels", [(8, 1), (16, 3), (28, 1), (32, 3)])
def test_conv_vae_shapes(size, channels):
    vae = build_vae((channels, size, size), seed=0, z_dim=5, width=8)
    assert isinstance(vae, ConvVAE)
    x = torch.randn(4, channels, size, size)
    mu, log_var = vae.encode(x)
    assert mu.shape == log_var.shape == (4, 5)
    assert vae.decode(mu).shape == x.shape
    assert vae.sample(3).shape == (3, channels, size, size)
    assert vae.elbo_loss(x).shape == ()


def test_mlp_vae_shapes_and_sample_modes():
    vae = build_vae((2,), seed=0, z_dim=3)
    assert isinstance(vae, MLPVAE) and vae.learned_variance
    assert vae.encode(torch.randn(5, 2))[0].shape == (5, 3)
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    means = vae.sample(20000, generator=gen(), noise=False)
    noisy = vae.sample(20000, generator=gen())
    assert means.shape == noisy.shape == (20000, 2)
    # the same z from the same generator, then Gaussian noise of std s on top
    s = (0.5 * vae.log_var).exp().item()
    residual = noisy - means
    assert residual.mean().abs() < 0.05 * s
    assert residual.std().item() == pytest.approx(s, rel=0.03)


def test_fixed_variance_is_not_trained():
    vae = build_vae((2,), seed=0, decoder_var=0.3, learn_var=False, hidden=16)
    assert not vae.learned_variance
    assert all(p is not vae.log_var for p in vae.parameters())
    fit_vae(vae, toy("ring"), steps=5, batch_size=16, seed=0, device="cpu", progress=False)
    assert vae.log_var.item() == pytest.approx(math.log(0.3))


def test_training_lowers_the_loss():
    data = 0.3 * torch.randn(512, 2) + torch.tensor([1.0, -1.0])
    vae = build_vae((2,), seed=0, hidden=32)
    run = fit_vae(vae, data, steps=300, batch_size=128, lr=3e-3, seed=0, device="cpu", progress=False)
    assert isinstance(run, VAERun)
    assert set(run.history) == {"step", "loss", "recon", "kl"} and len(run.history["loss"]) == 300
    first, last = sum(run.history["loss"][:20]) / 20, sum(run.history["loss"][-20:]) / 20
    assert last < first - 1.0
    # the learned variance settles near the reconstruction error, far below the data variance
    samples = run.sample(2000, seed=0)
    assert samples.mean(0).sub(torch.tensor([1.0, -1.0])).abs().max() < 0.1


def test_training_on_images_lowers_the_loss():
    data = torch.rand(64, 1, 8, 8) * 2 - 1
    vae = build_vae((1, 8, 8), seed=0, z_dim=4, width=8)
    run = fit_vae(vae, data, steps=60, batch_size=32, lr=2e-3, seed=0, device="cpu", progress=False)
    assert sum(run.history["loss"][-10:]) < sum(run.history["loss"][:10])


def test_determinism_with_a_seed():
    def once(seed):
        vae = build_vae((2,), seed=0, hidden=16)
        run = fit_vae(vae, toy("ring"), steps=30, batch_size=32, seed=seed, device="cpu", progress=False)
        return run.history["loss"], run.sample(10, seed=4)

    (h1, s1), (h2, s2), (h3, _) = once(0), once(0), once(1)
    assert h1 == h2
    assert torch.equal(s1, s2)
    assert h1 != h3


def test_bad_arguments():
    with pytest.raises(ConfigError):
        build_vae((3, 8, 6))
    with pytest.raises(ConfigError):
        MLPVAE(decoder_var=0.0)
    with pytest.raises(ConfigError):
        ConvVAE(size=64)
    with pytest.raises(ConfigError):
        fit_vae(build_vae((2,)), toy("ring"), steps=0, device="cpu", progress=False)
    with pytest.raises(ConfigError):
        fit_vae(build_vae((2,)), torch.zeros(4, 3), steps=1, device="cpu", progress=False)
