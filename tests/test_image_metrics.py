"""FID, KID, precision/recall, density/coverage and the digit feature network, against closed forms
and constructed point sets."""

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from gancore import features
from gancore.metrics import (
    density_coverage,
    feature_metrics,
    feature_stats,
    fid,
    frechet_distance,
    kid,
    kid_stats,
    knn_radii,
    precision_recall,
)


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    """Never touch the user's cache: every test gets its own GANCORE_CACHE."""
    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path / "cache"))


def gen(seed):
    return torch.Generator().manual_seed(seed)


def exact_samples(mu, sigma):
    """2d points whose sample mean is exactly ``mu`` and sample covariance (N − 1) exactly ``sigma``.

    The points ±c·e_i (i = 1..d, N = 2d) have mean 0 and covariance 2c²/(N − 1)·I, so c = √((N − 1)/2)
    gives the identity; mapping z ↦ μ + Lz with LLᵀ = Σ gives mean μ and covariance Σ.
    """
    mu = torch.as_tensor(mu, dtype=torch.float64)
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    d = len(mu)
    c = math.sqrt((2 * d - 1) / 2)
    z = torch.cat([c * torch.eye(d, dtype=torch.float64), -c * torch.eye(d, dtype=torch.float64)])
    return mu + z @ torch.linalg.cholesky(sigma).T


def scipy_frechet(mu1, s1, mu2, s2):
    covmean = scipy.linalg.sqrtm(np.asarray(s1) @ np.asarray(s2)).real
    return float(((np.asarray(mu1) - np.asarray(mu2)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def random_cov(d, seed):
    a = torch.randn(d, d, generator=gen(seed), dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


# ------------------------------------------------------------------------------------------- FID


def test_fid_of_a_set_with_itself_is_zero():
    x = torch.randn(500, 16, generator=gen(0)) @ torch.randn(16, 16, generator=gen(1)) + 3.0
    assert abs(fid(x, x)) < 1e-6


def test_feature_stats_match_numpy_and_do_not_depend_on_chunks():
    x = torch.randn(301, 5, generator=gen(0), dtype=torch.float64)
    mu, cov = feature_stats(x, chunk_size=7)
    assert torch.allclose(mu, x.mean(0), atol=1e-12)
    assert np.allclose(cov.numpy(), np.cov(x.numpy(), rowvar=False), atol=1e-12)


def test_fid_equals_the_formula_on_samples_with_exact_moments():
    # Σ1 = diag(1, 4), Σ2 = diag(9, 1), μ1 = 0, μ2 = (3, 4): 25 + (√1 − √9)² + (√4 − √1)² = 25 + 4 + 1 = 30
    a = exact_samples([0.0, 0.0], torch.diag(torch.tensor([1.0, 4.0])))
    b = exact_samples([3.0, 4.0], torch.diag(torch.tensor([9.0, 1.0])))
    mu, cov = feature_stats(a)
    assert torch.allclose(cov, torch.diag(torch.tensor([1.0, 4.0], dtype=torch.float64)), atol=1e-12)
    assert fid(a, b) == pytest.approx(30.0, abs=1e-9)
    assert fid(b, a) == pytest.approx(30.0, abs=1e-9)


def test_fid_equals_scipy_sqrtm_for_full_covariances():
    d = 6
    mu1 = torch.randn(d, generator=gen(2), dtype=torch.float64)
    mu2 = torch.randn(d, generator=gen(3), dtype=torch.float64)
    s1, s2 = random_cov(d, 4), random_cov(d, 5)
    expected = scipy_frechet(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert fid(exact_samples(mu1, s1), exact_samples(mu2, s2)) == pytest.approx(expected, rel=1e-8, abs=1e-8)


def test_fid_of_gaussian_samples_approaches_the_closed_form():
    # diagonal covariances: ‖Δμ‖² + Σ(√a − √b)² = 1 + (2 − 1)² + (1 − 3)² = 6
    n = 20000
    a = torch.tensor([1.0, 4.0, 1.0, 1.0])
    b = torch.tensor([1.0, 1.0, 9.0, 1.0])
    x = torch.randn(n, 4, generator=gen(0), dtype=torch.float64) * a.sqrt()
    y = torch.randn(n, 4, generator=gen(1), dtype=torch.float64) * b.sqrt() + torch.tensor([1.0, 0, 0, 0])
    assert fid(x, y) == pytest.approx(6.0, abs=0.1)


def test_fid_handles_singular_covariances():
    x = torch.randn(100, 3, generator=gen(0))
    x[:, 2] = 0  # a dead feature, as ReLU features often have
    y = x + torch.tensor([1.0, 0.0, 0.0])
    assert fid(x, y) == pytest.approx(1.0, abs=1e-6)


def test_fid_rejects_mismatched_features():
    with pytest.raises(ValueError):
        fid(torch.zeros(10, 3), torch.zeros(10, 4))


# ------------------------------------------------------------------------------------------- KID


def kid_loop(x, y):
    """The unbiased MMD² written out term by term."""
    m, d = len(x), x.shape[1]
    k = lambda a, b: (float(a @ b) / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2 * xy / m**2


def test_kid_matches_a_direct_loop():
    x = torch.randn(6, 3, generator=gen(0), dtype=torch.float64)
    y = torch.randn(6, 3, generator=gen(1), dtype=torch.float64) + 0.5
    # one subset of all 6 points is a permutation, and MMD² does not depend on the order
    assert kid(x, y, subsets=1, subset_size=6) == pytest.approx(kid_loop(x, y), rel=1e-12)
    assert kid(x, y, subsets=5, subset_size=100) == pytest.approx(kid_loop(x, y), rel=1e-12)


def test_kid_is_unbiased_for_one_distribution():
    values = []
    for seed in range(300):
        x = torch.randn(40, 4, generator=gen(2 * seed), dtype=torch.float64)
        y = torch.randn(40, 4, generator=gen(2 * seed + 1), dtype=torch.float64)
        values.append(kid(x, y, subsets=1, subset_size=40))
    v = torch.tensor(values)
    stderr = float(v.std() / math.sqrt(len(v)))
    assert abs(float(v.mean())) < 3 * stderr
    assert (v < 0).any() and (v > 0).any()


def test_kid_grows_with_a_mean_shift():
    x = torch.randn(400, 8, generator=gen(0))
    y = torch.randn(400, 8, generator=gen(1))
    values = [kid(x, y + shift, subsets=10, subset_size=200) for shift in (0.0, 0.25, 0.5, 1.0)]
    assert abs(values[0]) < values[1] / 10  # one distribution: ≈ 0 on the scale of a small shift
    assert values[0] < values[1] < values[2] < values[3]


def test_kid_stats_reports_spread_and_caps_the_subset_size():
    x = torch.randn(50, 4, generator=gen(0))
    y = torch.randn(30, 4, generator=gen(1))
    s = kid_stats(x, y, subsets=20, subset_size=1000, seed=3)
    assert s.subset_size == 30 and s.subsets == 20 and s.std > 0
    assert s.mean == kid(x, y, subsets=20, subset_size=1000, seed=3)
    assert s.mean != kid(x, y, subsets=20, subset_size=1000, seed=4)


# ---------------------------------------------------------------------------- precision / recall


def line(*values):
    return torch.tensor(values, dtype=torch.float64)[:, None]


def test_knn_radii_exclude_the_point_itself():
    assert knn_radii(line(0, 1, 3, 7), 1).tolist() == [1, 1, 2, 4]
    assert knn_radii(line(0, 1, 3, 7), 2).tolist() == [3, 2, 3, 6]
    assert knn_radii(line(0, 0, 5), 1).tolist() == [0, 0, 5]  # a duplicate is a neighbour at distance 0


def test_precision_recall_on_identical_and_on_far_apart_sets():
    x = torch.randn(200, 5, generator=gen(0))
    assert precision_recall(x, x) == (1.0, 1.0)
    assert precision_recall(x, x + 1000.0) == (0.0, 0.0)


def test_precision_recall_by_hand_on_a_line():
    # real 0,1,2,3 with k = 1: radii 1, 1, 1, 1. fake 4, 5.5, 10: radii 1.5, 1.5, 4.5.
    # precision: 4 is at distance exactly 1 from real 3 (≤ counts) → 1/3.
    # recall: real 3 is 1 ≤ 1.5 from fake 4; reals 0, 1, 2 are outside every fake ball → 1/4.
    p, r = precision_recall(line(0, 1, 2, 3), line(4, 5.5, 10), k=1)
    assert (p, r) == (1 / 3, 1 / 4)


def test_fake_covering_a_subset_of_the_real_modes():
    # four clusters of 5, 5, 10 and 20 lattice points, 1000 apart; fake copies clusters 0 and 2
    sizes = [5, 5, 10, 20]
    clusters = [torch.stack([torch.full((n,), 1000.0 * c), torch.arange(n, dtype=torch.float64)], 1)
                for c, n in enumerate(sizes)]
    real = torch.cat(clusters)
    fake = torch.cat([clusters[0], clusters[2]])
    p, r = precision_recall(real, fake, k=3)
    assert p == 1.0
    assert r == (5 + 10) / 40


def test_chunking_does_not_change_precision_recall_or_density_coverage():
    x = torch.randn(300, 6, generator=gen(0))
    y = torch.randn(250, 6, generator=gen(1)) * 1.3
    assert precision_recall(x, y, chunk_size=17) == precision_recall(x, y)
    assert density_coverage(x, y, chunk_size=17) == density_coverage(x, y)


# ---------------------------------------------------------------------------- density / coverage


def test_density_coverage_by_hand_on_a_line():
    real = line(0, 1, 2, 3)  # k = 1: every radius is 1
    # fake 2.5 lies strictly inside the balls of 2 and 3; fake 4 is at exactly 1 from 3 (strict: out)
    d, c = density_coverage(real, line(4, 2.5, 10), k=1)
    assert d == 2 / 3 and c == 2 / 4
    # strictness: a fake on the boundary of the ball of real 3 covers nothing
    assert density_coverage(real, line(4, 10), k=1) == (0.0, 0.0)
    # density rewards fakes packed where the reals are dense and can exceed 1
    d, c = density_coverage(real, line(1.5, 1.5, 1.5), k=1)
    assert d == 2.0 and c == 0.5


def test_density_coverage_of_identical_and_far_apart_sets():
    x = torch.randn(200, 5, generator=gen(0))
    assert density_coverage(x, x + 1000.0) == (0.0, 0.0)
    d, c = density_coverage(x, x)
    assert c == 1.0  # each real is at distance 0 < its radius from its copy
    # each real's ball holds its own copy and the copies of its k − 1 nearer neighbours; the copy of
    # the k-th neighbour sits on the boundary, inside or out by rounding: density in [1, 1 + 1/k]
    assert 1.0 <= d <= 1.0 + 1 / 5


def test_density_coverage_sanity_value_for_one_gaussian():
    """N(0, I) vs N(0, I) in 64-d, 1000 samples each, k = 5.

    For two samples of one distribution, E[density] = 1 exactly and E[coverage] = 1 −
    Π_{j<5} (999 − j)/(1999 − j) = 0.9689 (Naeem et al. 2020), whatever the dimension. Over 20
    seeds we measured density 0.996 ± 0.062 and coverage 0.969 ± 0.008 (mean ± sd), so the bounds
    below are about 4 standard deviations.
    """
    n, k = 1000, 5
    expected_coverage = 1 - math.prod((n - 1 - j) / (2 * n - 1 - j) for j in range(k))
    assert expected_coverage == pytest.approx(0.9689, abs=1e-4)
    x = torch.randn(n, 64, generator=gen(0))
    y = torch.randn(n, 64, generator=gen(1))
    d, c = density_coverage(x, y, k=k)
    assert d == pytest.approx(1.0, abs=0.25)
    assert c == pytest.approx(expected_coverage, abs=0.035)


# -------------------------------------------------------------------------- the feature network


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One network trained into a fresh cache directory (shared by the tests below)."""
    directory = tmp_path_factory.mktemp("features")
    return directory, features.feature_network(directory)


def test_feature_network_accuracy_on_held_out_digits(trained):
    directory, net = trained
    _, _, x_held, y_held = features.digits_split()
    acc = features.accuracy(net, x_held, y_held)
    assert acc >= 0.95
    state = torch.load(features.cache_path(directory), weights_only=True)
    assert state["heldout_accuracy"] == acc


def test_training_is_deterministic(trained):
    _, net = trained
    again, _ = features.train_digit_classifier()
    images = features.digits_split()[2]
    assert torch.equal(features.digit_features(images, network=net), features.digit_features(images, network=again))


def test_cache_reload_gives_identical_features(trained, monkeypatch):
    directory, net = trained
    monkeypatch.setenv("GANCORE_CACHE", str(directory))
    reloaded = features.feature_network(reload=True)
    assert reloaded is not net
    images = features.digits_split()[2]
    f = features.digit_features(images)  # default network: the cached one
    assert f.shape == (len(images), features.FEATURE_DIM) and f.dtype == torch.float32
    assert torch.equal(f, features.digit_features(images, network=net))
    assert torch.equal(f, features.digit_features(images, network=reloaded))


def test_corrupt_cache_is_retrained(trained, tmp_path, monkeypatch):
    directory, net = trained
    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path / "c"))
    path = features.cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.warns(RuntimeWarning, match="retraining"):
        fresh = features.feature_network()
    images = features.digits_split()[2][:50]
    assert torch.equal(features.digit_features(images, network=fresh), features.digit_features(images, network=net))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        features.feature_network(reload=True)  # the rewritten file loads cleanly


def test_features_of_larger_images_are_pooled_to_8x8(trained):
    _, net = trained
    small = features.digits_split()[2][:20]
    big = small.repeat_interleave(3, dim=2).repeat_interleave(3, dim=3)  # 24×24, each pixel a 3×3 block
    assert torch.allclose(features.digit_features(big, network=net), features.digit_features(small, network=net), atol=1e-5)
    assert features.digit_features(small[:, 0], network=net).shape == (20, features.FEATURE_DIM)
    with pytest.raises(ValueError):
        features.digit_features(torch.zeros(2, 3, 8, 8), network=net)


def test_real_digits_score_better_than_noise(trained):
    _, net = trained
    x_train, _, x_held, _ = features.digits_split()
    f_train = features.digit_features(x_train, network=net)
    f_held = features.digit_features(x_held, network=net)
    noise = torch.rand(len(x_held), 1, 8, 8, generator=gen(0)) * 2 - 1
    f_noise = features.digit_features(noise, network=net)
    assert fid(f_train, f_held) < fid(f_train, f_noise) / 10
    assert kid(f_train, f_held, subsets=10, subset_size=300) < kid(f_train, f_noise, subsets=10, subset_size=300)


# ------------------------------------------------------------- all metrics at once (feature_metrics, image_metrics)


def test_feature_metrics_equals_the_single_metrics():
    x = torch.randn(300, 6, generator=gen(10))
    y = torch.randn(250, 6, generator=gen(11)) * 1.3 + 0.2
    m = feature_metrics(x, y, kid_subsets=20, kid_subset_size=200, seed=3)
    assert m.fid == fid(x, y)
    assert m.kid == kid(x, y, subsets=20, subset_size=200, seed=3)
    assert (m.precision, m.recall) == tuple(precision_recall(x, y, k=3))
    assert (m.density, m.coverage) == tuple(density_coverage(x, y, k=5))
    assert list(m._asdict()) == ["fid", "kid", "precision", "recall", "density", "coverage"]


def test_feature_metrics_of_a_set_with_itself_and_of_far_apart_sets():
    x = torch.randn(200, 4, generator=gen(12))
    same = feature_metrics(x, x, kid_subsets=5)
    assert same.fid == pytest.approx(0.0, abs=1e-9)
    assert same.precision == same.recall == same.coverage == 1.0
    far = feature_metrics(x, x + 100.0, kid_subsets=5)
    assert far.fid == pytest.approx(4 * 100.0**2, rel=1e-9)  # ‖μ shift‖² with equal covariances
    assert far.kid > 1.0
    assert far.precision == far.recall == far.density == far.coverage == 0.0


def test_feature_metrics_separate_fidelity_from_diversity():
    """Fakes on one of two real clusters: high precision, low recall; fakes spread over both and
    beyond: high recall, lower precision — the trade-off the book's GAN-vs-VAE comparison shows."""
    a = torch.randn(200, 2, generator=gen(13)) * 0.1
    real = torch.cat([a - 3, a + 3])
    one_mode = torch.randn(400, 2, generator=gen(14)) * 0.1 - 3
    blurry = torch.randn(400, 2, generator=gen(15)) * 2.5
    sharp, blur = feature_metrics(real, one_mode, kid_subsets=5), feature_metrics(real, blurry, kid_subsets=5)
    assert sharp.precision > 0.9 and sharp.recall < 0.55 and sharp.coverage < 0.55
    assert blur.recall > sharp.recall and blur.precision < sharp.precision and blur.density < sharp.density


def test_image_metrics_are_feature_metrics_on_digit_features(trained):
    _, net = trained
    x_train, _, x_held, _ = features.digits_split()
    noise = torch.rand(len(x_held), 1, 8, 8, generator=gen(16)) * 2 - 1
    m = features.image_metrics(x_held, x_train[: len(x_held)], network=net, kid_subsets=10)
    f = feature_metrics(features.digit_features(x_held, network=net), features.digit_features(x_train[: len(x_held)], network=net), kid_subsets=10)
    assert m == f
    bad = features.image_metrics(x_held, noise, network=net, kid_subsets=10)
    assert bad.fid > 10 * m.fid and bad.kid > m.kid and bad.precision < m.precision and bad.coverage < m.coverage
    assert m.precision > 0.8 and m.recall > 0.8
