"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to real *and* fake images,
in both the discriminator and the generator step, so D never sees un-augmented data and G still
receives gradients through the augmentation.

Written from the paper's description (REFERENCE.md §4):

- ``color``: brightness + U(−0.5, 0.5); saturation × U(0, 2) around the per-pixel channel mean;
  contrast × U(0.5, 1.5) around the image mean.
- ``translation``: shift by up to 1/8 of the image size in each direction, zero padding.
- ``cutout``: one zeroed square of half the image size at a random position (clipped at borders).

Each sample draws its own random parameters; pass a ``torch.Generator`` for reproducibility.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import ConfigError

__all__ = ["AUGMENTATIONS", "diffaugment", "parse_policy"]


def _uniform(n: int, low: float, high: float, x: Tensor, generator) -> Tensor:
    u = torch.rand(n, 1, 1, 1, generator=generator, device=x.device, dtype=x.dtype)
    return low + (high - low) * u


def color(x: Tensor, generator=None) -> Tensor:
    n = x.shape[0]
    x = x + _uniform(n, -0.5, 0.5, x, generator)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * _uniform(n, 0.0, 2.0, x, generator) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(n, 0.5, 1.5, x, generator) + mean


def translation(x: Tensor, generator=None, ratio: float = 0.125) -> Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1), generator=generator, device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1), generator=generator, device=x.device)
    padded = F.pad(x, [sw, sw, sh, sh])
    rows = torch.arange(h, device=x.device)[None, :] + sh - dy  # output row i reads input row i − dy
    cols = torch.arange(w, device=x.device)[None, :] + sw - dx
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def cutout(x: Tensor, generator=None, ratio: float = 0.5) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h, (n, 1, 1), generator=generator, device=x.device)
    cx = torch.randint(0, w, (n, 1, 1), generator=generator, device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= cy - ch // 2) & (ys < cy - ch // 2 + ch) & (xs >= cx - cw // 2) & (xs < cx - cw // 2 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


AUGMENTATIONS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> list[str]:
    """``"color,translation"`` → ``["color", "translation"]``; ``"none"`` or ``""`` → ``[]``."""
    names = [p.strip() for p in policy.split(",") if p.strip() and p.strip() != "none"]
    for name in names:
        if name not in AUGMENTATIONS:
            raise ConfigError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)} (comma-separated) or none")
    return names


def diffaugment(x: Tensor, policy: str = "color,translation,cutout", *, generator: torch.Generator | None = None) -> Tensor:
    """Apply the comma-separated ``policy`` to a batch of N×C×H×W images, differentiably."""
    if x.dim() != 4:
        raise ValueError(f"diffaugment takes N×C×H×W images, got shape {tuple(x.shape)}")
    for name in parse_policy(policy):
        x = AUGMENTATIONS[name](x, generator)
    return x
