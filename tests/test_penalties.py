"""Penalties against closed forms on linear and quadratic critics."""

import pytest
import torch
from torch import nn

from gancore.penalties import clip_weights_, gradient_penalty, r1_penalty, r2_penalty

pytestmark = pytest.mark.usefixtures("float64")


class Linear(nn.Module):
    """D(x) = w·x + b."""

    def __init__(self, w, b=0.3):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(b))

    def forward(self, x):
        return x.flatten(1) @ self.w + self.b


class HalfSquaredNorm(nn.Module):
    """D(x) = ½‖x‖², so ∇D(x) = x; records its inputs."""

    def forward(self, x):
        self.seen = x.detach().clone()
        return 0.5 * x.flatten(1).pow(2).sum(1)


def batch(n=32, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


@pytest.mark.parametrize("w", [[3.0, 4.0, 0.0, 0.0, 0.0], [0.1, 0.2, 0.0, 0.3, 0.0], [0.6, 0.8, 0.0, 0.0, 0.0]])
def test_gradient_penalty_on_linear_critic(w):
    real, fake = batch()
    critic = Linear(w)
    expected = (torch.tensor(w).norm() - 1) ** 2
    torch.testing.assert_close(gradient_penalty(critic, real, fake), expected)


def test_gradient_penalty_gradient_wrt_weights():
    # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w/‖w‖ — needs the double backward through the penalty
    w = torch.tensor([3.0, 4.0, 0.0, 0.0, 0.0])
    critic = Linear(w)
    real, fake = batch()
    (grad,) = torch.autograd.grad(gradient_penalty(critic, real, fake), critic.w)
    torch.testing.assert_close(grad, 2 * (5 - 1) * w / 5)


def test_one_sided_penalty_ignores_norms_below_one():
    real, fake = batch()
    assert gradient_penalty(Linear([0.3, 0.4, 0, 0, 0]), real, fake, one_sided=True).item() == 0.0
    torch.testing.assert_close(gradient_penalty(Linear([3.0, 4.0, 0, 0, 0]), real, fake, one_sided=True), torch.tensor(16.0))


def test_interpolation_weight_is_drawn_per_sample():
    real, fake = batch(n=64, d=6)
    critic = HalfSquaredNorm()
    gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7))
    x_hat = critic.seen
    eps = (x_hat - fake) / (real - fake)  # one value per element
    # the same ε for every element of a sample, different across samples, all in [0, 1]
    torch.testing.assert_close(eps, eps[:, :1].expand_as(eps))
    assert eps.min() >= 0 and eps.max() <= 1
    assert eps[:, 0].std() > 0.1
    # and it is U[0,1] drawn from the given generator: reproduce it
    expected = torch.rand(64, 1, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(eps[:, :1], expected)


def test_gradient_penalty_with_quadratic_critic_matches_hand_computation():
    real, fake = batch(n=16, d=3)
    critic = HalfSquaredNorm()
    pen = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(3))
    eps = torch.rand(16, 1, generator=torch.Generator().manual_seed(3))
    x_hat = eps * real + (1 - eps) * fake
    torch.testing.assert_close(pen, ((x_hat.norm(dim=1) - 1) ** 2).mean())


def test_gradient_penalty_works_on_images():
    real, fake = torch.randn(4, 1, 3, 3), torch.randn(4, 1, 3, 3)
    critic = Linear(torch.full((9,), 1 / 3))  # ‖w‖ = 1
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-12)


def test_r1_and_r2_on_linear_critic_equal_squared_weight_norm():
    real, fake = batch()
    w = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0])
    critic = Linear(w)
    torch.testing.assert_close(r1_penalty(critic, real), w.pow(2).sum())
    torch.testing.assert_close(r2_penalty(critic, fake), w.pow(2).sum())
    (grad,) = torch.autograd.grad(r1_penalty(critic, real), critic.w)
    torch.testing.assert_close(grad, 2 * w)


def test_r1_on_quadratic_critic_is_mean_squared_norm_of_the_reals():
    real, _ = batch()
    torch.testing.assert_close(r1_penalty(HalfSquaredNorm(), real), real.pow(2).sum(1).mean())


def test_penalties_do_not_touch_their_inputs():
    real, fake = batch()
    gradient_penalty(Linear([1.0] * 5), real, fake)
    r1_penalty(Linear([1.0] * 5), real)
    assert not real.requires_grad and not fake.requires_grad


def test_clip_weights():
    net = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    with torch.no_grad():
        net[0].weight.mul_(10)
        inside = net[1].weight.clamp(-0.005, 0.005).clone()
        net[1].weight.copy_(inside)
    clip_weights_(net, 0.01)
    for p in net.parameters():
        assert p.abs().max() <= 0.01
    torch.testing.assert_close(net[1].weight, inside)
