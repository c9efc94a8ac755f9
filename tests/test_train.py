"""The training engine: exact resume, determinism, history, divergence, configuration checks."""

import json
import math

import pytest
import torch

from conftest import NaNRing
from gancore import TrainConfig, build_models, fit, load_run, toy
from gancore.checkpoint import load_checkpoint
from gancore.errors import CheckpointError, ConfigError, TrainingDiverged
from gancore.train import HISTORY_COLUMNS, _tensors, _update_ema, resolve_device


def small_config(**kw):
    base = dict(data="ring", steps=20, batch_size=32, hidden=16, z_dim=2, lr_g=1e-3, lr_d=1e-3, device="cpu", log_every=7, ema=0.9)
    return TrainConfig(**{**base, **kw})


def train(config, run_dir=None, resume=False, data=None):
    G, D = build_models(config, (2,))
    return fit(G, D, data or toy("ring"), config, run_dir=run_dir, resume=resume, progress=False)


def assert_state_equal(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_state_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_state_equal(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize(
    "variant",
    [
        dict(penalty="gp", loss="wasserstein", n_critic=3),
        dict(penalty="r1", penalty_weight=0.5),
        dict(penalty="clip", loss="wasserstein", optimizer="rmsprop", n_critic=2),
        dict(penalty="r2", loss="hinge", spectral_norm=True, d_norm="layer"),
        dict(penalty="r1", penalty_every=5, n_critic=2),  # resumed in the middle of a lazy cycle
    ],
)
def test_resume_is_exact(tmp_path, variant):
    full = train(small_config(steps=24, **variant), tmp_path / "full")
    train(small_config(steps=12, **variant), tmp_path / "split")
    resumed = train(small_config(steps=24, **variant), tmp_path / "split", resume=True)
    assert resumed.step == full.step == 24
    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    for key in ("G", "D", "G_ema", "opt_g", "opt_d", "rng", "history", "step"):
        assert_state_equal(a[key], b[key])
    assert full.history == resumed.history


def test_same_seed_same_run_and_different_seed_differs():
    a, b, c = train(small_config()), train(small_config()), train(small_config(seed=1))
    assert_state_equal(a.G.state_dict(), b.G.state_dict())
    assert not torch.equal(a.G.net[0].weight, c.G.net[0].weight)


def test_history_has_one_row_per_step():
    run = train(small_config(steps=15, penalty="gp", loss="wasserstein"))
    assert run.history["step"] == list(range(1, 16))
    assert set(run.history) == {"step", *HISTORY_COLUMNS}
    assert all(len(run.history[c]) == 15 for c in HISTORY_COLUMNS)
    assert all(p > 0 for p in run.history["penalty"])
    assert all(math.isfinite(v) for c in HISTORY_COLUMNS for v in run.history[c])


def test_history_d_loss_matches_the_logged_logits_for_wasserstein():
    run = train(small_config(steps=5, loss="wasserstein", penalty="gp"))
    for d_loss, r, f in zip(run.history["d_loss"], run.history["d_real"], run.history["d_fake"]):
        assert d_loss == pytest.approx(f - r, abs=1e-5)


def test_on_log_is_called_every_log_every_steps():
    seen = []
    config = small_config(steps=20, log_every=5)
    G, D = build_models(config, (2,))
    fit(G, D, toy("ring"), config, progress=False, on_log=lambda run: seen.append((run.step, len(run.history["step"]))))
    assert seen == [(5, 5), (10, 10), (15, 15), (20, 20)]


def test_training_moves_samples_towards_the_data():
    ring = toy("ring")
    config = small_config(steps=300, hidden=32, batch_size=64)
    G, D = build_models(config, (2,))
    before = G(torch.randn(500, 2)).detach().norm(dim=1)
    run = fit(G, D, ring, config, progress=False)
    after = run.sample(500).norm(dim=1)
    # the ring has radius 1: the generated radii move towards 1
    assert (after - 1).abs().mean() < 0.5 * (before - 1).abs().mean()


def test_ema_update_formula():
    ema, G = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    torch.nn.init.zeros_(ema.weight)
    torch.nn.init.ones_(G.weight)
    _update_ema(_tensors(ema), _tensors(G), beta=0.999, step=0)  # β_0 = min(0.999, 1/10) = 0.1
    torch.testing.assert_close(ema.weight, torch.full((1, 2), 0.9))
    _update_ema(_tensors(ema), _tensors(G), beta=0.5, step=1000)  # β = 0.5
    torch.testing.assert_close(ema.weight, torch.full((1, 2), 0.95))


def test_ema_off():
    run = train(small_config(ema=0.0))
    assert run.G_ema is None and run.generator is run.G


def test_image_training_runs_on_digits_shape():
    images = torch.rand(40, 1, 8, 8) * 2 - 1
    config = small_config(data="digits", steps=3, z_dim=8, hidden=8, d_norm="layer", penalty="r1")
    G, D = build_models(config, (1, 8, 8))
    run = fit(G, D, images, config, progress=False)
    assert run.sample(4).shape == (4, 1, 8, 8)


def test_divergence_names_term_and_step_and_keeps_last_good_checkpoint(tmp_path):
    config = small_config(steps=40, checkpoint_every=10, log_every=5)
    with pytest.raises(TrainingDiverged) as err:
        train(config, tmp_path, data=NaNRing(23))
    assert err.value.term == "d_loss" and err.value.step == 23
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 20
    assert all(torch.isfinite(v).all() for v in state["G"].values())


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("loss", "bce", "unknown loss"),
        ("penalty", "l2", "unknown penalty"),
        ("steps", 0, "steps must be a positive integer"),
        ("steps", -5, "steps must be a positive integer"),
        ("steps", 2.5, "steps must be a positive integer"),
        ("batch_size", 0, "batch_size"),
        ("n_critic", 0, "n_critic"),
        ("lr_g", -1e-3, "lr_g must be a positive number"),
        ("lr_d", float("nan"), "lr_d"),
        ("penalty_weight", -1.0, "penalty_weight"),
        ("ema", 1.0, "ema must be in"),
        ("betas_g", (0.5, 1.5), "betas_g"),
        ("device", "tpu:9", "unknown device"),
        ("optimizer", "sgd", "unknown optimizer"),
        ("d_norm", "instance", "unknown d_norm"),
    ],
)
def test_bad_config_values_are_named(field, value, match):
    with pytest.raises(ConfigError, match=match):
        small_config(**{field: value}).validate()


def test_penalty_weight_defaults_per_penalty():
    assert TrainConfig(penalty="gp").penalty_weight == 10.0
    assert TrainConfig(penalty="clip").penalty_weight == 0.01
    assert TrainConfig(penalty="r1", penalty_weight=0.3).penalty_weight == 0.3


def test_config_round_trips_through_json():
    config = small_config(betas_g=(0.0, 0.9), penalty="gp")
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    with pytest.raises(ConfigError, match="unknown config field"):
        TrainConfig.from_dict({"learning_rate": 1})


def test_resume_refuses_a_changed_config(tmp_path):
    train(small_config(steps=5), tmp_path)
    with pytest.raises(ConfigError, match="cannot resume: loss"):
        train(small_config(steps=10, loss="hinge"), tmp_path, resume=True)


def test_resume_without_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(small_config(), tmp_path, resume=True)


def test_load_run_restores_models_and_history(tmp_path):
    run = train(small_config(steps=10), tmp_path)
    loaded = load_run(tmp_path)
    assert loaded.step == 10 and loaded.history == run.history
    torch.testing.assert_close(loaded.sample(50, seed=3), run.sample(50, seed=3))
    assert json.loads((tmp_path / "config.json").read_text())["steps"] == 10
    assert (tmp_path / "history.csv").read_text().count("\n") == 11


def test_device_auto_on_this_machine():
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected


def test_lr_factor_schedule():
    from gancore.train import lr_factor

    assert [lr_factor(s, 100, 0.0) for s in (0, 50, 99)] == [1.0, 1.0, 1.0]
    assert lr_factor(49, 100, 0.5) == 1.0 and lr_factor(50, 100, 0.5) == 1.0
    assert lr_factor(75, 100, 0.5) == pytest.approx(0.5)  # halfway through the decay: cos(π/2)
    assert lr_factor(100, 100, 0.5) == pytest.approx(0.0)
    assert lr_factor(0, 100, 1.0) == 1.0 and lr_factor(25, 100, 1.0) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))


def test_lr_decay_reaches_the_optimizers():
    config = small_config(steps=20, lr_decay=0.5)
    G, D = build_models(config, (2,))
    run = fit(G, D, toy("ring"), config, progress=False)
    # the last step (0-based 19) ran at lr · ½(1 + cos(π·9/10))
    expected = 1e-3 * 0.5 * (1 + math.cos(math.pi * 0.9))
    assert run.step == 20
    with pytest.raises(ConfigError, match="lr_decay"):
        small_config(lr_decay=1.5).validate()
    trainer_lr = [g["lr"] for g in _last_optimizer_groups(G, D, config)]
    assert trainer_lr == pytest.approx([expected])


def _last_optimizer_groups(G, D, config):
    from gancore.train import _Trainer

    trainer = _Trainer(G, D, toy("ring"), config, torch.device("cpu"))
    trainer.step = config.steps - 1
    trainer.set_learning_rates()
    return trainer.opt_g.param_groups


def test_sigint_in_fit_saves_and_resume_with_lr_decay_is_exact(tmp_path):
    import os
    import signal

    from gancore.errors import TrainingInterrupted

    full = train(small_config(steps=20, lr_decay=0.5), tmp_path / "full")
    config = small_config(steps=20, lr_decay=0.5, log_every=4)
    G, D = build_models(config, (2,))

    def interrupt_at_12(run):
        if run.step == 12:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does

    with pytest.raises(TrainingInterrupted) as err:
        fit(G, D, toy("ring"), config, run_dir=tmp_path / "split", progress=False, on_log=interrupt_at_12)
    assert err.value.step == 12 and load_checkpoint(tmp_path / "split" / "checkpoint.pt")["step"] == 12
    resumed = train(small_config(steps=20, lr_decay=0.5), tmp_path / "split", resume=True)
    assert resumed.history == full.history
    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    for key in ("G", "D", "G_ema", "opt_g", "opt_d"):
        assert_state_equal(a[key], b[key])


def test_lazy_r1_applies_k_gamma_on_every_kth_d_step_only():
    lazy = train(small_config(penalty="r1", penalty_weight=0.5, penalty_every=4, n_critic=1, steps=1, ema=0))
    eager = train(small_config(penalty="r1", penalty_weight=2.0, steps=1, ema=0))
    # step 0 carries the penalty with weight k·γ = 4 × 0.5: the same update as γ = 2 every step
    for p, q in zip(lazy.D.parameters(), eager.D.parameters()):
        assert torch.equal(p, q)
    run = train(small_config(penalty="r1", penalty_every=3, n_critic=2, steps=6))
    # D steps 0, 3, 6, 9 carry it; the history keeps the penalty of each G step's last D step (2i + 1)
    with_penalty = [(2 * i + 1) % 3 == 0 for i in range(6)]
    assert [p > 0 for p in run.history["penalty"]] == with_penalty
    plain = train(small_config(penalty="none", steps=6))
    assert plain.history["penalty"] == [0.0] * 6


def test_meets_target_checks_every_bar_at_its_boundary():
    from gancore.presets import PACGAN4, meets_target

    assert meets_target("ring", 8, 0.98, 0.02) and not meets_target("ring", 7, 0.99, 0.0)
    assert not meets_target("ring", 8, 0.979, 0.0) and not meets_target("grid", 25, 0.96, 0.031)
    assert meets_target("ring", 8, 0.96, 0.05, bar=PACGAN4["ring"]) and not meets_target("ring", 8, 0.96, 0.05)


def test_lazy_regularisation_is_for_r1_and_r2_only():
    with pytest.raises(ConfigError, match="penalty_every > 1"):
        small_config(penalty="gp", penalty_every=2).validate()
    with pytest.raises(ConfigError, match="penalty_every must be a positive integer"):
        small_config(penalty="r1", penalty_every=0).validate()


def test_presets_and_penalty_weight_defaults():
    from gancore.presets import PRESETS, config_for

    for name in PRESETS:
        assert config_for(name).validate().data == name
    ring = config_for("ring")
    assert config_for("ring", loss="wasserstein", penalty="gp").penalty_weight == 0.1  # toy λ
    assert config_for("digits", penalty="gp").penalty_weight == 10.0  # images λ
    assert config_for("ring", penalty="clip").penalty_weight == 0.01
    assert config_for("ring", penalty="gp", penalty_weight=3.0).penalty_weight == 3.0
    assert config_for("ring", steps=7).penalty_weight == ring.penalty_weight  # same penalty: preset's weight
    with pytest.raises(Exception, match="unknown dataset"):
        config_for("moons")


def test_quick_presets_change_only_their_named_fields():
    from gancore.presets import PRESETS, QUICK, config_for

    for name in PRESETS:
        best, quick = config_for(name).to_dict(), config_for(name, quick=True).to_dict()
        changed = {k for k in best if best[k] != quick[k]}
        assert changed == {k for k, v in QUICK.get(name, {}).items() if best[k] != v}
    assert config_for("ring", quick=True).steps < config_for("ring").steps
    assert config_for("grid", quick=True, steps=50, penalty="gp").to_dict() == {
        **config_for("grid", quick=True).to_dict(), "steps": 50, "penalty": "gp", "penalty_weight": 0.1}


# ----- the GPU fast path, tested where a CPU can test it -------------------------------------------

def _fails_on_host_read(*args, **kwargs):
    raise AssertionError("a training step read a tensor on the host (a device sync on CUDA)")


@pytest.mark.parametrize("overrides", [
    dict(),
    dict(loss="wasserstein", penalty="gp", n_critic=2, lr_decay=0.5),
    dict(penalty="r1", ema=0.99),
    dict(loss="hinge", penalty="clip", optimizer="rmsprop", spectral_norm=True),
])
def test_a_training_step_never_reads_a_tensor_on_the_host(monkeypatch, overrides):
    """History stays on the device between log steps: no .item()/bool()/.cpu() inside a step."""
    from gancore.train import _Trainer

    cfg = TrainConfig(steps=10, batch_size=32, hidden=16, device="cpu", **overrides).validate()
    G, D = build_models(cfg, (2,))
    trainer = _Trainer(G, D, toy("ring"), cfg, torch.device("cpu"))
    trainer.train_step()  # first step: optimizer state is created
    for name in ("item", "tolist", "__bool__", "__float__", "__int__", "cpu", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, _fails_on_host_read)
    for _ in range(3):
        trainer.train_step()
    monkeypatch.undo()
    assert len(trainer._pending) == 4
    trainer.flush()
    assert trainer.history["step"] == [1, 2, 3, 4]


def test_channels_last_only_for_image_models_on_cuda():
    from gancore.train import memory_format

    assert memory_format(torch.device("cuda", 0), (1, 28, 28)) is torch.channels_last
    assert memory_format(torch.device("cuda", 0), (2,)) is torch.contiguous_format
    assert memory_format(torch.device("cpu"), (1, 28, 28)) is torch.contiguous_format


@pytest.mark.slow
def test_compiled_training_matches_eager_training():
    cfg = TrainConfig(steps=15, batch_size=64, hidden=16, device="cpu", ema=0.0, log_every=5)
    runs = {}
    for compiled in (False, True):
        c = TrainConfig(**{**cfg.to_dict(), "compile": compiled})
        G, D = build_models(c, (2,))
        runs[compiled] = fit(G, D, toy("ring"), c, progress=False)
    for a, b in zip(runs[False].G.parameters(), runs[True].G.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert runs[True].history["d_loss"] == pytest.approx(runs[False].history["d_loss"], rel=1e-4, abs=1e-5)
