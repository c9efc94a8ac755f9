"""No lost runs: SIGINT, SIGKILL at random moments, locks, incompatible checkpoints, NaN handling,
and property-based checks that every CLI input either runs or fails with one clean line."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, NaNRing
from gancore import TrainConfig, build_models, fit
from gancore.checkpoint import load_checkpoint
from gancore.cli import main
from gancore.errors import ConfigError

LONG = ["--data", "ring", "--hidden", "16", "--batch-size", "32", "--quiet"]


def start_training(*args):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "gancore", "train", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_progress(run_dir: Path, proc, min_rows=30, timeout=60):
    """Wait until the run has written a checkpoint past step 0 (history.csv has rows)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        history = run_dir / "history.csv"
        if history.exists() and history.read_text().count("\n") > min_rows:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("training made no progress")


def wait_for_new_checkpoint(run_dir: Path, proc, timeout=90):
    path = run_dir / "checkpoint.pt"
    before = path.stat().st_mtime_ns if path.exists() else None
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.stat().st_mtime_ns != before:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no checkpoint was written")


def test_sigint_saves_the_current_step_and_exits_130(tmp_path, cli):
    run = tmp_path / "run"
    proc = start_training(*LONG, "--steps", "1000000", "--checkpoint-every", "25", "--out", run)
    wait_for_progress(run, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"resume with: gancore train --resume {run}" in err
    state = load_checkpoint(run / "checkpoint.pt")
    step = state["step"]
    assert step > 25 and f"interrupted at step {step}" in err
    assert state["history"]["step"][-1].item() == step  # every step up to the interrupt is kept
    result = cli("train", "--resume", run, "--steps", step + 5, "--quiet")
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(run / "checkpoint.pt")["step"] == step + 5


def test_second_training_in_the_same_directory_is_refused_until_the_first_dies(tmp_path, cli):
    run = tmp_path / "run"
    first = start_training(*LONG, "--steps", "1000000", "--checkpoint-every", "50", "--out", run)
    try:
        wait_for_progress(run, first, min_rows=1)
        result = cli("train", "--resume", run, "--steps", "2000000", "--quiet")
        assert result.returncode == 2
        assert "in use by a running training" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    finally:
        first.kill()
        first.wait()
    step = load_checkpoint(run / "checkpoint.pt")["step"]
    result = cli("train", "--resume", run, "--steps", step + 3, "--quiet")
    assert result.returncode == 0, result.stderr


def test_sigkill_at_random_moments_never_loses_the_run(tmp_path, cli):
    """Kill a real training process 20 times at random moments; every time the directory still
    resumes, and in the end the run completes with a contiguous history and no stray files."""
    rng = random.Random(1234)
    run, target = tmp_path / "run", 100000
    args = [*LONG, "--checkpoint-every", "7", "--steps", target]
    last_step, started = 0, False
    for i in range(20):
        # until a first checkpoint exists the run is started anew (--out), then resumed
        proc = start_training(*args, *(["--resume", run] if started else ["--out", run]))
        if i % 3 == 2:  # during start-up (imports, loading, locking)
            time.sleep(rng.uniform(0.1, 2.0))
        else:  # during training: once a new checkpoint has appeared, at a random moment after it
            wait_for_new_checkpoint(run, proc)
            time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.communicate()
        started = started or (run / "checkpoint.pt").exists()
        if started:
            state = load_checkpoint(run / "checkpoint.pt")  # always a complete, loadable checkpoint
            assert state["step"] >= last_step
            last_step = state["step"]
    assert last_step > 0
    final = last_step + 10
    result = cli("train", "--resume", run, "--steps", final, "--quiet")
    assert result.returncode == 0, result.stderr
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["step"] == final
    assert state["history"]["step"].tolist() == list(range(1, final + 1))
    assert sorted(p.name for p in run.iterdir()) == [".lock", "checkpoint.pt", "config.json", "history.csv"]


def test_checkpoint_from_an_incompatible_model_is_refused(tmp_path, cli):
    run = tmp_path / "run"
    assert cli("train", *LONG, "--steps", "3", "--out", run).returncode == 0
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["config"]["hidden"] = 32  # the weights are 16 wide
    torch.save(state, run / "checkpoint.pt")
    for args in (["eval", "--run", run], ["sample", "--run", run, "--out", tmp_path / "s.npy"]):
        result = cli(*args)
        assert result.returncode == 2 and "does not fit these models" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_skip_nonfinite_skips_and_counts_bad_updates():
    config = TrainConfig(steps=20, batch_size=32, hidden=16, device="cpu", skip_nonfinite=True)
    G, D = build_models(config, (2,))
    run = fit(G, D, NaNRing(5, 7), config, progress=False)
    assert run.step == 20
    assert run.history["skipped"][4:7] == [1.0, 1.0, 1.0]  # D's updates at steps 5-7 skipped
    assert sum(run.history["skipped"]) == 3
    assert all(torch.isfinite(p).all() for p in D.parameters())


def test_cli_nan_injection_stops_with_the_term_and_step(tmp_path, cli):
    result = cli("train", *LONG, "--steps", "50", "--lr-g", "1e30", "--checkpoint-every", "1", "--out", tmp_path / "r")
    assert result.returncode == 1
    assert "training diverged at step 2: d_loss is nan" in result.stderr
    assert load_checkpoint(tmp_path / "r" / "checkpoint.pt")["step"] == 1


# ----- property-based: every input runs or exits 2 with one line, never a traceback ------------

FLAG_VALUES = {
    "--loss": st.sampled_from(["minimax", "nonsaturating", "least_squares", "hinge", "wasserstein", "bce", ""]),
    "--penalty": st.sampled_from(["none", "gp", "gp_one_sided", "r1", "r2", "clip", "l2"]),
    "--penalty-weight": st.sampled_from(["0", "0.1", "10", "-1", "nan", "inf", "x", "1e400"]),
    "--n-critic": st.sampled_from(["1", "2", "0", "-1", "1.5", "a"]),
    "--steps": st.sampled_from(["1", "2", "0", "-3", "abc", "1e3", ""]),
    "--batch-size": st.sampled_from(["8", "1", "0", "-8"]),
    "--hidden": st.sampled_from(["4", "8", "0", "-2"]),
    "--z-dim": st.sampled_from(["1", "2", "0"]),
    "--lr-g": st.sampled_from(["1e-3", "0", "-1", "nan", "fast"]),
    "--lr-d": st.sampled_from(["1e-3", "0", "inf"]),
    "--seed": st.sampled_from(["0", "7", "-1", "x"]),
    "--ema": st.sampled_from(["0", "0.5", "1", "2", "-0.1"]),
    "--augment": st.sampled_from(["none", "color"]),
    "--data": st.sampled_from(["ring", "grid", "swissroll", "moons"]),
    "--device": st.sampled_from(["cpu", "auto", "gpu", "cuda:99"]),
    "--checkpoint-every": st.sampled_from(["0", "1", "-1"]),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(sorted(FLAG_VALUES)), st.just(None), max_size=6).flatmap(
    lambda d: st.fixed_dictionaries({k: FLAG_VALUES[k] for k in d})))
def test_cli_train_runs_or_fails_cleanly(tmp_path_factory, capsys, flags):
    out = tmp_path_factory.mktemp("prop") / "run"
    flags.setdefault("--steps", "2")
    if flags["--steps"] not in ("1", "2"):  # a valid --steps must stay tiny
        flags["--steps"] = flags["--steps"] if flags["--steps"] in ("0", "-3", "abc", "1e3", "") else "2"
    argv = ["train", "--quiet", "--out", str(out)] + [x for kv in flags.items() for x in kv]
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err
    assert status in (0, 2), (argv, status, err)
    if status == 0:
        assert load_checkpoint(out / "checkpoint.pt")["step"] >= 1
    else:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)


@settings(max_examples=80, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "steps": st.one_of(st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=2), st.none()),
    "batch_size": st.one_of(st.integers(-2, 4), st.booleans()),
    "lr_g": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1, 1)),
    "betas_d": st.one_of(st.tuples(st.floats(-1, 2), st.floats(-1, 2)), st.tuples(st.floats(0, 0.9))),
    "ema": st.floats(allow_nan=True, allow_infinity=True),
    "penalty": st.text(max_size=4) | st.sampled_from(["gp", "r1", "clip"]),
    "penalty_weight": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    "loss": st.sampled_from(["hinge", "wasserstein", "HINGE", ""]),
}))
def test_train_config_validates_or_raises_config_error(fields):
    try:
        config = TrainConfig(**fields)
        config.validate()
    except ConfigError as err:
        assert str(err) and "\n" not in str(err)
