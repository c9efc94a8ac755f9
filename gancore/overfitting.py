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

__all__ = [
    "Memorization", "nearest_distances", "memorization", "logits", "rt_sign", "DiscriminatorGap", "discriminator_gap",
    "subset", "OverfitTracker", "LimitedDataResult", "train_limited", "mean_std",
]


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


# ----- limited-data experiments ----------------------------------------------------------------
# (used by the Overfitting chapter and benchmarks/limited_data.py)


def subset(images: Tensor, n: int | None, *, seed: int = 0) -> Tensor:
    """A seeded random subset of ``n`` rows of ``images`` (all of them, in their order, when ``n`` is None or ≥ N)."""
    images = torch.as_tensor(images)
    if n is None or n >= len(images):
        return images
    if n < 1:
        raise ValueError(f"subset size must be ≥ 1, got {n}")
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]


def _augmented(x: Tensor, policy: str, seed: int) -> Tensor:
    from .augment import diffaugment, parse_policy

    if not parse_policy(policy):
        return x
    return diffaugment(x.float(), policy, generator=torch.Generator().manual_seed(seed))


class OverfitTracker:
    """An ``on_log`` callback for :func:`gancore.train.fit` that records D's overfitting over training.

    At every call it evaluates D (in eval mode, without gradients) on ``train`` reals, ``heldout``
    reals and ``n_fake`` fresh samples of the raw generator G, and appends to ``self.history``:

    * ``step``; ``rt`` — ADA's r_t = E[sign D(x)] on the training reals;
    * ``train_accuracy``, ``heldout_accuracy``, ``gap`` — fractions with logit > 0 and their difference;
    * ``fake_accuracy`` — fraction of fakes with logit < 0 (D correct on fakes);
    * ``logit_train``, ``logit_heldout``, ``logit_fake`` — mean logits;
    * ``fid`` — when ``real_features`` is given: FID of ``n_fid`` samples of ``run.sample`` (the EMA
      generator when there is one) against ``real_features``, via ``features_fn`` (default
      :func:`gancore.features.digit_features`).

    With ``augment`` (a DiffAugment policy) D is evaluated on augmented reals and fakes, drawn with
    a fixed seed — the inputs D actually trains on, which is where ADA measures r_t. The images in
    ``train`` and ``heldout`` are moved to D's device at each call and never modified.
    """

    COLUMNS = ("step", "rt", "train_accuracy", "heldout_accuracy", "gap", "fake_accuracy",
               "logit_train", "logit_heldout", "logit_fake", "fid")

    def __init__(self, train: Tensor, heldout: Tensor, *, augment: str = "none", n_fake: int = 500,
                 real_features: Tensor | None = None, n_fid: int = 1000, features_fn=None, seed: int = 0):
        if len(train) == 0 or len(heldout) == 0:
            raise ValueError("OverfitTracker needs non-empty training and held-out sets")
        self.train, self.heldout = torch.as_tensor(train).detach(), torch.as_tensor(heldout).detach()
        self.augment, self.n_fake, self.n_fid, self.seed = augment, n_fake, n_fid, seed
        self.real_features = real_features
        self.features_fn = features_fn
        self.history: dict[str, list] = {c: [] for c in self.COLUMNS}

    def __call__(self, run) -> None:
        D = run.D
        lt = logits(D, _augmented(self.train, self.augment, self.seed))
        lh = logits(D, _augmented(self.heldout, self.augment, self.seed + 1))
        lf = logits(D, _augmented(run.sample(self.n_fake, seed=self.seed + 2, ema=False), self.augment, self.seed + 3))
        acc_t, acc_h = float((lt > 0).double().mean()), float((lh > 0).double().mean())
        fid_value = float("nan")
        if self.real_features is not None:
            from .metrics import fid

            fn = self.features_fn
            if fn is None:
                from .features import digit_features as fn
            fid_value = fid(self.real_features, fn(run.sample(self.n_fid, seed=self.seed + 4)))
        row = {"step": run.step, "rt": float(lt.sign().double().mean()), "train_accuracy": acc_t,
               "heldout_accuracy": acc_h, "gap": acc_t - acc_h, "fake_accuracy": float((lf < 0).double().mean()),
               "logit_train": float(lt.double().mean()), "logit_heldout": float(lh.double().mean()),
               "logit_fake": float(lf.double().mean()), "fid": fid_value}
        for c in self.COLUMNS:
            self.history[c].append(row[c])


@dataclass
class LimitedDataResult:
    """Result of :func:`train_limited`: the trained ``run``, its ``tracker`` (None without tracking),
    the final ``row`` of measurements, and the ``memorization`` of the final samples."""

    run: object
    tracker: OverfitTracker | None
    row: dict
    memorization: Memorization


def train_limited(train: Tensor, heldout: Tensor, config, *, n_fake: int = 1000, track: bool = True,
                  real_features: Tensor | None = None, eval_real: Tensor | None = None,
                  features_fn=None, kid_subsets: int = 50, progress: bool = False) -> LimitedDataResult:
    """Train the GAN of ``config`` on ``train`` images and measure how much it overfits.

    ``heldout`` images (same distribution, never trained on) serve three purposes: D's accuracy on
    them versus on ``train`` (the gap), the memorisation test (nearest neighbours, sets of equal
    size), and — unless ``eval_real`` is given — the real set of FID, KID and precision/recall.
    ``n_fake`` samples of the EMA generator (seed 0) are scored. With ``track=True`` an
    :class:`OverfitTracker` runs every ``config.log_every`` steps (with FID when ``real_features``
    is given). The returned row holds: ``n_train``, ``augment``, ``seed``, ``steps``, ``fid``,
    ``kid``, ``precision``, ``recall``, ``density``, ``coverage``, ``rt``, ``train_accuracy``,
    ``heldout_accuracy``, ``gap`` (D measured on its training inputs, augmented if the config
    augments), ``closer_to_train``, ``median_ratio``, ``copies``, ``cpu_seconds`` and ``seconds``.
    """
    import time

    from .metrics import feature_metrics
    from .train import build_models, fit

    fn = features_fn
    if fn is None:
        from .features import digit_features as fn
    train = torch.as_tensor(train).detach()
    heldout = torch.as_tensor(heldout).detach()
    tracker = OverfitTracker(train, heldout, augment=config.augment, real_features=real_features,
                             features_fn=fn, seed=config.seed) if track else None
    G, D = build_models(config, tuple(train.shape[1:]))
    wall, cpu = time.perf_counter(), time.process_time()
    run = fit(G, D, train, config, progress=progress, on_log=tracker)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    fake = run.sample(n_fake, seed=0)
    real = heldout if eval_real is None else torch.as_tensor(eval_real)
    quality = feature_metrics(fn(real), fn(fake), kid_subsets=kid_subsets, seed=config.seed)
    final = OverfitTracker(train, heldout, augment=config.augment, seed=config.seed)
    final(run)
    mem = memorization(fake, train, heldout, match_sizes=True, seed=config.seed)
    row = {"n_train": len(train), "augment": config.augment, "seed": config.seed, "steps": run.step,
           **quality._asdict(),
           **{k: final.history[k][-1] for k in ("rt", "train_accuracy", "heldout_accuracy", "gap")},
           "closer_to_train": mem.closer_to_train, "median_ratio": mem.median_ratio, "copies": mem.copies,
           "cpu_seconds": cpu, "seconds": wall}
    return LimitedDataResult(run, tracker, row, mem)


def mean_std(rows, by, columns) -> list[dict]:
    """Group ``rows`` (dicts) by the ``by`` columns, in order of first appearance, and give each
    group ``runs`` and ``<column>_mean`` / ``<column>_std`` (sample std, ddof 1; 0 for one run)
    for every name in ``columns``. Non-finite values are skipped (NaN when none is left)."""
    import math

    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault(tuple(row[c] for c in by), []).append(row)
    out = []
    for key, members in groups.items():
        summary = dict(zip(by, key), runs=len(members))
        for c in columns:
            values = [float(r[c]) for r in members if r.get(c) is not None and math.isfinite(float(r[c]))]
            n = len(values)
            mean = sum(values) / n if n else float("nan")
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else (0.0 if n else float("nan"))
            summary[f"{c}_mean"], summary[f"{c}_std"] = mean, std
        out.append(summary)
    return out
