"""gancore.analysis against closed forms: loss derivatives, gradient flow, the "D wins" experiment."""

import pytest
import torch
from torch import nn

from gancore import analysis
from gancore.data import toy
from gancore.losses import LOSSES, GANLoss
from gancore.models import MLPDiscriminator, MLPGenerator


@pytest.mark.parametrize("name", list(LOSSES))
def test_autograd_logit_gradients_match_closed_forms(name):
    # avoid the hinge's kinks at ±1, where the derivative is not defined; softplus switches to
    # the identity above t = 20 (error e^{-20} ≈ 2e-9), hence the tolerance
    t = torch.linspace(-30, 30, 601, dtype=torch.float64)
    t = t[(t.abs() - 1).abs() > 1e-6]
    auto = analysis.logit_gradients(name, t)
    closed = analysis.closed_form_gradients(name, t)
    for key in ("g", "d_fake", "d_real"):
        torch.testing.assert_close(auto[key], closed[key], rtol=1e-8, atol=1e-8)


def test_minimax_generator_gradient_vanishes_where_nonsaturating_does_not():
    f = torch.tensor([-20.0, -5.0, 0.0], dtype=torch.float64)
    mm = analysis.logit_gradients("minimax", f)["g"]
    ns = analysis.logit_gradients("nonsaturating", f)["g"]
    assert mm[0].abs() < 1e-8 and ns[0].abs() > 0.99
    # both losses give −1/2 at f = 0, and their ratio is e^f everywhere
    torch.testing.assert_close(mm[2], ns[2])
    torch.testing.assert_close(mm / ns, f.exp())


def test_logit_gradients_are_finite_at_extreme_logits():
    t = torch.tensor([-1e4, -100.0, 100.0, 1e4])
    for name in LOSSES:
        for g in analysis.logit_gradients(name, t).values():
            assert torch.isfinite(g).all(), name


def test_temporary_loss_registers_and_removes():
    wrong = GANLoss("swapped_test", LOSSES["minimax"].d_loss, lambda f: f.mean(), True)
    with analysis.temporary_loss(wrong):
        assert LOSSES["swapped_test"] is wrong
    assert "swapped_test" not in LOSSES
    with pytest.raises(ValueError):
        with analysis.temporary_loss(GANLoss("minimax", wrong.d_loss, wrong.g_loss, True)):
            pass
    assert LOSSES["minimax"].g_loss is not wrong.g_loss


def test_temporary_loss_is_removed_after_an_error():
    wrong = GANLoss("swapped_err", LOSSES["minimax"].d_loss, lambda f: f.mean(), True)
    with pytest.raises(RuntimeError):
        with analysis.temporary_loss(wrong):
            raise RuntimeError("boom")
    assert "swapped_err" not in LOSSES


def test_grad_fn_chain_lists_nodes_once_from_the_output():
    w = torch.randn(3, requires_grad=True)
    x = torch.randn(3)
    y = (w * x).sum().exp()
    names = analysis.grad_fn_chain(y)
    assert names == ["ExpBackward0", "SumBackward0", "MulBackward0", "AccumulateGrad"]
    assert analysis.grad_fn_chain(y, max_nodes=2) == names[:2]


def test_grad_counts():
    net = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    assert analysis.grad_counts(net) == {"none": 4, "zero": 0, "nonzero": 0}
    net(torch.randn(5, 2)).sum().backward()
    assert analysis.grad_counts(net) == {"none": 0, "zero": 0, "nonzero": 4}
    net.zero_grad(set_to_none=False)
    assert analysis.grad_counts(net) == {"none": 0, "zero": 4, "nonzero": 0}


def test_generator_gradients_with_linear_models_match_chain_rule():
    torch.manual_seed(0)
    G = MLPGenerator(z_dim=2, hidden=8, out_dim=2, depth=0).double()  # x̃ = Az + b
    D = MLPDiscriminator(2, 8, depth=0).double()  # D(x) = wᵀx + c
    z = torch.randn(16, 2, dtype=torch.float64)
    out = analysis.generator_gradients(G, D, z, "nonsaturating")
    w = D.net[0].weight[0].detach()
    f = D(G(z)).detach()
    # ∂L/∂x̃_i = (1/N)·(−σ(−f_i))·w
    expected = (-torch.sigmoid(-f) / len(z))[:, None] * w
    torch.testing.assert_close(out["x_grad"], expected)
    torch.testing.assert_close(out["fake_logits"], f)
    # parameters: ∂L/∂A = Σ_i ∂L/∂x̃_i z_iᵀ, ∂L/∂b = Σ_i ∂L/∂x̃_i
    gA, gb = expected.T @ z, expected.sum(0)
    torch.testing.assert_close(out["param_norm"], torch.cat([gA.flatten(), gb]).norm())
    assert G.net[0].weight.grad is None  # nothing accumulated


def test_discriminator_wins_saturates_minimax_only():
    torch.manual_seed(0)
    G, D = MLPGenerator(2, 32, 2), MLPDiscriminator(2, 32)
    out = analysis.discriminator_wins(G, D, toy("ring"), steps=200, record_every=50, batch_size=128, lr=2e-3)
    assert out["step"] == [0, 50, 100, 150, 200]
    assert out["d_fake_prob"][-1] < 0.05 < out["d_fake_prob"][0]
    # the minimax gradient collapses relative to the non-saturating one
    ratio_start = out["grad_minimax"][0] / out["grad_nonsaturating"][0]
    ratio_end = out["grad_minimax"][-1] / out["grad_nonsaturating"][-1]
    assert ratio_end < 0.1 * ratio_start
    # per sample the ratio of the two gradients w.r.t. x̃ is e^f
    assert max(out["max_ratio_error"]) < 1e-4
    # the closed-form factors are the mean σ(f) and σ(−f)
    assert out["mean_sigmoid_f"] == out["d_fake_prob"]
    for a, b in zip(out["mean_sigmoid_f"], out["mean_sigmoid_minus_f"]):
        assert a + b == pytest.approx(1.0)


def test_train_and_score_returns_one_row_per_config():
    from gancore.presets import config_for

    ring = toy("ring")
    configs = {
        "a": config_for("ring", steps=5, batch_size=16, hidden=8, ema=0, log_every=5),
        "b": config_for("ring", loss="wasserstein", penalty="gp", steps=5, batch_size=16, hidden=8, log_every=5),
    }
    runs, rows = analysis.train_and_score(configs, ring, n_samples=100)
    assert list(runs) == ["a", "b"] and [r["name"] for r in rows] == ["a", "b"]
    assert rows[1]["loss"] == "wasserstein" and rows[1]["penalty"] == "gp (0.1)"
    assert rows[0]["penalty"] == f"r1 ({config_for('ring').penalty_weight:g})"
    for run, row in zip(runs.values(), rows):
        assert run.step == 5 and row["of"] == 8 and 0 <= row["modes"] <= 8
        assert 0 <= row["high quality %"] <= 100
