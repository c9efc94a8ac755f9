"""Training throughput: gancore's engine against a plain PyTorch loop written the way the
well-known DCGAN example does it (DataLoader over a TensorDataset, sigmoid + BCELoss, ``.item()``
on every step), on the same networks and batch sizes, measured side by side in one run.

    python benchmarks/throughput.py            # all cases, prints a table
    python benchmarks/throughput.py --quick    # fewer steps
    python benchmarks/throughput.py --cli      # whole processes: gancore train vs plain_loop.py

Cases: (a) toy MLP GAN, width 64, batch 64 (per-step overhead dominates); (b) width 512, batch
256 (arithmetic dominates); (c) (b) with WGAN-GP and n_critic = 5; (d) DCGAN on 28×28×1 images,
batch 64. Also the cost of one gradient-penalty critic step relative to a plain critic step.
Each timing is the best of ``--repeats`` runs, alternating the two implementations.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from gancore import TrainConfig, build_models, fit, toy
from gancore.penalties import gradient_penalty
from plain_loop import plain_loop

HERE = Path(__file__).resolve().parent

#: ``gancore train`` as the issue states it, against benchmarks/plain_loop.py with the same sizes
CLI_STEPS = 3000
GANCORE_CLI = ["-m", "gancore", "train", "--data", "ring", "--loss", "nonsaturating", "--penalty", "none",
               "--n-critic", "1", "--hidden", "64", "--batch-size", "64", "--steps", str(CLI_STEPS), "--quiet"]
PLAIN_CLI = [str(HERE / "plain_loop.py"), "--hidden", "64", "--batch-size", "64", "--steps", str(CLI_STEPS)]


def gancore_loop(G, D, data, steps: int, config: TrainConfig) -> float:
    start = time.perf_counter()
    fit(G, D, data, config, progress=False)
    return steps / (time.perf_counter() - start)


def case(name, steps, repeats, *, hidden, batch, shape=(2,), z_dim=2, wgan_gp=False, n_critic=1):
    data = toy("ring") if shape == (2,) else torch.rand(2048, *shape) * 2 - 1
    dataset = data.sample(100_000, generator=torch.Generator().manual_seed(0)) if shape == (2,) else data
    config = TrainConfig(steps=steps, batch_size=batch, hidden=hidden, z_dim=z_dim, device="cpu", ema=0.0,
                         loss="wasserstein" if wgan_gp else "nonsaturating", penalty="gp" if wgan_gp else "none",
                         n_critic=n_critic, log_every=max(1, steps // 4))
    best_plain = best_ours = 0.0
    for _ in range(repeats):
        G, D = build_models(config, shape)
        best_plain = max(best_plain, plain_loop(G, D, dataset, steps, batch, z_dim, wgan_gp=wgan_gp, n_critic=n_critic))
        G, D = build_models(config, shape)
        best_ours = max(best_ours, gancore_loop(G, D, data, steps, config))
    return name, best_plain, best_ours


def critic_step_cost(steps: int, hidden=512, batch=256) -> float:
    """Seconds of a critic step with GP over one without (same critic, same batch)."""
    config = TrainConfig(hidden=hidden, device="cpu")
    _, D = build_models(config, (2,))
    opt = torch.optim.Adam(D.parameters())
    real, fake = torch.randn(batch, 2), torch.randn(batch, 2)

    def timed(with_gp):
        start = time.perf_counter()
        for _ in range(steps):
            loss = D(fake).mean() - D(real).mean()
            if with_gp:
                loss = loss + 10 * gradient_penalty(D, real, fake)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return time.perf_counter() - start

    timed(False), timed(True)  # warm up
    return min(timed(True) for _ in range(3)) / min(timed(False) for _ in range(3))


def whole_process_seconds(repeats: int) -> tuple[float, float]:
    """Best wall time of the plain-loop script and of ``gancore train`` (3000 ring steps, width
    64, batch 64), each a whole Python process (start-up, imports and saving included)."""

    def timed(args, out=None):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args, *(["--out", out] if out else [])], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ))
        return time.perf_counter() - start

    best_plain = best_ours = float("inf")
    for _ in range(repeats):
        best_plain = min(best_plain, timed(PLAIN_CLI))
        with tempfile.TemporaryDirectory() as tmp:
            best_ours = min(best_ours, timed(GANCORE_CLI, os.path.join(tmp, "run")))
    return best_plain, best_ours


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default="abcd", help="which of the cases a, b, c, d to run (default: all)")
    parser.add_argument("--cli", action="store_true", help="time whole processes: gancore train against plain_loop.py")
    args = parser.parse_args()
    if args.cli:
        plain, ours = whole_process_seconds(args.repeats)
        print(f"whole process, {CLI_STEPS} ring steps, width 64, batch 64 (best of {args.repeats})")
        print(f"  plain loop    : {plain:6.1f} s   python benchmarks/plain_loop.py {' '.join(PLAIN_CLI[1:])}")
        print(f"  gancore train : {ours:6.1f} s   gancore {' '.join(GANCORE_CLI[2:])} --out DIR")
        print(f"  ratio (plain / gancore): {plain / ours:.2f}")
        return
    k = 4 if args.quick else 1
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    cases = {
        "a": lambda: case("(a) MLP w64 b64", 2000 // k, args.repeats, hidden=64, batch=64),
        "b": lambda: case("(b) MLP w512 b256", 400 // k, args.repeats, hidden=512, batch=256),
        "c": lambda: case("(c) (b) + WGAN-GP, n_critic 5", 100 // k, args.repeats, hidden=512, batch=256, wgan_gp=True, n_critic=5),
        "d": lambda: case("(d) DCGAN 28x28x1 b64", 60 // k, args.repeats, hidden=32, batch=64, shape=(1, 28, 28), z_dim=64),
    }
    rows = [cases[c]() for c in args.cases]
    print(f"{'case':34s} {'plain steps/s':>14s} {'gancore steps/s':>16s} {'ratio':>7s}")
    for name, plain, ours in rows:
        print(f"{name:34s} {plain:14.1f} {ours:16.1f} {ours / plain:7.2f}")
    print(f"gradient-penalty critic step / plain critic step (w512 b256): {critic_step_cost(200 // k):.2f}x")


if __name__ == "__main__":
    main()
