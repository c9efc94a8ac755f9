"""mode_stats on constructed sample sets, worked out by hand."""

import math

import pytest
import torch

from gancore.data import toy
from gancore.metrics import mode_stats, sliced_wasserstein

RING = toy("ring")
GRID = toy("grid")


def test_all_samples_on_one_mode():
    samples = RING.centers[3].repeat(2500, 1)
    s = mode_stats(samples, RING.centers, RING.std)
    assert (s.modes, s.num_modes, s.high_quality) == (1, 8, 1.0)
    assert s.reverse_kl == pytest.approx(math.log(8))  # p = (0,..,1,..,0): 1·log(1·8)
    assert s.counts[3] == 2500


def test_spread_over_every_mode():
    samples = GRID.centers.repeat(100, 1)  # 2500 points, 100 per mode
    s = mode_stats(samples, GRID.centers, GRID.std)
    assert (s.modes, s.high_quality) == (25, 1.0)
    assert s.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_far_away_points_are_assigned_but_not_captured():
    samples = torch.tensor([[10.0, 0.0]]).repeat(100, 1)  # nearest mean is (1, 0), at 900σ
    s = mode_stats(samples, RING.centers, RING.std)
    assert (s.modes, s.high_quality) == (0, 0.0)
    assert s.counts[0] == 100
    assert s.reverse_kl == pytest.approx(math.log(8))


def test_threshold_is_three_standard_deviations_strict():
    std = RING.std
    c0, c1 = RING.centers[0], RING.centers[1]
    # 100 points at 2.9σ from mode 0 (high quality), 100 at 3.05σ (not), 200 on mode 1
    inside = (c0 + 2.9 * std * torch.tensor([0.6, 0.8])).repeat(100, 1)
    outside = (c0 + 3.05 * std * torch.tensor([0.6, 0.8])).repeat(100, 1)
    on_mode1 = c1.repeat(200, 1)
    s = mode_stats(torch.cat([inside, outside, on_mode1]), RING.centers, std)
    assert s.modes == 2
    assert s.high_quality == pytest.approx(300 / 400)
    # p = (1/2, 1/2, 0, ...): Σ p log(8p) = log 4
    assert s.reverse_kl == pytest.approx(math.log(4))


def test_uneven_split_reverse_kl():
    # 3/4 of the samples on mode 0 and 1/4 on mode 1 of the ring
    samples = torch.cat([RING.centers[0].repeat(75, 1), RING.centers[1].repeat(25, 1)])
    s = mode_stats(samples, RING.centers, RING.std)
    expected = 0.75 * math.log(0.75 * 8) + 0.25 * math.log(0.25 * 8)
    assert s.reverse_kl == pytest.approx(expected)


def test_true_samples_score_near_perfect():
    samples = RING.sample(2500, generator=torch.Generator().manual_seed(0))
    s = mode_stats(samples, RING.centers, RING.std)
    assert s.modes == 8
    # within 3σ in 2-D: 1 − exp(−9/2) = 98.9%
    assert s.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert s.reverse_kl < 0.01


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError):
        mode_stats(torch.zeros(10, 3), RING.centers, RING.std)
    with pytest.raises(ValueError):
        mode_stats(torch.zeros(0, 2), RING.centers, RING.std)


def test_sliced_wasserstein_closed_forms():
    x = torch.randn(500, 3)
    assert sliced_wasserstein(x, x) == 0.0
    assert sliced_wasserstein(x, x[torch.randperm(500)]) == pytest.approx(0.0, abs=1e-12)
    one_d = torch.randn(400, 1)
    assert sliced_wasserstein(one_d, one_d + 0.7) == pytest.approx(0.7)
