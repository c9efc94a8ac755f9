"""gancore.stability against constructed cases and closed forms."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from gancore import dirac, stability, toy
from gancore.train import Run, TrainConfig, build_models, fit


class _FakeRun:
    """Just enough of a Run for Snapshots: a step counter and sample()."""

    def __init__(self):
        self.step = 0
        self.calls = []

    def sample(self, n, *, seed=0, ema=True):
        self.calls.append((n, seed, ema))
        return torch.full((n, 2), float(self.step))


class _Points(nn.Module):
    """A 'generator' that ignores z and cycles through fixed points."""

    def __init__(self, points):
        super().__init__()
        self.register_buffer("points", points)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        return self.points[torch.arange(len(z)) % len(self.points)] + 0 * self.dummy


def test_snapshots_keep_every_kth_call_with_fixed_noise():
    snaps, run = stability.Snapshots(n=5, every=2, seed=7), _FakeRun()
    for step in (10, 20, 30, 40, 50):
        run.step = step
        snaps(run)
    assert snaps.steps == [20, 40]
    assert run.calls == [(5, 7, False)] * 2  # sampled only when kept, same seed, raw G
    assert torch.equal(snaps.samples[40], torch.full((5, 2), 40.0))
    snaps.add(0, torch.zeros(3, 2, dtype=torch.float64))
    assert snaps.steps == [0, 20, 40] and snaps.samples[0].dtype == torch.float32
    assert list(snaps.select(2)) == [0, 40] and list(snaps.select(10)) == [0, 20, 40]
    assert list(snaps.select(1)) == [40] and snaps.select(0) == {}
    with pytest.raises(ValueError):
        stability.Snapshots(n=0)
    with pytest.raises(ValueError):
        stability.Snapshots(every=0)


def test_snapshot_mode_table_scores_each_step():
    ring = toy("ring")
    snaps = stability.Snapshots()
    snaps.add(1, ring.centers.repeat(10, 1))           # every mode, exactly on the means
    snaps.add(2, ring.centers[:1].repeat(80, 1))       # one mode
    snaps.add(3, torch.full((80, 2), 5.0))             # far from every mode
    table = snaps.mode_table(ring)
    assert [r["modes"] for r in table] == [8, 1, 0]
    assert [r["high_quality"] for r in table] == [1.0, 1.0, 0.0]
    assert table[0]["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert table[1]["reverse_kl"] == pytest.approx(math.log(8))


def test_snapshots_as_on_log_callback_of_fit():
    config = TrainConfig(data="ring", steps=20, log_every=5, batch_size=16, hidden=8, device="cpu")
    G, D = build_models(config, (2,))
    snaps = stability.Snapshots(n=30, every=2)
    fit(G, D, toy("ring"), config, progress=False, on_log=snaps)
    assert snaps.steps == [10, 20]
    assert all(s.shape == (30, 2) for s in snaps.samples.values())


def test_spectral_norms_closed_form():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1), nn.Conv2d(1, 2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, -1.0]]))
        net[2].weight.copy_(torch.tensor([[3.0, 4.0]]))  # σ = ‖(3, 4)‖ = 5
        net[3].weight.copy_(torch.tensor([2.0, 0.0]).reshape(2, 1, 1, 1))
    norms = stability.spectral_norms(net)
    assert list(norms) == ["0", "2", "3"]
    assert norms["0"] == pytest.approx(3.0) and norms["2"] == pytest.approx(5.0) and norms["3"] == pytest.approx(2.0)


def test_spectral_norms_of_a_spectrally_normalised_layer_is_one():
    torch.manual_seed(0)
    layer = nn.utils.parametrizations.spectral_norm(nn.Linear(6, 4), n_power_iterations=1)
    with torch.no_grad():
        layer.parametrizations.weight.original.mul_(10.0)  # σ of the raw weight far from 1
    for _ in range(50):  # each training-mode forward runs one power iteration
        layer(torch.randn(3, 6))
    raw = torch.linalg.matrix_norm(layer.parametrizations.weight.original.detach().double(), ord=2)
    assert raw > 2
    norms = stability.spectral_norms(nn.Sequential(layer))
    assert norms["0"] == pytest.approx(1.0, abs=1e-4)
    assert layer.training  # mode restored


def test_ema_effect_scores_both_generators_on_the_same_noise():
    ring = toy("ring")
    config = TrainConfig(data="ring", ema=0.9)
    run = Run(G=_Points(ring.centers), D=nn.Linear(2, 1), G_ema=_Points(ring.centers[:2]), config=config, history={})
    out = stability.ema_effect(run, ring, n=80)
    assert out["G"].modes == 8 and out["G_ema"].modes == 2
    assert out["G"].high_quality == 1.0 and out["G_ema"].reverse_kl == pytest.approx(math.log(4))
    with pytest.raises(ValueError):
        stability.ema_effect(dataclasses.replace(run, G_ema=None), ring)


def test_tied_sets_both_networks():
    base = TrainConfig(betas_g=(0.5, 0.9), betas_d=(0.5, 0.99))
    c = stability.tied(base, lr=1e-3, beta1=0.0, loss="hinge")
    assert (c.lr_g, c.lr_d, c.betas_g, c.betas_d, c.loss) == (1e-3, 1e-3, (0.0, 0.9), (0.0, 0.99), "hinge")
    c = stability.tied(base, beta2=0.999, lr_g=5e-4)
    assert c.betas_g == (0.5, 0.999) and c.betas_d == (0.5, 0.999) and c.lr_g == 5e-4 and c.lr_d == base.lr_d
    assert base.betas_g == (0.5, 0.9)  # unchanged
    with pytest.raises(TypeError):
        stability.tied(base, learning_rate=1.0)


def test_success_grid_counts_successes_per_cell():
    rows = []
    for lr, b1, loss, modes in [
        (1e-3, 0.0, "ns", 8), (1e-3, 0.0, "ns", 7), (1e-3, 0.5, "ns", 8), (1e-3, 0.5, "ns", 8),
        (1e-2, 0.0, "ns", 3), (1e-3, 0.0, "ls", 8),
    ]:
        rows.append({"lr_g": lr, "betas_g": (b1, 0.9), "loss": loss, "modes": modes, "num_modes": 8})
    grid = stability.success_grid(rows, "lr_g", lambda r: r["betas_g"][0], where=lambda r: r["loss"] == "ns",
                                  names=("lr", "β1"))
    assert (grid.index_name, grid.column_name) == ("lr", "β1")
    assert grid.index_values == (1e-3, 1e-2) and grid.column_values == (0.0, 0.5)
    assert grid.rates[0] == (0.5, 1.0) and grid.runs == ((2, 2), (1, 0))
    assert grid.rates[1][0] == 0.0 and math.isnan(grid.rates[1][1])
    assert grid.overall == pytest.approx(3 / 5)
    assert grid.rows()[1] == {"lr": 1e-3, "β1": 0.5, "success_rate": 1.0, "runs": 2}
    assert grid.means is None and grid.value_name is None
    with_modes = stability.success_grid(rows, "lr_g", lambda r: r["betas_g"][0], where=lambda r: r["loss"] == "ns", value="modes")
    assert with_modes.means[0] == (7.5, 8.0) and with_modes.means[1][0] == 3.0 and math.isnan(with_modes.means[1][1])
    assert with_modes.rows()[0]["modes_mean"] == 7.5 and with_modes.rates == grid.rates
    strict = stability.success_grid(rows, "loss", "lr_g", success=lambda r: r["modes"] >= 7)
    assert strict.index_values == ("ls", "ns") and strict.column_values == (1e-3, 1e-2)
    assert strict.rates[1] == (1.0, 0.0) and strict.rates[0][0] == 1.0 and math.isnan(strict.rates[0][1])


def test_critical_gamma_matches_the_closed_form():
    # r1: eigenvalues −γ/2 ± √(γ²/4 − f′(0)²) turn real at γ = 2 f′(0) = 1
    assert stability.critical_gamma("r1") == pytest.approx(2 * dirac.F_PRIME_0, abs=1e-8)
    # wgan_gp with g0 = 0: J = [[0, −1], [1, −γ]], eigenvalues −γ/2 ± √(γ²/4 − 1): γ* = 2
    assert stability.critical_gamma("wgan_gp", g0=0.0) == pytest.approx(2.0, abs=1e-8)
    below = dirac.jacobian_eigenvalues("r1", gamma=0.999)
    above = dirac.jacobian_eigenvalues("r1", gamma=1.001)
    assert abs(below[0].imag) > 0 and above[0].imag == 0 and above[1].imag == 0
    with pytest.raises(ValueError):
        stability.critical_gamma("gan")  # never real: no γ enters its Jacobian
