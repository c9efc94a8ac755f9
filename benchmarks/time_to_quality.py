"""Time to quality: CPU seconds until the default ring and grid configurations meet the
mixture-benchmark targets, against the step budgets of the published recipes.

    python benchmarks/time_to_quality.py                    # ring and grid, seeds 0-2
    python benchmarks/time_to_quality.py --data ring --seeds 0-9 --every 250

Each run trains ``gancore.config_for(DATA, seed=SEED)`` and every ``--every`` steps scores 2500
samples of the EMA generator (GUIDE §5, the same samples as benchmarks/tune_presets.py). The
clock is the process CPU time of training, with the evaluations subtracted. Targets (all modes,
high quality, reverse KL) are those of the mixture benchmark (``tune_presets.TARGETS``). The
published budgets (REFERENCE.md): the WGAN-GP authors' toy code runs 100 000 generator
iterations with 5 critic iterations each; PacGAN trains 400 epochs of 100 000 points at batch
100, i.e. 400 000 iterations.
"""

from __future__ import annotations

import argparse
import time

import torch

import gancore
from tune_presets import TARGETS, parse_seeds

PUBLISHED = {"WGAN-GP toy code": 100_000, "PacGAN (400 epochs × 1000 batches)": 400_000}


def meets(stats, data: str) -> bool:
    modes, hq, rkl = TARGETS[data]
    return stats.modes >= modes and stats.high_quality >= hq and stats.reverse_kl <= rkl


def time_to_target(data: str, seed: int, every: int) -> dict:
    config = gancore.config_for(data, seed=seed, log_every=every)
    dataset = gancore.toy(data)
    G, D = gancore.build_models(config, (2,))
    eval_cpu = 0.0
    first = None

    def evaluate(run):
        nonlocal eval_cpu, first
        t = time.process_time()
        stats = gancore.mode_stats(run.sample(2500, seed=123), dataset.centers, dataset.std)
        if meets(stats, data) and first is None:
            first = (run.step, time.process_time() - start - eval_cpu)
        eval_cpu += time.process_time() - t
        return stats

    start = time.process_time()
    run = gancore.fit(G, D, dataset, config, progress=False, on_log=evaluate)
    final = gancore.mode_stats(run.sample(2500, seed=123), dataset.centers, dataset.std)
    return dict(data=data, seed=seed, steps=config.steps, first_step=first[0] if first else None,
                cpu_to_target=first[1] if first else None, cpu_total=time.process_time() - start - eval_cpu,
                final_met=meets(final, data), final_hq=final.high_quality)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["ring", "grid"], choices=sorted(TARGETS))
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--every", type=int, default=250, help="steps between evaluations")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; targets {TARGETS}")
    print(f"{'data':5s} {'seed':>4s} {'steps to target':>16s} {'CPU s to target':>16s} {'preset steps':>13s} "
          f"{'CPU s total':>12s} {'met at end':>10s} {'HQ at end':>9s}")
    rows = []
    for data in args.data:
        for seed in parse_seeds(args.seeds):
            r = time_to_target(data, seed, args.every)
            rows.append(r)
            step = "never" if r["first_step"] is None else str(r["first_step"])
            cpu = "-" if r["cpu_to_target"] is None else f"{r['cpu_to_target']:.1f}"
            print(f"{data:5s} {seed:4d} {step:>16s} {cpu:>16s} {r['steps']:13d} {r['cpu_total']:12.1f} "
                  f"{str(r['final_met']):>10s} {100 * r['final_hq']:8.1f}%", flush=True)
    for data in args.data:
        reached = [r["first_step"] for r in rows if r["data"] == data and r["first_step"] is not None]
        if not reached:
            print(f"{data}: target not reached")
            continue
        worst = max(reached)
        budgets = ", ".join(f"{name}: {n:,} iterations ({n / worst:.0f}× more)" for name, n in PUBLISHED.items())
        print(f"{data}: all targets first met by step {worst} (slowest seed); {budgets}")


if __name__ == "__main__":
    main()
