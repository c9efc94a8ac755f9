"""Full training runs through the CLI with its defaults (each well under 3 minutes on a 2-core CPU)."""

import json
import time

import pytest

pytestmark = pytest.mark.slow


def train_and_eval(cli, out, *flags):
    start = time.perf_counter()
    result = cli("train", "--data", "ring", "--out", out, "--quiet", *flags)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    evaluation = cli("eval", "--run", out)
    assert evaluation.returncode == 0, evaluation.stderr
    metrics = json.loads(evaluation.stdout)
    print(f"{' '.join(flags) or 'defaults'}: {metrics['modes']}/8 modes, {100 * metrics['high_quality']:.1f}% HQ, "
          f"rKL {metrics['reverse_kl']:.3f}, {seconds:.0f} s")
    return metrics


def test_ring_with_cli_defaults_captures_every_mode(cli, tmp_path):
    metrics = train_and_eval(cli, tmp_path / "ring")
    assert metrics["modes"] == 8
    assert metrics["high_quality"] >= 0.8


def test_ring_with_wgan_gp_captures_every_mode(cli, tmp_path):
    metrics = train_and_eval(cli, tmp_path / "ring-gp", "--loss", "wasserstein", "--penalty", "gp")
    assert metrics["modes"] == 8
