"""Measure gancore's 2-D presets on the mixture benchmark, one row per seed.

    python benchmarks/tune_presets.py                       # ring and grid, seeds 0-9
    python benchmarks/tune_presets.py --data ring --seeds 0-4
    python benchmarks/tune_presets.py --data ring --set loss=wasserstein penalty=gp
    python benchmarks/tune_presets.py --data grid --set steps=6000 lr_g=5e-4 --jobs 2

Each run trains ``gancore.config_for(DATA, seed=SEED, **overrides)`` with :func:`gancore.fit`
and evaluates 2500 samples (``run.sample(2500, seed=123)``) with :func:`gancore.mode_stats`
(GUIDE §5) for the EMA generator and, for reference, the raw generator. Swiss roll reports
the sliced Wasserstein distance to 2500 real samples instead. ``seconds`` is the wall time of
training alone; other processes on the machine inflate it, so the load average is printed too,
and ``cpu`` the process CPU time of training (``time.process_time``), which they hardly change.

``--jobs 2`` trains two seeds at once with one thread each (faster on a 2-core machine when
nothing else runs; per-run seconds then include the contention).

A learning-rate schedule is a TrainConfig field like any other: ``--set lr_decay=0.5``.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import torch

import gancore
from gancore.metrics import sliced_wasserstein
from gancore.presets import TARGETS, meets_target


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            seeds.extend(range(int(lo), int(hi) + 1))
        elif part:
            seeds.append(int(part))
    return seeds


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def run_one(data_name: str, seed: int, overrides: dict, threads: int) -> dict:
    """Train one seed and return its measurements."""
    torch.set_num_threads(threads)
    config = gancore.config_for(data_name, seed=seed, device="cpu", **overrides)
    data = gancore.toy(data_name)
    G, D = gancore.build_models(config, (2,))
    start, cpu_start = time.perf_counter(), time.process_time()
    run = gancore.fit(G, D, data, config, progress=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    row = {"data": data_name, "seed": seed, "seconds": seconds, "cpu": cpu}
    for tag, ema in (("", True), ("raw_", False)):
        if ema and run.G_ema is None:
            continue
        fake = run.sample(2500, seed=123, ema=ema)
        if hasattr(data, "centers"):
            s = gancore.mode_stats(fake, data.centers, data.std)
            row |= {tag + "modes": s.modes, tag + "k": s.num_modes, tag + "hq": s.high_quality, tag + "rkl": s.reverse_kl}
        else:
            real = data.sample(2500, generator=torch.Generator().manual_seed(123))
            row[tag + "swd"] = sliced_wasserstein(real, fake)
    return row


def passes(row: dict) -> bool | None:
    if row["data"] not in TARGETS or "modes" not in row:
        return None
    return meets_target(row["data"], row["modes"], row["hq"], row["rkl"])


def format_row(row: dict) -> str:
    if "modes" in row:
        ok = passes(row)
        mark = "" if ok is None else ("ok" if ok else "FAIL")
        raw = f"{row['raw_modes']:>2}/{row['raw_k']:<2} {100 * row['raw_hq']:5.1f}% {row['raw_rkl']:6.3f}" if "raw_modes" in row else ""
        return (f"{row['data']:<9} {row['seed']:>4}  {row['modes']:>2}/{row['k']:<2}  {100 * row['hq']:5.1f}%  "
                f"{row['rkl']:6.3f}  {row['seconds']:6.1f}  {row['cpu']:6.1f}  {mark:<4}  {raw}")
    return f"{row['data']:<9} {row['seed']:>4}  swd {row['swd']:.4f} (raw {row.get('raw_swd', float('nan')):.4f})  {row['seconds']:6.1f}s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["ring", "grid"], help="datasets (ring grid swissroll)")
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,5 (default 0-9)")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="TrainConfig overrides")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (1 thread each when > 1)")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.set)
    seeds = parse_seeds(args.seeds)
    threads = 1 if args.jobs > 1 else torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread(s) per run, {args.jobs} job(s), load average at start "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    all_ok = True
    for name in args.data:
        config = gancore.config_for(name, **overrides)
        shown = {k: v for k, v in config.to_dict().items() if k not in ("data", "seed", "device", "amp", "checkpoint_every", "log_every", "augment")}
        print(f"\n{name}: {shown}")
        print(f"{'data':<9} {'seed':>4}  modes  HQ      rKL     sec.    cpu s   pass  (raw G: modes HQ rKL)")
        jobs = [(name, seed, overrides, threads) for seed in seeds]
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                rows = list(pool.map(run_one, *zip(*jobs)))
        else:
            rows = []
            for job in jobs:
                rows.append(run_one(*job))
                print(format_row(rows[-1]), flush=True)
        if args.jobs > 1:
            for row in rows:
                print(format_row(row))
        if "modes" in rows[0]:
            ok = [passes(r) for r in rows]
            all_ok &= all(ok)
            print(f"{name}: {sum(ok)}/{len(ok)} seeds meet the target; worst modes {min(r['modes'] for r in rows)}, "
                  f"worst HQ {100 * min(r['hq'] for r in rows):.1f}%, worst rKL {max(r['rkl'] for r in rows):.3f}, "
                  f"mean {sum(r['seconds'] for r in rows) / len(rows):.1f} s per run (max {max(r['seconds'] for r in rows):.1f}), "
                  f"CPU {sum(r['cpu'] for r in rows) / len(rows):.1f} s per run (max {max(r['cpu'] for r in rows):.1f})")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
