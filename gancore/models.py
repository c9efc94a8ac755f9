"""Generators and discriminators: MLPs for 2-D data, DCGANs for square images.

Discriminators output one unbounded logit (or critic score) per sample, shape [N]. Their
normalisation is ``"none"``, ``"layer"`` or ``"batch"``; batch norm couples the samples of a
batch, which breaks per-sample gradient penalties, so use ``"layer"`` or ``"none"`` with GP/R1.
``spectral_norm=True`` wraps every linear and convolution layer of D with
``torch.nn.utils.parametrizations.spectral_norm`` (Miyato et al. 2018).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from .errors import ConfigError

__all__ = [
    "NORMS",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "dcgan_depth",
]

NORMS = ("none", "layer", "batch")


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"unknown normalisation {norm!r}; choose one of {', '.join(NORMS)}")


def _feature_norm(norm: str, width: int) -> nn.Module:
    if norm == "layer":
        return nn.LayerNorm(width)
    if norm == "batch":
        return nn.BatchNorm1d(width)
    return nn.Identity()


def _channel_norm(norm: str, channels: int) -> nn.Module:
    if norm == "layer":  # normalise over (C, H, W) per sample
        return nn.GroupNorm(1, channels)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def _maybe_sn(layer: nn.Module, enabled: bool) -> nn.Module:
    return _spectral_norm(layer) if enabled else layer


class MLPGenerator(nn.Module):
    """z ∈ R^z_dim → R^out_dim through ``depth`` hidden ReLU layers of ``hidden`` units."""

    def __init__(self, z_dim: int = 2, hidden: int = 128, out_dim: int = 2, depth: int = 3):
        super().__init__()
        self.z_dim = z_dim
        layers, width = [], z_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """R^in_dim → one logit per sample, through ``depth`` hidden LeakyReLU(0.2) layers."""

    def __init__(
        self,
        in_dim: int = 2,
        hidden: int = 128,
        depth: int = 3,
        *,
        norm: str = "none",
        spectral_norm: bool = False,
    ):
        super().__init__()
        _check_norm(norm)
        layers, width = [], in_dim
        for _ in range(depth):
            layers += [_maybe_sn(nn.Linear(width, hidden), spectral_norm), _feature_norm(norm, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(_maybe_sn(nn.Linear(width, 1), spectral_norm))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)


def dcgan_depth(size: int) -> tuple[int, int]:
    """(base, n) with size = base·2ⁿ, base the smallest side ≥ 4 reachable by halving (28 → 7, 2)."""
    if not 8 <= size <= 64:
        raise ConfigError(f"DCGAN models take square images of 8 to 64 px, got {size}")
    base, n = size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base, n = base // 2, n + 1
    if n == 0:
        raise ConfigError(f"image size {size} cannot be halved down to 4–7 px")
    return base, n


class DCGANGenerator(nn.Module):
    """z → Linear → (C, base, base) → n × [ConvTranspose(4, 2, 1), BN, ReLU] → tanh image.

    ``width`` is the channel count of the last hidden feature map; each earlier map doubles it.
    """

    def __init__(self, z_dim: int = 64, size: int = 32, channels: int = 1, width: int = 64):
        super().__init__()
        self.z_dim = z_dim
        base, n = dcgan_depth(size)
        top = width * 2 ** (n - 1)
        self.project = nn.Sequential(nn.Linear(z_dim, top * base * base), nn.Unflatten(1, (top, base, base)), nn.BatchNorm2d(top), nn.ReLU())
        blocks, c = [], top
        for _ in range(n - 1):
            blocks += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        blocks += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*blocks)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.project(z))


class DCGANDiscriminator(nn.Module):
    """image → n × [Conv(4, 2, 1), norm, LeakyReLU(0.2)] → Linear → one logit per sample."""

    def __init__(
        self,
        size: int = 32,
        channels: int = 1,
        width: int = 64,
        *,
        norm: str = "none",
        spectral_norm: bool = False,
    ):
        super().__init__()
        _check_norm(norm)
        base, n = dcgan_depth(size)
        layers, c_in, c_out = [], channels, width
        for i in range(n):
            layers.append(_maybe_sn(nn.Conv2d(c_in, c_out, 4, 2, 1), spectral_norm))
            if i > 0:  # DCGAN: no normalisation on the first layer
                layers.append(_channel_norm(norm, c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in, c_out = c_out, c_out * 2
        layers += [nn.Flatten(), _maybe_sn(nn.Linear(c_in * base * base, 1), spectral_norm)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)
