"""gancore.lipschitz against closed forms: linear critics, clipping bounds, point masses."""

import math

import pytest
import torch
from torch import nn

from gancore import lipschitz as L
from gancore.data import GaussianMixture, toy
from gancore.models import MLPDiscriminator
from gancore.penalties import gradient_penalty


def linear_critic(w, b=0.25):
    D = MLPDiscriminator(len(w), 1, depth=0)  # D(x) = wᵀx + b
    with torch.no_grad():
        D.net[0].weight.copy_(torch.tensor([w]))
        D.net[0].bias.fill_(b)
    return D


def test_linear_critic_gradient_norm_is_norm_w_everywhere():
    D = linear_critic([3.0, -4.0])
    x = torch.randn(50, 2) * 10
    torch.testing.assert_close(L.gradient_norms(D, x), torch.full((50,), 5.0))


def test_critic_values_grid_layout():
    D = linear_critic([2.0, -1.0], b=0.5)
    xs, ys, v = L.critic_values(D, lim=1.5, n=7)
    assert v.shape == (7, 7) and xs[0] == -1.5 and xs[-1] == 1.5
    # values[i, j] = D(xs[j], ys[i])
    torch.testing.assert_close(v[1, 4], 2.0 * xs[4] - 1.0 * ys[1] + 0.5)


def test_interpolates_match_the_penalty_points():
    real, fake = torch.randn(64, 2), torch.randn(64, 2)
    x_hat = L.interpolates(real, fake, generator=torch.Generator().manual_seed(3))
    eps = torch.rand(64, 1, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(x_hat, eps * real + (1 - eps) * fake)
    # each x̂ lies on the segment between its pair
    t = ((x_hat - fake) * (real - fake)).sum(1) / (real - fake).pow(2).sum(1)
    assert bool(((t >= 0) & (t <= 1)).all())
    with pytest.raises(ValueError):
        L.interpolates(real, fake[:3])


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    D = linear_critic([0.6, 0.0])
    penalty = gradient_penalty(D, torch.randn(32, 2), torch.randn(32, 2))
    assert penalty.item() == pytest.approx((0.6 - 1) ** 2, rel=1e-5)


def test_clipping_bounds_every_weight_and_pins_them_at_the_bounds():
    torch.manual_seed(0)
    D = L.scale_into_box_(MLPDiscriminator(2, 32, depth=2), 0.01)
    assert float(L.parameter_values(D).abs().max()) <= 0.01 + 1e-9
    before = L.fraction_at_bound(D, 0.01)
    blob = GaussianMixture("blob", torch.zeros(1, 2), 1.0)
    fit = L.fit_critic(D, toy("ring"), blob, method="clip", steps=300, batch_size=64, device="cpu")
    values = L.parameter_values(fit.critic)
    assert float(values.abs().max()) <= 0.01 + 1e-9
    after = L.fraction_at_bound(fit.critic, 0.01)
    assert before < 0.1 and after > 0.5 and after > 5 * before
    assert fit.method == "clip" and fit.weight == 0.01 and len(fit.history["gap"]) == 30


def test_scale_into_box_keeps_small_tensors_and_shape_of_large_ones():
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -1.0, 0.25], [0.0, 0.1, -0.2]]))
        layer.bias.copy_(torch.tensor([0.001, -0.002]))
    L.scale_into_box_(layer, 0.1)
    torch.testing.assert_close(layer.weight, torch.tensor([[0.05, -0.1, 0.025], [0.0, 0.01, -0.02]]))
    torch.testing.assert_close(layer.bias, torch.tensor([0.001, -0.002]))
    assert L.parameter_values(layer, weights_only=True).numel() == 6


def test_point_masses_distance():
    a, b, w1 = L.point_masses([1.0, 0.0], [-1.0, 0.0])
    assert w1 == pytest.approx(2.0)
    assert torch.equal(a.sample(4), torch.tensor([[1.0, 0.0]] * 4))


def test_unconstrained_critic_gap_grows_without_bound():
    a, b, _ = L.point_masses([0.5, 0.0], [-0.5, 0.0])
    fit = L.fit_critic(linear_critic([0.0, 0.0], b=0.0), a, b, method="none", steps=200, batch_size=8, lr=0.1, device="cpu")
    gaps = fit.history["gap"]
    assert gaps[-1] > 10 and all(later > earlier for earlier, later in zip(gaps, gaps[1:]))


@pytest.mark.parametrize("lam", [1.0, 10.0])
def test_gp_critic_on_point_masses_reaches_slope_one_plus_d_over_2lambda(lam):
    """Along the segment from b to a the GP objective −d·g + λ(g − 1)² is minimised at slope
    g = 1 + d/(2λ): close to 1, the slope of the optimal 1-Lipschitz critic, for large λ."""
    torch.manual_seed(0)
    a, b, d = L.point_masses([0.5, 0.0], [-0.5, 0.0])
    D = MLPDiscriminator(2, 32, depth=2)
    fit = L.fit_critic(D, a, b, method="gp", weight=lam, steps=1500, batch_size=64, lr=3e-3, device="cpu")
    expected = 1 + d / (2 * lam)
    segment = torch.stack([torch.linspace(-0.45, 0.45, 19), torch.zeros(19)], dim=1)
    norms = L.gradient_norms(fit.critic, segment)
    assert float(norms.median()) == pytest.approx(expected, rel=0.1)
    with torch.no_grad():
        gap = float(fit.critic(a.centers) - fit.critic(b.centers))
    assert gap == pytest.approx(expected * d, rel=0.1)
    assert fit.history["gap"][-1] == pytest.approx(gap, rel=0.05)  # logged before the last update


def test_r1_critic_is_flat_on_the_data():
    torch.manual_seed(0)
    a, b, _ = L.point_masses([0.5, 0.0], [-0.5, 0.0])
    D = MLPDiscriminator(2, 32, depth=2)
    fit = L.fit_critic(D, a, b, method="r1", weight=10.0, steps=600, batch_size=64, lr=3e-3, device="cpu")
    # R1 penalises the slope only at the real point: the critic's gradient there is pushed towards 0
    # (the balance of E D(x) − E D(x̃) and (γ/2)‖∇D(a)‖² leaves it at 1/γ along the segment at most)
    assert float(L.gradient_norms(fit.critic, a.centers)) < 0.2
    assert fit.history["penalty"][-1] < 0.05


def test_max_slope_is_the_largest_gradient_norm_over_all_sets():
    class Cone(nn.Module):  # D(x) = 2‖x‖: gradient norm 2 away from the origin
        def forward(self, x):
            return 2 * x.norm(dim=1)

    assert L.max_slope(Cone(), torch.randn(5, 2) + 3) == pytest.approx(2.0)
    assert L.max_slope(linear_critic([3.0, 4.0]), torch.randn(3, 2), torch.randn(7, 2)) == pytest.approx(5.0)


def test_normalised_gap_of_a_linear_critic_is_the_mean_projection():
    D = linear_critic([0.0, 7.0])
    real, fake = torch.randn(100, 2) + torch.tensor([0.0, 2.0]), torch.randn(100, 2)
    expected = float(real[:, 1].mean() - fake[:, 1].mean())
    assert L.normalised_gap(D, real, fake) == pytest.approx(expected, rel=1e-5)


def test_fit_critic_rejects_unknown_method_and_accepts_tensors():
    with pytest.raises(ValueError):
        L.fit_critic(linear_critic([1.0, 0.0]), toy("ring"), toy("ring"), method="spectral")
    real, fake = torch.randn(10, 2) + 3, torch.randn(10, 2)
    fit = L.fit_critic(linear_critic([0.0, 0.0]), real, fake, method="gp", steps=20, batch_size=8, device="cpu")
    assert len(fit.history["step"]) == 2 and math.isfinite(fit.history["penalty"][-1])
