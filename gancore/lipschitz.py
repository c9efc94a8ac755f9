"""The Lipschitz constraint of a Wasserstein critic, studied with the generator held fixed.

The Wasserstein-1 distance is a supremum over 1-Lipschitz critics (Kantorovich–Rubinstein), so
a WGAN needs some way to keep its critic near that class. This module trains a critic *alone*,
against two fixed distributions, so the constraints can be compared without a moving generator:

* :func:`fit_critic` maximises E D(x) − E D(x̃) under one of four constraints: ``"clip"``
  (weight clipping to [−c, c], RMSProp, Arjovsky et al. 2017), ``"gp"`` (λ·E(‖∇D(x̂)‖ − 1)² at
  interpolates, Adam, Gulrajani et al. 2017), ``"r1"`` ((γ/2)·E‖∇D(x)‖² on real samples,
  Mescheder et al. 2018) or ``"none"``.
* :func:`critic_values` evaluates a critic on a square grid (for contour plots),
  :func:`gradient_norms` gives ‖∇ₓD(x)‖ per sample, and :func:`interpolates` draws x̂ exactly as
  :func:`~gancore.penalties.gradient_penalty` does.
* :func:`parameter_values`, :func:`fraction_at_bound` and :func:`scale_into_box_` inspect and
  prepare the weights of a clipped critic.
* :func:`max_slope` is the largest measured gradient norm, and :func:`normalised_gap` divides
  the critic's gap E D(x) − E D(x̃) by it: a critic rescaled to slope at most 1, hence (up to the estimate of the slope)
  a lower bound on W₁ that shows how much of the distance a constrained critic can see.
* :func:`point_masses` builds the constructed example δ_a vs δ_b, whose distance is ‖a − b‖.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .data import GaussianMixture
from .losses import get_loss
from .penalties import _interpolate, clip_weights_, gradient_penalty, input_gradients
from .train import resolve_device

__all__ = [
    "METHODS",
    "CriticFit",
    "fit_critic",
    "critic_values",
    "gradient_norms",
    "interpolates",
    "max_slope",
    "normalised_gap",
    "parameter_values",
    "fraction_at_bound",
    "scale_into_box_",
    "point_masses",
]

#: Constraints :func:`fit_critic` knows, with their standard weight (c, λ, γ) and optimiser settings:
#: clipping as in Arjovsky et al. (RMSProp 5e-5, c = 0.01); GP and R1 with Adam(1e-4, β = (0.5, 0.9))
#: as in the WGAN-GP toy code.
METHODS: dict[str, dict] = {
    "none": dict(weight=0.0, optimizer="adam", lr=1e-4),
    "clip": dict(weight=0.01, optimizer="rmsprop", lr=5e-5),
    "gp": dict(weight=10.0, optimizer="adam", lr=1e-4),
    "r1": dict(weight=1.0, optimizer="adam", lr=1e-4),
}


@dataclass
class CriticFit:
    """A critic trained by :func:`fit_critic` and its history.

    ``history`` maps ``"step"``, ``"gap"`` (E D(x) − E D(x̃) on the batch, before the update)
    and ``"penalty"`` (the unweighted penalty; 0 for ``clip`` and ``none``) to lists.
    """

    critic: nn.Module
    method: str
    weight: float
    history: dict[str, list] = field(default_factory=dict)


def _draw(source, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """n samples from a dataset with ``.sample`` or, for a Tensor, n rows drawn with replacement."""
    if isinstance(source, Tensor):
        index = torch.randint(len(source), (n,), generator=generator, device=generator.device)
        return source.to(device)[index.to(device)]
    return source.sample(n, generator=generator, device=device)


def _optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.9))
    raise ValueError(f"unknown optimizer {name!r}; choose adam or rmsprop")


def fit_critic(
    critic: nn.Module,
    real,
    fake,
    *,
    method: str = "gp",
    weight: float | None = None,
    steps: int = 1000,
    batch_size: int = 256,
    lr: float | None = None,
    optimizer: str | None = None,
    seed: int = 0,
    device: str = "auto",
    log_every: int = 10,
) -> CriticFit:
    """Train ``critic`` to maximise E D(x) − E D(x̃) for fixed ``real`` and ``fake`` distributions.

    ``real`` and ``fake`` are datasets with ``.sample(n, generator=, device=)`` (such as
    :func:`gancore.data.toy`) or tensors of points (batches are drawn from their rows). The loss
    is the Wasserstein critic loss E D(x̃) − E D(x) plus, by ``method``:

    * ``"clip"``: nothing; every parameter is clamped to [−c, c] after each update (c = ``weight``);
    * ``"gp"``: λ·E(‖∇D(x̂)‖₂ − 1)² at x̂ = εx + (1−ε)x̃, ε ~ U[0, 1] per sample (λ = ``weight``);
    * ``"r1"``: (γ/2)·E‖∇D(x)‖² on the real batch (γ = ``weight``);
    * ``"none"``: nothing (the critic's gap then grows without bound).

    ``weight``, ``lr`` and ``optimizer`` default to :data:`METHODS`. The critic is moved to
    ``device`` (``"auto"`` picks CUDA/MPS when present) and left there. Batches come from a
    generator seeded with ``seed``; the global random state is not touched.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    defaults = METHODS[method]
    weight = defaults["weight"] if weight is None else float(weight)
    dev = resolve_device(device)
    critic.to(dev)
    opt = _optimizer(optimizer or defaults["optimizer"], critic.parameters(), lr or defaults["lr"])
    loss = get_loss("wasserstein")
    rng = torch.Generator(device=dev).manual_seed(seed)
    history: dict[str, list] = {"step": [], "gap": [], "penalty": []}
    zero = torch.zeros((), device=dev)
    for step in range(1, steps + 1):
        x, x_fake = _draw(real, batch_size, rng, dev), _draw(fake, batch_size, rng, dev)
        if method == "r1":
            x.requires_grad_(True)
        d_real, d_fake = critic(x), critic(x_fake)
        total = loss.d_loss(d_real, d_fake)
        if method == "gp":
            penalty = gradient_penalty(critic, x, x_fake, generator=rng)
            total = total + weight * penalty
        elif method == "r1":
            penalty = input_gradients(d_real, x).flatten(1).pow(2).sum(1).mean()
            total = total + 0.5 * weight * penalty
        else:
            penalty = zero
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if method == "clip":
            clip_weights_(critic, weight)
        if step % log_every == 0 or step == steps:
            history["step"].append(step)
            history["gap"].append(float(d_real.detach().mean() - d_fake.detach().mean()))
            history["penalty"].append(float(penalty.detach()))
    return CriticFit(critic, method, weight, history)


def _device_of(module: nn.Module) -> torch.device:
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@torch.no_grad()
def critic_values(critic: nn.Module, lim: float = 2.0, n: int = 101) -> tuple[Tensor, Tensor, Tensor]:
    """The critic on an n×n grid over [−lim, lim]²: ``(xs, ys, values)``, values[i, j] = D(xs[j], ys[i]).

    Ready for ``plt.contourf(xs, ys, values)``; all three on the CPU.
    """
    axis = torch.linspace(-lim, lim, n)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([gx.flatten(), gy.flatten()], dim=1).to(_device_of(critic))
    return axis, axis.clone(), critic(points).float().cpu().reshape(n, n)


def gradient_norms(critic: nn.Module, x: Tensor) -> Tensor:
    """‖∇ₓD(x)‖₂ per sample (a detached CPU vector of length N)."""
    x = x.detach().to(_device_of(critic)).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x)
    return grad.flatten(1).norm(dim=1).detach().float().cpu()


def interpolates(real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """x̂ = εx + (1−ε)x̃ with ε ~ U[0, 1] per sample: the points WGAN-GP penalises (detached).

    With the same ``generator`` state it returns the points :func:`~gancore.penalties.gradient_penalty` uses.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake shapes differ: {tuple(real.shape)} vs {tuple(fake.shape)}")
    return _interpolate(real, fake, generator).detach()


def max_slope(critic: nn.Module, *points: Tensor) -> float:
    """The largest ‖∇ₓD(x)‖ over all the given point sets: an estimate (from below) of D's Lipschitz constant."""
    return float(torch.cat([gradient_norms(critic, x) for x in points]).max())


def normalised_gap(critic: nn.Module, real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None) -> float:
    """(mean D(x) − mean D(x̃)) / L, with L the :func:`max_slope` at the samples and their interpolates.

    D/L has slope at most 1 where it was measured, so for a critic whose steepest points were
    sampled this is a lower bound on W₁ between the two sample sets: how much of the distance
    the critic, rescaled to be 1-Lipschitz, can see.
    """
    device = _device_of(critic)
    real, fake = real.to(device), fake.to(device)
    slope = max_slope(critic, real, fake, interpolates(real, fake, generator=generator))
    with torch.no_grad():
        gap = float(critic(real).mean() - critic(fake).mean())
    return gap / slope if slope > 0 else 0.0


def parameter_values(module: nn.Module, *, weights_only: bool = False) -> Tensor:
    """Every parameter of ``module`` as one flat CPU tensor (only matrices with ``weights_only``)."""
    params = [p for p in module.parameters() if not weights_only or p.dim() > 1]
    if not params:
        return torch.zeros(0)
    return torch.cat([p.detach().flatten().float().cpu() for p in params])


def fraction_at_bound(module: nn.Module, c: float, *, tol: float = 0.01) -> float:
    """Fraction of ``module``'s parameters with ``|p| ≥ (1 − tol)·c``: those pinned at a clipping bound ±c."""
    values = parameter_values(module)
    if values.numel() == 0:
        return 0.0
    return float((values.abs() >= (1 - tol) * c).double().mean())


@torch.no_grad()
def scale_into_box_(module: nn.Module, c: float) -> nn.Module:
    """Rescale each parameter tensor whose largest entry exceeds c so that it lies in [−c, c].

    Keeps the shape of the initial distribution (clamping would instead pin most of a default
    initialisation at ±c before any training step). Returns ``module``.
    """
    for p in module.parameters():
        largest = float(p.abs().max()) if p.numel() else 0.0
        if largest > c:
            p.mul_(c / largest)
    return module


def point_masses(a, b) -> tuple[GaussianMixture, GaussianMixture, float]:
    """Two point masses δ_a and δ_b as (zero-std) datasets, and their distance W₁ = ‖a − b‖."""
    a = torch.as_tensor(a, dtype=torch.float32).reshape(1, -1)
    b = torch.as_tensor(b, dtype=torch.float32).reshape(1, -1)
    return GaussianMixture("a", a, 0.0), GaussianMixture("b", b, 0.0), float(math.dist(a[0].tolist(), b[0].tolist()))
