"""The plain PyTorch GAN loop that tutorials teach, as gancore's speed baseline.

Written the way the well-known DCGAN example does it: a DataLoader over a TensorDataset,
a sigmoid output with BCELoss, and ``.item()`` on every step. It trains the same networks as
gancore (:func:`gancore.build_models`) so only the loop differs.

    python benchmarks/plain_loop.py --steps 3000 --hidden 64 --batch-size 64   # a whole process

:mod:`throughput` imports :func:`plain_loop` for its side-by-side table, and times this script
as a process against ``gancore train`` with ``--cli``.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from gancore import TrainConfig, build_models, toy
from gancore.penalties import gradient_penalty


def plain_loop(G, D, dataset: torch.Tensor, steps: int, batch: int, z_dim: int, *, wgan_gp: bool = False, n_critic: int = 1) -> float:
    """Train ``steps`` steps the tutorial way; return steps per second."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    config = TrainConfig(hidden=args.hidden, z_dim=2, device="cpu")
    G, D = build_models(config, (2,))
    dataset = toy("ring").sample(100_000, generator=torch.Generator().manual_seed(0))
    rate = plain_loop(G, D, dataset, args.steps, args.batch_size, config.z_dim)
    print(f"plain loop: {args.steps} steps at {rate:.1f} steps/s")


if __name__ == "__main__":
    main()
