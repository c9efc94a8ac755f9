"""Memorisation and discriminator-overfitting measures on constructed sets and a linear D."""

import pytest
import torch
from torch import nn

from gancore.overfitting import discriminator_gap, logits, memorization, nearest_distances, rt_sign


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_nearest_distances_by_hand():
    q = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    ref = torch.tensor([[0.0, 1.0], [6.0, 8.0], [3.0, 0.0]])
    assert nearest_distances(q, ref).tolist() == [1.0, 4.0]
    assert nearest_distances(q, ref, chunk_size=1).tolist() == [1.0, 4.0]


def test_copies_of_training_images_are_flagged():
    train = torch.randn(200, 1, 8, 8, generator=gen(0))
    heldout = torch.randn(200, 1, 8, 8, generator=gen(1))
    fake = train[torch.randint(200, (50,), generator=gen(2))]
    m = memorization(fake, train, heldout)
    assert torch.all(m.train_distance == 0)
    assert torch.all(m.heldout_distance > 1)
    assert (m.closer_to_train, m.median_ratio, m.copies) == (1.0, 0.0, 1.0)
    assert (m.n_train, m.n_heldout) == (200, 200)
    assert "closer to train 100.0%" in str(m)


def test_fresh_samples_are_as_close_to_train_as_to_heldout():
    train, heldout, fake = (torch.randn(500, 16, generator=gen(s)) for s in range(3))
    m = memorization(fake, train, heldout)
    assert 0.4 < m.closer_to_train < 0.6  # 500 fair coin flips: sd 0.022
    assert m.median_ratio == pytest.approx(1.0, abs=0.05)
    assert m.copies == 0.0


def test_match_sizes_subsamples_the_larger_set():
    train = torch.randn(600, 4, generator=gen(0))
    heldout = torch.randn(150, 4, generator=gen(1))
    fake = torch.randn(100, 4, generator=gen(2))
    m = memorization(fake, train, heldout, match_sizes=True)
    assert (m.n_train, m.n_heldout) == (150, 150)
    unmatched = memorization(fake, train, heldout)
    assert unmatched.n_train == 600
    assert unmatched.closer_to_train > m.closer_to_train  # the 4× larger set wins by size alone


def test_ratio_of_zero_over_zero_counts_as_one():
    x = torch.zeros(3, 2)
    m = memorization(x, x, x)
    assert m.median_ratio == 1.0 and m.closer_to_train == 0.0


class LinearD(nn.Module):
    """D(x) = x₀ (the first coordinate), with a dropout and a batch norm whose modes must be restored."""

    def __init__(self, d=3):
        super().__init__()
        self.linear = nn.Linear(d, 1)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.weight[0, 0] = 1.0
            self.linear.bias.zero_()
        self.drop = nn.Dropout(0.9)  # identity in eval mode
        self.norm = nn.BatchNorm1d(d, affine=False)  # identity in eval mode with fresh running stats (eps aside)

    def forward(self, x):
        return self.linear(self.drop(self.norm(x))).squeeze(1)


def reals(*first):
    x = torch.randn(len(first), 3, generator=gen(0))
    x[:, 0] = torch.tensor(first)
    return x


def test_logits_are_batched_gradient_free_and_restore_train_mode():
    D = LinearD().train()
    x = reals(1.0, -2.0, 3.0, 0.5, -0.5)
    out = logits(D, x, batch_size=2)
    assert D.training and all(m.training for m in D.modules())
    assert not out.requires_grad and out.shape == (5,)
    assert torch.allclose(out, x[:, 0], atol=1e-4)
    assert torch.equal(D.norm.running_mean, torch.zeros(3))  # eval mode: running stats untouched
    D.eval()
    logits(D, x)
    assert not D.training


def test_rt_sign_on_a_linear_discriminator():
    D = LinearD()
    assert rt_sign(D, reals(1.0, 2.0, 3.0, -1.0)) == pytest.approx(0.5)  # (3 − 1)/4
    assert rt_sign(D, reals(1.0, 2.0, 3.0, -1.0), batch_size=1) == pytest.approx(0.5)
    assert rt_sign(D, reals(1.0, 2.0, 3.0, 4.0, 5.0)) == 1.0
    assert rt_sign(D, reals(-1.0, -2.0)) == -1.0


def test_discriminator_gap_on_a_linear_discriminator():
    D = LinearD()
    g = discriminator_gap(D, reals(1.0, 2.0, 3.0, -1.0), reals(1.0, -1.0, -2.0, -3.0), batch_size=3)
    assert (g.train_accuracy, g.heldout_accuracy, g.gap) == (0.75, 0.25, 0.5)
    assert "gap 50.0 points" in str(g)


def test_discriminator_gap_with_a_real_model():
    from gancore.models import MLPDiscriminator

    D = MLPDiscriminator(2, 16, norm="batch").train()
    x = torch.randn(40, 2, generator=gen(0))
    g = discriminator_gap(D, x, x)
    assert g.gap == 0.0 and 0.0 <= g.train_accuracy <= 1.0
    assert D.training


# ----- limited-data helpers -----------------------------------------------------------------

from types import SimpleNamespace  # noqa: E402

from gancore.overfitting import OverfitTracker, mean_std, subset, train_limited  # noqa: E402


def test_subset_is_seeded_and_keeps_everything_when_n_is_large():
    x = torch.arange(10.0)[:, None]
    a, b = subset(x, 4, seed=3), subset(x, 4, seed=3)
    assert torch.equal(a, b) and len(a) == 4 and len(set(a[:, 0].tolist())) == 4
    assert not torch.equal(subset(x, 4, seed=4), a)
    assert torch.equal(subset(x, None), x) and torch.equal(subset(x, 10), x) and torch.equal(subset(x, 99), x)
    with pytest.raises(ValueError):
        subset(x, 0)


class MeanD(nn.Module):
    """D(x) = mean pixel value: a real image of +1s gets logit 1, one of −1s logit −1."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x.flatten(1).mean(1)


def stub_run(fake_value=-1.0, step=7):
    def sample(n, *, seed=0, ema=True):
        return torch.full((n, 1, 8, 8), fake_value)

    return SimpleNamespace(D=MeanD(), step=step, sample=sample)


def test_tracker_records_rt_accuracies_and_gap_by_hand():
    train = torch.ones(6, 1, 8, 8)
    train[:2] = -1.0  # D right about 4 of 6 training images
    heldout = -torch.ones(5, 1, 8, 8)
    heldout[0] = 1.0  # and about 1 of 5 held-out images
    tracker = OverfitTracker(train, heldout, n_fake=3)
    tracker(stub_run())
    h = tracker.history
    assert h["step"] == [7]
    assert h["rt"][0] == pytest.approx((4 - 2) / 6)
    assert (h["train_accuracy"][0], h["heldout_accuracy"][0]) == (pytest.approx(4 / 6), pytest.approx(1 / 5))
    assert h["gap"][0] == pytest.approx(4 / 6 - 1 / 5)
    assert h["fake_accuracy"] == [1.0] and h["logit_fake"] == [-1.0]
    assert h["logit_train"][0] == pytest.approx(2 / 6) and h["logit_heldout"][0] == pytest.approx(-3 / 5)
    assert torch.isnan(torch.tensor(h["fid"][0]))  # no real features: no FID
    tracker(stub_run(fake_value=1.0, step=8))
    assert h["step"] == [7, 8] and h["fake_accuracy"] == [1.0, 0.0]


def test_tracker_fid_uses_the_given_features():
    real = torch.randn(300, 4, generator=gen(0))
    tracker = OverfitTracker(torch.ones(2, 1, 8, 8), torch.ones(2, 1, 8, 8), real_features=real, n_fid=300,
                             features_fn=lambda images: real)  # "generated" features identical to the real ones
    tracker(stub_run())
    assert tracker.history["fid"][0] == pytest.approx(0.0, abs=1e-6)


def test_tracker_with_augmentation_is_deterministic_and_leaves_the_images_alone():
    train = torch.rand(20, 1, 8, 8, generator=gen(0)) * 2 - 1
    copy = train.clone()
    a = OverfitTracker(train, train, augment="translation,cutout")
    b = OverfitTracker(train, train, augment="translation,cutout")
    a(stub_run()), b(stub_run())
    assert {k: v for k, v in a.history.items() if k != "fid"} == {k: v for k, v in b.history.items() if k != "fid"}
    assert torch.equal(train, copy)
    plain = OverfitTracker(train, train)
    plain(stub_run())
    assert plain.history["logit_train"] != a.history["logit_train"]  # D saw augmented images
    assert plain.history["gap"] == [0.0]  # identical sets, no augmentation: no gap


def test_train_limited_returns_a_complete_row():
    from gancore.train import TrainConfig

    images = torch.rand(60, 1, 8, 8, generator=gen(0)) * 2 - 1
    train, heldout = images[:20], images[20:]
    flat = lambda x: torch.as_tensor(x).flatten(1).float()
    config = TrainConfig(data="digits", steps=6, log_every=3, batch_size=8, hidden=4, z_dim=4, device="cpu", augment="translation")
    result = train_limited(train, heldout, config, n_fake=40, real_features=flat(heldout), features_fn=flat, kid_subsets=2)
    row = result.row
    assert (row["n_train"], row["augment"], row["seed"], row["steps"]) == (20, "translation", 0, 6)
    assert result.tracker.history["step"] == [3, 6] and all(v == v for v in result.tracker.history["fid"])
    for key in ("precision", "recall", "train_accuracy", "heldout_accuracy", "closer_to_train"):
        assert 0.0 <= row[key] <= 1.0
    assert -1.0 <= row["rt"] <= 1.0 and row["gap"] == pytest.approx(row["train_accuracy"] - row["heldout_accuracy"])
    assert result.memorization.n_train == result.memorization.n_heldout == 20  # sizes matched
    assert row["fid"] > 0 and row["cpu_seconds"] > 0 and row["seconds"] > 0
    untracked = train_limited(train, heldout, config, n_fake=40, features_fn=flat, kid_subsets=2, track=False)
    assert untracked.tracker is None and untracked.row["fid"] == pytest.approx(row["fid"])  # same seed, same run


def test_mean_std_by_hand():
    rows = [{"n": 1, "a": "x", "v": 1.0, "seed": 0}, {"n": 1, "a": "x", "v": 3.0, "seed": 1},
            {"n": 2, "a": "x", "v": 5.0, "seed": 0}, {"n": 1, "a": "x", "v": float("nan"), "seed": 2}]
    out = mean_std(rows, ["n", "a"], ["v"])
    assert [(r["n"], r["runs"]) for r in out] == [(1, 3), (2, 1)]
    assert out[0]["v_mean"] == 2.0 and out[0]["v_std"] == pytest.approx(2 ** 0.5)
    assert (out[1]["v_mean"], out[1]["v_std"]) == (5.0, 0.0)
