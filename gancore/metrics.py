"""Sample-quality measures.

``mode_stats`` is the 2-D mixture benchmark of PacGAN (Lin et al. 2018) and VEEGAN
(Srivastava et al. 2017): assign each sample to its nearest mean; a sample is *high quality*
when its std-normalised distance √Σ((x−μ)²/σ²) is below 3; a mode is *captured* when it has at
least one high-quality sample; the reverse KL is Σᵢ pᵢ log(pᵢ·K) over the fractions pᵢ of all
samples assigned to each of the K modes (0·log 0 = 0).

The image-quality measures take two feature matrices, ``real`` first (N×d tensors; any extra
dimensions are flattened), and compute in float64 on the CPU, in row chunks so that 10k×10k
comparisons fit in a few hundred MB:

* :func:`fid` — Fréchet distance ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2(Σ_r Σ_g)^{1/2}) between Gaussians
  fitted to the features (Heusel et al. 2017; covariances with the N − 1 divisor, as ``np.cov``).
* :func:`kid` — kernel distance: the unbiased MMD² with k(x, y) = (xᵀy/d + 1)³, averaged over
  random subsets (Bińkowski et al. 2018); :func:`kid_stats` also returns the spread over subsets.
* :func:`precision_recall` — improved precision and recall (Kynkäänniemi et al. 2019): a point is
  in the manifold of a set if it lies within (≤) the k-NN radius of some member of that set.
* :func:`density_coverage` — density and coverage (Naeem et al. 2020), with a strict <.
* :func:`feature_metrics` — all of the above at once, as an :class:`ImageMetrics` row
  (:func:`gancore.features.image_metrics` computes it on images, through the digit features).

k-NN radii exclude the point itself (the (k+1)-th smallest distance, counting the zero distance to
itself), as in the reference implementations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "ModeStats",
    "mode_stats",
    "sliced_wasserstein",
    "feature_stats",
    "frechet_distance",
    "fid",
    "KID",
    "kid",
    "kid_stats",
    "PrecisionRecall",
    "precision_recall",
    "DensityCoverage",
    "density_coverage",
    "pairwise_distances",
    "knn_radii",
    "ImageMetrics",
    "feature_metrics",
]

CHUNK = 1024  # rows per block of a distance matrix: 1024 × 10k float64 distances = 80 MB


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


# ---------------------------------------------------------------------------------------------
# Image-quality measures over feature matrices


def _features(x: Tensor, name: str) -> Tensor:
    x = torch.as_tensor(x)
    if x.dim() < 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty N×d feature matrix, got shape {tuple(x.shape)}")
    x = x.detach().flatten(1).cpu()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _pair(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    real, fake = _features(real, "real"), _features(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake have different feature sizes: {real.shape[1]} and {fake.shape[1]}")
    return real, fake


def feature_stats(x: Tensor, *, chunk_size: int = CHUNK) -> tuple[Tensor, Tensor]:
    """Mean (Tensor[d]) and covariance (Tensor[d, d], divisor N − 1) of the rows of ``x``, in float64."""
    x = _features(x, "x")
    n = len(x)
    if n < 2:
        raise ValueError("a covariance needs at least 2 samples")
    mean = torch.zeros(x.shape[1], dtype=torch.float64)
    for block in x.split(chunk_size):
        mean += block.double().sum(0)
    mean /= n
    cov = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64)
    for block in x.split(chunk_size):
        centred = block.double() - mean
        cov += centred.T @ centred
    return mean, cov / (n - 1)


def _sqrt_psd(a: Tensor) -> Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix (negative eigenvalues → 0)."""
    w, v = torch.linalg.eigh((a + a.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Fréchet (2-Wasserstein²) distance between N(μ1, Σ1) and N(μ2, Σ2).

    ‖μ1 − μ2‖² + Tr Σ1 + Tr Σ2 − 2 Tr (Σ1 Σ2)^{1/2}. The last trace is computed stably as the sum
    of the square roots of the eigenvalues of the symmetric PSD matrix Σ1^{1/2} Σ2 Σ1^{1/2}, which has
    the same eigenvalues as Σ1 Σ2; eigenvalues that rounding makes slightly negative count as 0.
    """
    mu1, mu2 = (torch.as_tensor(m, dtype=torch.float64).cpu().reshape(-1) for m in (mu1, mu2))
    s1, s2 = (torch.as_tensor(s, dtype=torch.float64).cpu() for s in (sigma1, sigma2))
    d = len(mu1)
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"shapes do not match: μ {tuple(mu1.shape)}, {tuple(mu2.shape)}; Σ {tuple(s1.shape)}, {tuple(s2.shape)}")
    root1 = _sqrt_psd(s1)
    inner = root1 @ s2 @ root1
    eig = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0)
    value = (mu1 - mu2).square().sum() + torch.trace(s1) + torch.trace(s2) - 2 * eig.sqrt().sum()
    return float(value)


def fid(real: Tensor, fake: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature matrices (real first); 0 for equal sets.

    Lower is better. It is biased upwards for small samples (the TTUR authors ask for ≥ 10 000),
    so compare FIDs only at equal sample sizes and on the same features.
    """
    real, fake = _pair(real, fake)
    return frechet_distance(*feature_stats(real), *feature_stats(fake))


class KID(NamedTuple):
    """Result of :func:`kid_stats`: mean and standard deviation of the per-subset MMD² estimates."""

    mean: float
    std: float
    subsets: int
    subset_size: int


def _mmd2_unbiased(x: Tensor, y: Tensor) -> float:
    d = x.shape[1]
    m = len(x)
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    off_xx = kxx.sum() - kxx.diagonal().sum()
    off_yy = kyy.sum() - kyy.diagonal().sum()
    return float((off_xx + off_yy) / (m * (m - 1)) - 2 * kxy.sum() / m**2)


def kid_stats(real: Tensor, fake: Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> KID:
    """Kernel distance with its spread: see :func:`kid`. ``std`` is over subsets (ddof 1; 0 for one subset)."""
    real, fake = _pair(real, fake)
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    if subsets < 1:
        raise ValueError(f"subsets must be ≥ 1, got {subsets}")
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        x = real[torch.randperm(len(real), generator=gen)[:m]].double()
        y = fake[torch.randperm(len(fake), generator=gen)[:m]].double()
        values.append(_mmd2_unbiased(x, y))
    v = torch.tensor(values, dtype=torch.float64)
    std = float(v.std()) if subsets > 1 else 0.0
    return KID(float(v.mean()), std, subsets, m)


def kid(real: Tensor, fake: Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> float:
    """Kernel Inception-style distance between two feature matrices (real first).

    For each of ``subsets`` random subsets of size m = min(subset_size, N_real, N_fake) (drawn
    without replacement, seeded) the unbiased MMD² with the cubic kernel k(x, y) = (xᵀy/d + 1)³:
    [Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)] / (m(m − 1)) − 2 Σ_{i,j} k(x_i, y_j) / m², and
    returns the mean. Unbiased, so it is ≈ 0 (and can be negative) for samples of one distribution.
    """
    return kid_stats(real, fake, subsets=subsets, subset_size=subset_size, seed=seed).mean


def pairwise_distances(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances between the rows of ``a`` and ``b`` in float64 (√(‖a‖² + ‖b‖² − 2aᵀb), ≥ 0).

    Exact for small integer-valued inputs (every step is exact in float64).
    """
    a, b = a.double(), b.double()
    sq = a.square().sum(1)[:, None] + b.square().sum(1)[None, :]
    return sq.addmm_(a, b.T, alpha=-2).clamp_(min=0).sqrt_()


def knn_radii(x: Tensor, k: int, *, chunk_size: int = CHUNK) -> Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row (Tensor[N], float64)."""
    x = _features(x, "x")
    if not 1 <= k < len(x):
        raise ValueError(f"k must be between 1 and N − 1 = {len(x) - 1}, got {k}")
    xd = x.double()
    return torch.cat([pairwise_distances(block, xd).topk(k + 1, dim=1, largest=False).values[:, k] for block in xd.split(chunk_size)])


class PrecisionRecall(NamedTuple):
    precision: float
    recall: float


def precision_recall(real: Tensor, fake: Tensor, k: int = 3, *, chunk_size: int = CHUNK) -> PrecisionRecall:
    """Improved precision and recall of Kynkäänniemi et al. (2019) on feature matrices (real first).

    Precision: fraction of fake rows within (≤) the k-NN radius of at least one real row.
    Recall: fraction of real rows within (≤) the k-NN radius of at least one fake row.
    Returns ``PrecisionRecall(precision, recall)``, a named tuple that unpacks as a pair.
    """
    real, fake = _pair(real, fake)
    r_real = knn_radii(real, k, chunk_size=chunk_size)
    r_fake = knn_radii(fake, k, chunk_size=chunk_size)
    realdbl = real.double()
    fake_in = []
    real_in = torch.zeros(len(real), dtype=torch.bool)
    for block, radii in zip(fake.double().split(chunk_size), r_fake.split(chunk_size)):
        dist = pairwise_distances(block, realdbl)  # fake rows × real columns
        fake_in.append((dist <= r_real[None, :]).any(dim=1))
        real_in |= (dist <= radii[:, None]).any(dim=0)
    return PrecisionRecall(float(torch.cat(fake_in).double().mean()), float(real_in.double().mean()))


class DensityCoverage(NamedTuple):
    density: float
    coverage: float


def density_coverage(real: Tensor, fake: Tensor, k: int = 5, *, chunk_size: int = CHUNK) -> DensityCoverage:
    """Density and coverage of Naeem et al. (2020) on feature matrices (real first), strict <.

    With X the N real rows, Y the M fake rows and r_i the k-NN radius of X_i among the reals:
    density = Σ_j Σ_i 1[‖Y_j − X_i‖ < r_i] / (kM) (≈ 1 when both come from one distribution, can
    exceed 1); coverage = Σ_i 1[min_j ‖Y_j − X_i‖ < r_i] / N. For one distribution the expected
    coverage is 1 − Π_{j<k} (N−1−j)/(N−1+M−j) (≈ 0.969 for N = M = 1000, k = 5), in any dimension.
    """
    real, fake = _pair(real, fake)
    r_real = knn_radii(real, k, chunk_size=chunk_size)
    realdbl = real.double()
    inside = 0
    covered = torch.zeros(len(real), dtype=torch.bool)
    for block in fake.double().split(chunk_size):
        hits = pairwise_distances(block, realdbl) < r_real[None, :]
        inside += int(hits.sum())
        covered |= hits.any(dim=0)
    return DensityCoverage(inside / (k * len(fake)), float(covered.double().mean()))


class ImageMetrics(NamedTuple):
    """All image metrics for one pair of sample sets: the result of :func:`feature_metrics`.

    FID and KID: lower is better, ≈ 0 for two samples of one distribution. Precision and density
    measure fidelity (are the fakes where real data is?), recall and coverage diversity (is every
    part of the real data reached by some fake?). ``._asdict()`` gives a row for ``pandas.DataFrame``.
    """

    fid: float
    kid: float
    precision: float
    recall: float
    density: float
    coverage: float


def feature_metrics(
    real: Tensor,
    fake: Tensor,
    *,
    k_pr: int = 3,
    k_dc: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> ImageMetrics:
    """FID, KID, precision/recall (k = ``k_pr``) and density/coverage (k = ``k_dc``) of two feature
    matrices (real first), with the defaults of :func:`fid`, :func:`kid`, :func:`precision_recall`
    and :func:`density_coverage`. Use equal sample sizes when comparing models: FID is biased by N.
    """
    real, fake = _pair(real, fake)
    pr = precision_recall(real, fake, k=k_pr)
    dc = density_coverage(real, fake, k=k_dc)
    return ImageMetrics(
        fid=fid(real, fake),
        kid=kid(real, fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed),
        precision=pr.precision,
        recall=pr.recall,
        density=dc.density,
        coverage=dc.coverage,
    )
