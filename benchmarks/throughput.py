"""Training throughput: gancore's engine against a plain PyTorch loop written the way the
well-known DCGAN example does it (DataLoader over a TensorDataset, sigmoid + BCELoss, ``.item()``
on every step), on the same networks and batch sizes, measured side by side in one run.

    python benchmarks/throughput.py            # all cases, prints a table
    python benchmarks/throughput.py --quick    # fewer steps

Cases: (a) toy MLP GAN, width 64, batch 64 (per-step overhead dominates); (b) width 512, batch
256 (arithmetic dominates); (c) (b) with WGAN-GP and n_critic = 5; (d) DCGAN on 28×28×1 images,
batch 64. Also the cost of one gradient-penalty critic step relative to a plain critic step.
Each timing is the best of ``--repeats`` runs, alternating the two implementations.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from gancore import TrainConfig, build_models, fit, toy
from gancore.penalties import gradient_penalty


def plain_loop(G, D, dataset: torch.Tensor, steps: int, batch: int, z_dim: int, *, wgan_gp: bool = False, n_critic: int = 1):
    """The tutorial loop. Returns steps/s."""
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(dataset), batch_size=batch, shuffle=True, drop_last=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    D_prob = nn.Sequential(D, nn.Sigmoid())
    bce = nn.BCELoss()
    it = iter(loader)

    def next_batch():
        nonlocal it
        try:
            return next(it)[0]
        except StopIteration:
            it = iter(loader)
            return next(it)[0]

    log = []
    start = time.perf_counter()
    for _ in range(steps):
        for _ in range(n_critic):
            real = next_batch()
            fake = G(torch.randn(batch, z_dim))
            D.zero_grad()
            if wgan_gp:
                loss_d = D(fake.detach()).mean() - D(real).mean() + 10 * gradient_penalty(D, real, fake.detach())
            else:
                loss_d = bce(D_prob(real), torch.ones(batch)) + bce(D_prob(fake.detach()), torch.zeros(batch))
            loss_d.backward()
            opt_d.step()
        G.zero_grad()
        loss_g = -D(fake).mean() if wgan_gp else bce(D_prob(fake), torch.ones(batch))
        loss_g.backward()
        opt_g.step()
        log.append((loss_d.item(), loss_g.item()))
    return steps / (time.perf_counter() - start)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default="abcd", help="which of the cases a, b, c, d to run (default: all)")
    args = parser.parse_args()
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
