"""Sample-quality measures.

``mode_stats`` is the 2-D mixture benchmark of PacGAN (Lin et al. 2018) and VEEGAN
(Srivastava et al. 2017): assign each sample to its nearest mean; a sample is *high quality*
when its std-normalised distance √Σ((x−μ)²/σ²) is below 3; a mode is *captured* when it has at
least one high-quality sample; the reverse KL is Σᵢ pᵢ log(pᵢ·K) over the fractions pᵢ of all
samples assigned to each of the K modes (0·log 0 = 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

__all__ = ["ModeStats", "mode_stats", "sliced_wasserstein"]


@dataclass(frozen=True)
class ModeStats:
    """Result of :func:`mode_stats`. ``counts[i]`` is the number of samples assigned to mode i."""

    modes: int
    num_modes: int
    high_quality: float
    reverse_kl: float
    counts: tuple[int, ...]

    def as_dict(self) -> dict:
        return asdict(self) | {"counts": list(self.counts)}

    def __str__(self) -> str:
        return f"modes {self.modes}/{self.num_modes}, high quality {100 * self.high_quality:.1f}%, reverse KL {self.reverse_kl:.3f}"


def mode_stats(samples: Tensor, centers: Tensor, std: float, *, threshold: float = 3.0) -> ModeStats:
    """Modes captured, fraction of high-quality samples and reverse KL (see module docstring)."""
    samples = torch.as_tensor(samples, dtype=torch.float64).cpu()
    centers = torch.as_tensor(centers, dtype=torch.float64).cpu()
    if samples.dim() != 2 or samples.shape[1] != centers.shape[1] or len(samples) == 0:
        raise ValueError(f"samples must be a non-empty N×{centers.shape[1]} matrix, got {tuple(samples.shape)}")
    dist = torch.cdist(samples, centers) / std
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist < threshold
    k = len(centers)
    counts = torch.bincount(nearest, minlength=k)
    captured = torch.bincount(nearest[good], minlength=k) > 0
    p = counts.double() / len(samples)
    terms = torch.where(p > 0, p * torch.log(p * k), torch.zeros_like(p))
    return ModeStats(
        modes=int(captured.sum()),
        num_modes=k,
        high_quality=float(good.double().mean()),
        reverse_kl=float(terms.sum()),
        counts=tuple(int(c) for c in counts),
    )


def sliced_wasserstein(real: Tensor, fake: Tensor, *, projections: int = 256, seed: int = 0) -> float:
    """Sliced 1-Wasserstein distance between two equally sized sample sets (rows, any shape).

    The mean over random unit directions of the 1-D Wasserstein distance between the
    projections, computed exactly by sorting. 0 for identical sets.
    """
    real, fake = real.flatten(1).double().cpu(), fake.flatten(1).double().cpu()
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    gen = torch.Generator().manual_seed(seed)
    dirs = torch.randn(real.shape[1], projections, generator=gen, dtype=torch.float64)
    dirs /= dirs.norm(dim=0, keepdim=True)
    proj_r, _ = (real @ dirs).sort(dim=0)
    proj_f, _ = (fake @ dirs).sort(dim=0)
    return float((proj_r - proj_f).abs().mean())
