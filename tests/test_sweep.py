"""gancore.sweep: grid, a tiny sweep end to end, summarise on hand-made rows, early validation."""

import csv
import math
from dataclasses import replace

import pytest
import torch

import gancore.train
from gancore import sweep as sw
from gancore.data import toy
from gancore.errors import ConfigError, TrainingDiverged
from gancore.train import TrainConfig

TINY = TrainConfig(data="ring", steps=20, hidden=8, batch_size=64, log_every=10, device="cpu", ema=0.0)


def test_grid_is_the_cartesian_product():
    points = sw.grid(lr_d=[1e-4, 4e-4], n_critic=[1, 5, 10])
    assert len(points) == 6
    assert points[0] == {"lr_d": 1e-4, "n_critic": 1}
    assert points[2] == {"lr_d": 1e-4, "n_critic": 10}  # last axis varies fastest
    assert points[3] == {"lr_d": 4e-4, "n_critic": 1}
    assert {(p["lr_d"], p["n_critic"]) for p in points} == {(a, b) for a in (1e-4, 4e-4) for b in (1, 5, 10)}
    assert sw.grid() == [{}]
    assert sw.grid(a=[]) == []
    assert sw.grid(loss=("hinge",), penalty=iter(["none", "r1"])) == [
        {"loss": "hinge", "penalty": "none"}, {"loss": "hinge", "penalty": "r1"}]


def test_tiny_sweep_rows_and_csv(tmp_path):
    configs = [replace(TINY, **p) for p in sw.grid(lr_d=[1e-4, 4e-4])]
    path = tmp_path / "sweep.csv"
    rows = sw.sweep(configs, [0, 1], n_eval=500, progress=False, csv_path=path)
    assert len(rows) == 4
    expected = ["config", "lr_d", "seed", "modes", "num_modes", "high_quality", "reverse_kl",
                "sliced_wasserstein", "diverged", "seconds", "cpu_seconds"]
    for row in rows:
        assert list(row) == expected
        assert 0 <= row["modes"] <= row["num_modes"] == 8
        assert 0 <= row["high_quality"] <= 1 and row["reverse_kl"] >= 0
        assert row["sliced_wasserstein"] > 0 and row["seconds"] > 0 and row["diverged"] is False
        assert row["cpu_seconds"] > 0
    assert [(r["config"], r["lr_d"], r["seed"]) for r in rows] == [(0, 1e-4, 0), (0, 1e-4, 1), (1, 4e-4, 0), (1, 4e-4, 1)]
    # runs are reproducible: the same config and seed gives the same result
    again = sw.sweep(configs[:1], [1], n_eval=500, progress=False)
    assert again[0]["sliced_wasserstein"] == rows[1]["sliced_wasserstein"]
    assert again[0]["modes"] == rows[1]["modes"]
    # the CSV parses back, with the csv module and with read_csv
    with open(path, newline="") as f:
        parsed = list(csv.DictReader(f))
    assert len(parsed) == 4 and list(parsed[0]) == expected
    assert float(parsed[2]["lr_d"]) == 4e-4
    back = sw.read_csv(path)
    for a, b in zip(rows, back):
        assert b["modes"] == a["modes"] and b["seed"] == a["seed"] and b["diverged"] is False
        assert b["reverse_kl"] == pytest.approx(a["reverse_kl"])
    for a, b in zip(sw.summarise(rows), sw.summarise(back)):
        assert b == pytest.approx(a)
    summary = sw.summarise(rows)
    assert [(s["config"], s["lr_d"], s["runs"]) for s in summary] == [(0, 1e-4, 2), (1, 4e-4, 2)]


def test_named_configs_and_a_given_dataset():
    data = toy("grid")
    rows = sw.sweep({"a": TINY, "b": replace(TINY, steps=10)}, [3], data=data, n_eval=200, progress=False)
    assert [(r["config"], r["steps"], r["seed"], r["num_modes"]) for r in rows] == [("a", 20, 3, 25), ("b", 10, 3, 25)]


def test_an_invalid_config_fails_before_any_run(monkeypatch):
    calls = []
    monkeypatch.setattr(gancore.train, "fit", lambda *a, **k: calls.append(1))
    with pytest.raises(ConfigError, match="configuration 1"):
        sw.sweep([TINY, replace(TINY, loss="bogus")], [0, 1], progress=False)
    with pytest.raises(ConfigError, match="seed"):
        sw.sweep([TINY], [0, -1], progress=False)  # a bad seed is a bad config too
    with pytest.raises(ConfigError):
        sw.sweep([TINY, {"lr_d": 1e-4}], [0], progress=False)
    with pytest.raises(ConfigError):
        sw.sweep([TINY], [], progress=False)
    assert calls == []


def test_diverged_runs_are_recorded(monkeypatch):
    def diverge(G, D, data, config, **kwargs):
        raise TrainingDiverged("d_loss", 3, float("nan"))

    monkeypatch.setattr(gancore.train, "fit", diverge)
    (row,) = sw.sweep([TINY], [0], progress=False)
    assert row["diverged"] is True and row["modes"] == 0 and row["num_modes"] == 8
    assert math.isnan(row["sliced_wasserstein"])
    with pytest.raises(TrainingDiverged):
        sw.sweep([TINY], [0], progress=False, on_diverged="raise")


def row(config, seed, modes, hq, rkl, seconds, lr=None, diverged=False):
    r = {"config": config, "seed": seed, "modes": modes, "num_modes": 8, "high_quality": hq,
         "reverse_kl": rkl, "sliced_wasserstein": 0.1 * modes, "diverged": diverged, "seconds": seconds,
         "cpu_seconds": 2 * seconds}
    if lr is not None:
        r["lr_d"] = lr
    return r


def test_summarise_hand_computed():
    rows = [
        row("a", 0, 8, 0.9, 0.1, 10.0),
        row("a", 1, 6, 0.7, 0.5, 12.0),
        row("a", 2, 8, 0.8, 0.3, 14.0),
        row("b", 0, 2, 0.1, 1.5, 5.0),
        row("b", 1, 0, 0.0, math.nan, 1.0, diverged=True),
    ]
    a, b = sw.summarise(rows)
    assert a == pytest.approx({
        "config": "a", "runs": 3, "diverged": 0, "modes_mean": 22 / 3, "modes_min": 6,
        "high_quality_mean": 0.8, "high_quality_min": 0.7, "reverse_kl_mean": 0.3, "reverse_kl_max": 0.5,
        "sliced_wasserstein_mean": 2.2 / 3, "seconds_mean": 12.0, "cpu_seconds_mean": 24.0, "success_rate": 2 / 3,
    })
    assert b["runs"] == 2 and b["diverged"] == 1
    assert b["modes_mean"] == 1 and b["modes_min"] == 0 and b["high_quality_mean"] == pytest.approx(0.05)
    assert b["reverse_kl_mean"] == 1.5 and b["reverse_kl_max"] == 1.5  # the diverged run's NaN is skipped
    assert b["high_quality_min"] == 0.0
    assert b["success_rate"] == 0
    # a custom success predicate and explicit grouping columns
    (everything,) = sw.summarise(rows, by=[], success=lambda r: r["modes"] >= 6)
    assert everything["runs"] == 5 and everything["success_rate"] == pytest.approx(3 / 5)
    by_seed = sw.summarise(rows, by=["seed"])
    assert [(s["seed"], s["runs"], s["modes_min"]) for s in by_seed] == [(0, 2, 2), (1, 2, 0), (2, 1, 8)]
    with pytest.raises(KeyError):
        sw.summarise(rows, by=["lr_d"])


def test_summarise_default_groups_by_every_config_column():
    rows = [row(0, 0, 8, 1.0, 0.0, 1.0, lr=1e-4), row(0, 1, 4, 0.5, 0.2, 3.0, lr=1e-4), row(1, 0, 8, 1.0, 0.0, 2.0, lr=4e-4)]
    first, second = sw.summarise(rows)
    assert (first["config"], first["lr_d"], first["runs"], first["modes_mean"], first["seconds_mean"]) == (0, 1e-4, 2, 6, 2.0)
    assert first["success_rate"] == 0.5 and second["success_rate"] == 1.0
    assert "seed" not in first and "modes" not in first


def test_to_csv_writes_none_as_empty_and_tuples_as_text(tmp_path):
    text = sw.to_csv([{"a": None, "betas": (0.5, 0.9), "ok": True}])
    assert text.splitlines() == ["a,betas,ok", ',"(0.5, 0.9)",True']
    path = tmp_path / "x.csv"
    path.write_text(text)
    assert sw.read_csv(path) == [{"a": None, "betas": "(0.5, 0.9)", "ok": True}]


def test_images_get_sliced_wasserstein_only():
    images = torch.rand(64, 1, 8, 8) * 2 - 1
    cfg = replace(TINY, data="digits", steps=2, hidden=4, batch_size=16, z_dim=8)
    (r,) = sw.sweep([cfg], [0], data=images, n_eval=1000, progress=False)
    assert r["modes"] is None and r["high_quality"] is None and r["sliced_wasserstein"] > 0
    assert sw.summarise([r])[0]["success_rate"] == 0


def test_parallel_jobs_give_the_same_rows_in_the_same_order():
    configs = {"a": TINY, "b": replace(TINY, lr_d=4e-4)}
    serial = sw.sweep(configs, [0, 1], n_eval=300, progress=False)
    parallel = sw.sweep(configs, [0, 1], n_eval=300, progress=False, jobs=2)
    assert [(r["config"], r["seed"]) for r in parallel] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    timing = {"seconds", "cpu_seconds"}
    for a, b in zip(serial, parallel):
        assert {k: v for k, v in a.items() if k not in timing} == {k: v for k, v in b.items() if k not in timing}
        assert b["cpu_seconds"] > 0
    before = torch.get_num_threads()
    sw.sweep([TINY], [0], n_eval=100, progress=False, threads=1)
    assert torch.get_num_threads() == before  # restored
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="jobs"):
            sw.sweep([TINY], [0], progress=False, jobs=bad)
    with pytest.raises(ConfigError, match="threads"):
        sw.sweep([TINY], [0], progress=False, threads=0)


def test_parallel_divergence_is_recorded_or_raised_in_the_caller(monkeypatch):
    def diverge(G, D, data, config, **kwargs):  # forked workers inherit the patch
        raise TrainingDiverged("g_loss", 7, float("inf"))

    monkeypatch.setattr(gancore.train, "fit", diverge)
    rows = sw.sweep([TINY], [0, 1], progress=False, jobs=2)
    assert [r["diverged"] for r in rows] == [True, True] and rows[0]["modes"] == 0
    with pytest.raises(TrainingDiverged, match="step 7: g_loss"):
        sw.sweep([TINY], [0, 1], progress=False, jobs=2, on_diverged="raise")
