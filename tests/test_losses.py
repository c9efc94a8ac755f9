"""Each loss against its formula, and its gradient w.r.t. the logits against the closed form."""

import math

import pytest
import torch

from gancore.errors import ConfigError
from gancore.losses import LOSSES, get_loss

pytestmark = pytest.mark.usefixtures("float64")


def naive_softplus(t):
    return torch.log1p(torch.exp(t))


def sig(t):
    return torch.sigmoid(t)


# (d_loss formula, g_loss formula, ∂d/∂r, ∂d/∂f, ∂g/∂f), per element before the batch mean
FORMULAS = {
    "minimax": (
        lambda r, f: naive_softplus(-r) + naive_softplus(f),
        lambda f: -naive_softplus(f),
        lambda r: -sig(-r),
        lambda f: sig(f),
        lambda f: -sig(f),
    ),
    "nonsaturating": (
        lambda r, f: naive_softplus(-r) + naive_softplus(f),
        lambda f: naive_softplus(-f),
        lambda r: -sig(-r),
        lambda f: sig(f),
        lambda f: -(1 - sig(f)),
    ),
    "least_squares": (
        lambda r, f: 0.5 * (r - 1) ** 2 + 0.5 * f**2,
        lambda f: 0.5 * (f - 1) ** 2,
        lambda r: r - 1,
        lambda f: f,
        lambda f: f - 1,
    ),
    "hinge": (
        lambda r, f: torch.clamp(1 - r, min=0) + torch.clamp(1 + f, min=0),
        lambda f: -f,
        lambda r: -(r < 1).double(),
        lambda f: (f > -1).double(),
        lambda f: -torch.ones_like(f),
    ),
    "wasserstein": (
        lambda r, f: f - r,
        lambda f: -f,
        lambda r: -torch.ones_like(r),
        lambda f: torch.ones_like(f),
        lambda f: -torch.ones_like(f),
    ),
}


def logits(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    # avoid the hinge kinks at exactly ±1
    return 3 * torch.randn(n, generator=g), 3 * torch.randn(n, generator=g)


def test_registry_holds_the_five_losses():
    assert set(LOSSES) == set(FORMULAS)


@pytest.mark.parametrize("name", FORMULAS)
def test_loss_values_match_formula(name):
    r, f = logits()
    d_formula, g_formula, *_ = FORMULAS[name]
    loss = LOSSES[name]
    torch.testing.assert_close(loss.d_loss(r, f), d_formula(r, f).mean())
    torch.testing.assert_close(loss.g_loss(f), g_formula(f).mean())


@pytest.mark.parametrize("name", FORMULAS)
def test_loss_gradients_match_closed_form(name):
    r, f = logits(seed=1)
    r.requires_grad_(True)
    f.requires_grad_(True)
    _, _, d_dr, d_df, g_df = FORMULAS[name]
    loss = LOSSES[name]
    gr, gf = torch.autograd.grad(loss.d_loss(r, f), (r, f))
    n = len(r)
    torch.testing.assert_close(gr, d_dr(r.detach()) / n)
    torch.testing.assert_close(gf, d_df(f.detach()) / n)
    (gg,) = torch.autograd.grad(loss.g_loss(f), f)
    torch.testing.assert_close(gg, g_df(f.detach()) / n)


def test_nonsaturating_generator_gradient_example():
    # d/df softplus(-f) = -(1 - σ(f)); at f = 0 that is -1/2
    f = torch.zeros(1, requires_grad=True)
    (g,) = torch.autograd.grad(LOSSES["nonsaturating"].g_loss(f), f)
    assert g.item() == pytest.approx(-0.5)


@pytest.mark.parametrize("name", ["minimax", "nonsaturating"])
def test_logit_losses_are_finite_at_extreme_logits(name):
    r = torch.tensor([-200.0, 200.0], dtype=torch.float32, requires_grad=True)
    f = torch.tensor([200.0, -200.0], dtype=torch.float32, requires_grad=True)
    loss = LOSSES[name]
    d, g = loss.d_loss(r, f), loss.g_loss(f)
    assert torch.isfinite(d) and torch.isfinite(g)
    # mean of softplus(200) + softplus(-200) ≈ 200 / 2 per term
    assert d.item() == pytest.approx(200.0, rel=1e-6)
    grads = torch.autograd.grad(d + g, (r, f))
    assert all(torch.isfinite(x).all() for x in grads)


def test_nonsaturating_does_not_saturate_where_minimax_does():
    # D confidently rejects the fake: f = -10. Minimax's gradient is ~σ(-10) ≈ 4.5e-5, NS's ≈ 1.
    f = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(LOSSES["minimax"].g_loss(f), f)
    (g_ns,) = torch.autograd.grad(LOSSES["nonsaturating"].g_loss(f), f)
    assert abs(g_mm.item()) == pytest.approx(1 / (1 + math.exp(10)), rel=1e-9)
    assert abs(g_ns.item()) > 0.9999


def test_unknown_loss_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown loss 'bce'"):
        get_loss("bce")
