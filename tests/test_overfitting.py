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
