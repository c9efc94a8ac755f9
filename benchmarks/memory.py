"""Memory over a long run: resident memory of a 20 000-step toy training, sampled every 1000 steps.

    python benchmarks/memory.py                  # ring preset, 20 000 steps
    python benchmarks/memory.py --steps 5000 --data grid

The run keeps its history on the host (nine floats a step) and nothing else that grows; the
target (issue on speed) is growth < 5% of the peak resident memory from step 1000 to the end.
On CUDA it also reports the peak GPU memory allocated.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

import gancore


def rss_mib() -> float:
    """Current resident set size of this process (Linux /proc), MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ring")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=1000)
    args = parser.parse_args()
    config = gancore.config_for(args.data, steps=args.steps, log_every=args.every)
    G, D = gancore.build_models(config, (2,))
    rows = []

    def record(run):
        cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else float("nan")
        rows.append((run.step, rss_mib(), peak_rss_mib(), cuda))

    start = time.perf_counter()
    gancore.fit(G, D, gancore.toy(args.data), config, on_log=record, progress=True)
    print(f"{args.data}, {args.steps} steps in {time.perf_counter() - start:.0f} s (torch {torch.__version__})")
    print(f"{'step':>7s} {'RSS MiB':>9s} {'peak RSS MiB':>13s} {'peak CUDA MiB':>14s}")
    for step, rss, peak, cuda in rows:
        print(f"{step:7d} {rss:9.1f} {peak:13.1f} {cuda:14.1f}")
    first = next(r for r in rows if r[0] >= min(1000, rows[-1][0]))
    growth = (rows[-1][2] - first[2]) / first[2]
    print(f"peak RSS growth from step {first[0]} to {rows[-1][0]}: {100 * growth:+.2f}% "
          f"(target < 5%: {'met' if growth < 0.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
