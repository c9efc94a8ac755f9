"""Time to quality: CPU seconds until the default ring and grid configurations reach (a) the
best published row (PacGAN4: all modes captured on the run, high quality and reverse KL at least
as good as its 10-run mean) and (b) the project's targets, against the step budgets of the
published recipes.

    python benchmarks/time_to_quality.py                    # ring and grid presets, seeds 0-2
    python benchmarks/time_to_quality.py --data ring --seeds 0-9 --every 250
    python benchmarks/time_to_quality.py --data ring --set steps=12000 batch_size=512

Each run trains ``gancore.config_for(DATA, seed=SEED, **overrides)`` and every ``--every``
steps scores 2500 samples of the EMA generator (GUIDE §5, the same samples as
benchmarks/tune_presets.py). The clock is the process CPU time of training, with the
evaluations subtracted. The published budgets (REFERENCE.md): the WGAN-GP authors' toy code runs
100 000 generator iterations with 5 critic iterations each; PacGAN trains 400 epochs of 100 000
points at batch 100, i.e. 400 000 iterations.
"""

from __future__ import annotations

import argparse
import time

import torch

import gancore
from gancore.presets import PACGAN4, TARGETS, meets_target
from tune_presets import parse_overrides, parse_seeds

PUBLISHED_ITERATIONS = {"WGAN-GP toy code": 100_000, "PacGAN": 400_000}
BARS = {"PacGAN4 level": PACGAN4, "target": TARGETS}


def time_to_quality(data: str, seed: int, every: int, overrides: dict) -> dict:
    """Train one run; return the first (step, CPU s) at which each bar of :data:`BARS` is met."""
    config = gancore.config_for(data, seed=seed, log_every=every, **overrides)
    dataset = gancore.toy(data)
    G, D = gancore.build_models(config, (2,))
    eval_cpu, first = 0.0, {}

    def evaluate(run):
        nonlocal eval_cpu
        t = time.process_time()
        stats = gancore.mode_stats(run.sample(2500, seed=123), dataset.centers, dataset.std)
        for name, bars in BARS.items():
            if name not in first and meets_target(data, stats.modes, stats.high_quality, stats.reverse_kl, bar=bars[data]):
                first[name] = (run.step, t - start - eval_cpu)
        eval_cpu += time.process_time() - t

    start = time.process_time()
    run = gancore.fit(G, D, dataset, config, progress=False, on_log=evaluate)
    final = gancore.mode_stats(run.sample(2500, seed=123), dataset.centers, dataset.std)
    return dict(data=data, seed=seed, steps=config.steps, first=first,
                cpu_total=time.process_time() - start - eval_cpu, final=final)


def _cell(first: dict, name: str) -> str:
    return f"{first[name][0]} / {first[name][1]:.1f}" if name in first else "never"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["ring", "grid"], choices=sorted(TARGETS))
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--every", type=int, default=250, help="steps between evaluations")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="overrides of the preset")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; overrides {overrides or 'none'}")
    print(f"bars (modes, high quality, reverse KL): PacGAN4 level {PACGAN4}; target {TARGETS}")
    print(f"{'data':5s} {'seed':>4s} {'PacGAN4 level: step / CPU s':>28s} {'target: step / CPU s':>22s} "
          f"{'steps':>6s} {'CPU s':>6s} {'final modes':>11s} {'final HQ':>8s} {'final rKL':>9s}")
    rows = []
    for data in args.data:
        for seed in parse_seeds(args.seeds):
            r = time_to_quality(data, seed, args.every, overrides)
            rows.append(r)
            f = r["final"]
            print(f"{data:5s} {seed:4d} {_cell(r['first'], 'PacGAN4 level'):>28s} {_cell(r['first'], 'target'):>22s} "
                  f"{r['steps']:6d} {r['cpu_total']:6.1f} {f.modes:>8d}/{f.num_modes:<2d} {100 * f.high_quality:7.1f}% "
                  f"{f.reverse_kl:9.4f}", flush=True)
    for data in args.data:
        for name in BARS:
            reached = [r["first"][name] for r in rows if r["data"] == data and name in r["first"]]
            n = sum(r["data"] == data for r in rows)
            if not reached:
                print(f"{data}, {name}: reached by no seed")
                continue
            step = max(s for s, _ in reached)
            cpu = max(c for _, c in reached)
            budgets = ", ".join(f"{k} {v:,} iterations = {v / step:.0f}× more" for k, v in PUBLISHED_ITERATIONS.items())
            print(f"{data}, {name}: reached by {len(reached)}/{n} seeds, the slowest at step {step} "
                  f"({cpu:.1f} CPU s); {budgets}")


if __name__ == "__main__":
    main()
