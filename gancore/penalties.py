"""Regularisers of the discriminator (critic).

Each penalty is the *unweighted* batch mean; the trainer multiplies it by its weight:
λ·``gradient_penalty`` (WGAN-GP, Gulrajani et al. 2017) and (γ/2)·``r1_penalty`` or
(γ/2)·``r2_penalty`` (Mescheder et al. 2018). ``clip_weights_`` is the original WGAN's weight
clipping (Arjovsky et al. 2017), applied to the critic after each of its updates.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "PENALTIES",
    "input_gradients",
    "gradient_penalty",
    "r1_penalty",
    "r2_penalty",
    "squared_gradient_norm",
    "clip_weights_",
]

#: Names accepted by ``TrainConfig.penalty`` and ``--penalty``.
PENALTIES = ("none", "gp", "gp_one_sided", "r1", "r2", "clip")


def input_gradients(outputs: Tensor, inputs: Tensor) -> Tensor:
    """∇ₓ Σ outputs, kept in the graph (``create_graph=True``) so a penalty on it trains D."""
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad


def _flat_fp32_or_wider(grad: Tensor) -> Tensor:
    """Per-sample rows, upcast from half precision so norms are taken in at least float32."""
    grad = grad.flatten(1)
    return grad.float() if grad.dtype in (torch.float16, torch.bfloat16) else grad


def squared_gradient_norm(outputs: Tensor, inputs: Tensor) -> Tensor:
    """Mean over the batch of ‖∇ₓD(x)‖² (at least float32); ``inputs`` must require grad."""
    grad = _flat_fp32_or_wider(input_gradients(outputs, inputs))
    return grad.pow(2).sum(dim=1).mean()


def _interpolate(real: Tensor, fake: Tensor, generator: torch.Generator | None) -> Tensor:
    """x̂ = εx + (1−ε)x̃ with one ε ~ U[0, 1] per sample, as a leaf that requires grad."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    return torch.lerp(fake.detach(), real.detach(), eps).requires_grad_(True)


def gradient_penalty(
    critic: nn.Module,
    real: Tensor,
    fake: Tensor,
    *,
    generator: torch.Generator | None = None,
    one_sided: bool = False,
) -> Tensor:
    """WGAN-GP: mean of (‖∇D(x̂)‖₂ − 1)² at x̂ = εx + (1−ε)x̃, ε ~ U[0, 1] per sample.

    With ``one_sided=True`` only norms above 1 are penalised: mean of max(0, ‖∇D(x̂)‖₂ − 1)².
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake shapes differ: {tuple(real.shape)} vs {tuple(fake.shape)}")
    x_hat = _interpolate(real, fake, generator)
    norms = _flat_fp32_or_wider(input_gradients(critic(x_hat), x_hat)).norm(dim=1)
    excess = norms - 1
    if one_sided:
        excess = excess.clamp(min=0)
    return excess.pow(2).mean()


def r1_penalty(critic: nn.Module, real: Tensor) -> Tensor:
    """R1: mean ‖∇ₓD(x)‖² over real samples (the trainer adds (γ/2) times this)."""
    x = real.detach().requires_grad_(True)
    return squared_gradient_norm(critic(x), x)


def r2_penalty(critic: nn.Module, fake: Tensor) -> Tensor:
    """R2: mean ‖∇ₓD(x̃)‖² over generated samples (the trainer adds (γ/2) times this)."""
    return r1_penalty(critic, fake)


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> None:
    """Clamp every parameter of ``module`` to [−c, c] in place (original WGAN)."""
    params = list(module.parameters())
    if params:
        torch._foreach_clamp_min_(params, -c)
        torch._foreach_clamp_max_(params, c)
