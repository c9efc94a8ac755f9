"""Overfitting measures: does G copy its training set, does D memorise it?

* :func:`memorization` — for each generated sample, the distance to its nearest training image
  and to its nearest held-out image. A generator that generalises is no closer to the images it
  was trained on than to unseen images of the same distribution; one that copies sits at distance
  ≈ 0 from training images. Compare sets of equal size (a larger set has closer neighbours by
  chance alone): pass as many training images as held-out ones, or ``match_sizes=True``.
* :func:`rt_sign` — the ADA overfitting heuristic r_t = E[sign D(x_real)] on training reals
  (Karras et al. 2020): 0 when D cannot tell, 1 when it is sure about every training image. ADA
  raises augmentation when r_t exceeds its target 0.6.
* :func:`discriminator_gap` — D's accuracy (logit > 0 means "real") on training reals and on
  held-out reals, and their difference: a large gap means D has memorised its training set.

Distances are Euclidean between flattened rows, computed in float64 on the CPU; pass features
(e.g. :func:`gancore.features.digit_features`) instead of pixels to compare in a feature space.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .metrics import CHUNK, pairwise_distances

__all__ = ["Memorization", "nearest_distances", "memorization", "logits", "rt_sign", "DiscriminatorGap", "discriminator_gap"]


def nearest_distances(queries: Tensor, reference: Tensor, *, chunk_size: int = CHUNK) -> Tensor:
    """Distance from each row of ``queries`` to its nearest row of ``reference`` (Tensor[N], float64; exactly 0 for copies)."""
    q = torch.as_tensor(queries).detach().flatten(1).cpu().double()
    r = torch.as_tensor(reference).detach().flatten(1).cpu().double()
    if len(q) == 0 or len(r) == 0 or q.shape[1] != r.shape[1]:
        raise ValueError(f"need non-empty sets of equal row size, got {tuple(q.shape)} and {tuple(r.shape)}")
    # the nearest row is found with the fast matrix-product formula, then its distance is recomputed
    # directly, so that copies come out at exactly 0 and small distances keep their precision
    nearest = torch.cat([pairwise_distances(block, r).argmin(dim=1) for block in q.split(chunk_size)])
    return (q - r[nearest]).norm(dim=1)


@dataclass(frozen=True)
class Memorization:
    """Result of :func:`memorization`.

    ``train_distance[i]`` and ``heldout_distance[i]`` are the distances from sample i to its nearest
    training and held-out image; ``closer_to_train`` is the fraction of samples with
    train_distance < heldout_distance (≈ 0.5 without memorisation, with sets of equal size);
    ``median_ratio`` the median of train_distance / heldout_distance (≈ 1 without memorisation,
    → 0 for copies; 0/0 counts as 1); ``copies`` the fraction of samples at distance ≤ ``copy_tol``
    from a training image.
    """

    train_distance: Tensor
    heldout_distance: Tensor
    closer_to_train: float
    median_ratio: float
    copies: float
    n_train: int
    n_heldout: int

    def __str__(self) -> str:
        return (f"closer to train {100 * self.closer_to_train:.1f}%, median ratio {self.median_ratio:.3f}, "
                f"copies {100 * self.copies:.1f}% (train {self.n_train}, held-out {self.n_heldout})")


def memorization(fake: Tensor, train: Tensor, heldout: Tensor, *, match_sizes: bool = False,
                 copy_tol: float = 1e-6, seed: int = 0, chunk_size: int = CHUNK) -> Memorization:
    """Nearest-neighbour distances of generated samples to the training and the held-out set.

    With ``match_sizes=True`` the larger of ``train`` and ``heldout`` is cut to the size of the other
    by a seeded random subset, so that neither is closer merely by having more points.
    """
    train = torch.as_tensor(train).detach()
    heldout = torch.as_tensor(heldout).detach()
    if match_sizes and len(train) != len(heldout):
        n = min(len(train), len(heldout))
        gen = torch.Generator().manual_seed(seed)
        if len(train) > n:
            train = train[torch.randperm(len(train), generator=gen)[:n]]
        else:
            heldout = heldout[torch.randperm(len(heldout), generator=gen)[:n]]
    d_train = nearest_distances(fake, train, chunk_size=chunk_size)
    d_held = nearest_distances(fake, heldout, chunk_size=chunk_size)
    ratio = torch.where(d_held > 0, d_train / d_held.clamp(min=torch.finfo(torch.float64).tiny),
                        torch.where(d_train > 0, torch.inf, 1.0))
    return Memorization(
        train_distance=d_train,
        heldout_distance=d_held,
        closer_to_train=float((d_train < d_held).double().mean()),
        median_ratio=float(ratio.median()),
        copies=float((d_train <= copy_tol).double().mean()),
        n_train=len(train),
        n_heldout=len(heldout),
    )


@torch.no_grad()
def logits(D: nn.Module, x: Tensor, *, batch_size: int = 512) -> Tensor:
    """D's logits for ``x`` as a CPU Tensor[N]: batched, without gradients, in eval mode (restored after)."""
    x = torch.as_tensor(x).detach()
    param = next(D.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    was_training = D.training
    D.eval()
    try:
        out = [D(block.to(device=device, dtype=dtype)).reshape(len(block), -1) for block in x.split(batch_size)]
    finally:
        D.train(was_training)
    out = torch.cat(out).cpu() if out else torch.zeros(0, 1)
    if out.shape[1] != 1:
        raise ValueError(f"D must output one logit per sample, got {out.shape[1]} values")
    return out[:, 0]


def rt_sign(D: nn.Module, reals: Tensor, *, batch_size: int = 512) -> float:
    """ADA's overfitting heuristic r_t = E[sign D(x)] over training reals (in [−1, 1]; ADA's target is 0.6)."""
    if len(reals) == 0:
        raise ValueError("rt_sign needs at least one real image")
    return float(logits(D, reals, batch_size=batch_size).sign().double().mean())


@dataclass(frozen=True)
class DiscriminatorGap:
    """Result of :func:`discriminator_gap`: accuracies (logit > 0) and ``gap = train_accuracy − heldout_accuracy``."""

    train_accuracy: float
    heldout_accuracy: float
    gap: float

    def __str__(self) -> str:
        return f"D accuracy on train {100 * self.train_accuracy:.1f}%, held-out {100 * self.heldout_accuracy:.1f}%, gap {100 * self.gap:.1f} points"


def discriminator_gap(D: nn.Module, train_reals: Tensor, heldout_reals: Tensor, *, batch_size: int = 512) -> DiscriminatorGap:
    """How much better D recognises its training reals than unseen reals of the same distribution."""
    if len(train_reals) == 0 or len(heldout_reals) == 0:
        raise ValueError("discriminator_gap needs non-empty training and held-out sets")
    acc_train = float((logits(D, train_reals, batch_size=batch_size) > 0).double().mean())
    acc_held = float((logits(D, heldout_reals, batch_size=batch_size) > 0).double().mean())
    return DiscriminatorGap(acc_train, acc_held, acc_train - acc_held)
