"""The limited-data table of the Overfitting chapter: the digits DCGAN preset trained on all
training digits and on small subsets, with and without DiffAugment, over several seeds.

    python benchmarks/limited_data.py                                   # the committed table
    python benchmarks/limited_data.py --sizes 100 --seeds 0-1 --steps 500   # a quick look
    python benchmarks/limited_data.py --augment translation,cutout color,translation,cutout

Data: ``gancore.features.digits_split()`` — 1438 training digits and 359 held-out digits that
neither the GAN nor the feature network ever trains on. A run with size n trains
``config_for("digits", seed=SEED, augment=POLICY)`` on a seeded random subset of n training
digits (``overfitting.subset(train, n, seed=SEED)``; "all" = 1438), so the spread over seeds
includes the choice of subset as well as the initialisation.

Measured after training by :func:`gancore.overfitting.train_limited` (1000 samples of the EMA
generator, seed 0):

* FID and KID against the 359 held-out digits, on the 64-d features of the offline digit
  classifier (``gancore.features.digit_features``). KID is printed as is (the unbiased MMD² of
  the cubic kernel on unnormalised features: its scale is the features', not Inception's), as
  the mean over 50 random subsets of 359. Precision/recall: Kynkäänniemi et al., k = 3.
* r_t = E[sign D(x)] on the training images, and D's accuracy (logit > 0) on the training
  images minus on held-out images ("gap", in percentage points). Both are measured on the
  inputs D trains on: augmented with the run's policy (fixed seed) when it augments.
* Memorisation in pixel space: the fraction of samples whose nearest training image is closer
  than their nearest held-out image, and the median ratio of the two distances, with the larger
  set cut to the size of the smaller one (≈ 50 % and ≈ 1 without memorisation).
* CPU seconds of training (process time; the machine's load does not inflate it as much as
  wall time, and the load average is printed).

Results go to ``benchmarks/results/limited_data.csv`` (one row per run) and ``.md`` (the table).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from pathlib import Path

import torch

from gancore import presets
from gancore.features import digit_features, digits_split
from gancore.overfitting import mean_std, subset, train_limited
from tune_presets import parse_seeds

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = [  # (row key, header, format, scale)
    ("fid", "FID", "{:.1f}", 1.0),
    ("kid", "KID", "{:.0f}", 1.0),
    ("precision", "precision", "{:.2f}", 1.0),
    ("recall", "recall", "{:.2f}", 1.0),
    ("rt", "r_t", "{:.2f}", 1.0),
    ("gap", "D gap (pts)", "{:.0f}", 100.0),
    ("closer_to_train", "closer to train (%)", "{:.0f}", 100.0),
    ("median_ratio", "median d_train/d_held", "{:.3f}", 1.0),
    ("cpu_seconds", "CPU s", "{:.0f}", 1.0),
]


def run_all(sizes, policies, seeds, steps=None, progress=print) -> list[dict]:
    """One :func:`train_limited` row per (size, policy, seed); ``size`` None means all training digits."""
    train, _, heldout, _ = digits_split()
    real_features = digit_features(heldout)  # noqa: F841 (computed once so that the cache is warm)
    rows = []
    for size in sizes:
        for policy in policies:
            for seed in seeds:
                overrides = dict(seed=seed, augment=policy, device="cpu")
                if steps is not None:
                    overrides["steps"] = steps
                config = presets.config_for("digits", **overrides)
                images = subset(train, size, seed=seed)
                result = train_limited(images, heldout, config, track=False)
                row = {"size": "all" if size is None else size, **result.row}
                rows.append(row)
                progress(f"  n={row['n_train']:5d} augment={policy:28s} seed={seed}: FID {row['fid']:.1f}, "
                         f"gap {100 * row['gap']:.0f} pts, r_t {row['rt']:.2f}, {row['cpu_seconds']:.0f} CPU s")
    return rows


def table(rows: list[dict]) -> str:
    """Markdown table of mean ± std over seeds, one line per (size, augment)."""
    summary = mean_std(rows, ["n_train", "augment"], [c for c, *_ in COLUMNS])
    header = ["training images", "augment", "runs"] + [h for _, h, _, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in summary:
        cells = [str(s["n_train"]), s["augment"], str(s["runs"])]
        for key, _, fmt, scale in COLUMNS:
            cells.append(f"{fmt.format(scale * s[key + '_mean'])} ± {fmt.format(scale * s[key + '_std'])}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["all", "100"], help="training-set sizes ('all' = 1438)")
    parser.add_argument("--augment", nargs="+", default=["none", "translation", "translation,cutout", "color,translation,cutout"], help="DiffAugment policies")
    parser.add_argument("--seeds", default="0-2", help="e.g. 0-2 or 0,3,5")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", default=str(RESULTS / "limited_data"), help="output path without extension")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = [None if s == "all" else int(s) for s in args.sizes]
    seeds = parse_seeds(args.seeds)
    command = "python benchmarks/limited_data.py " + " ".join(argv if argv is not None else sys.argv[1:])
    start = time.perf_counter()
    rows = run_all(sizes, args.augment, seeds, args.steps)
    elapsed = time.perf_counter() - start
    text = table(rows)
    steps = rows[0]["steps"] if rows else 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    note = (f"digits DCGAN preset, {steps} steps, seeds {args.seeds}; mean ± std over seeds. FID/KID/precision/recall: "
            f"1000 EMA samples (sample seed 0) vs the 359 held-out digits on digit-classifier features (KID as is, not ×10³); "
            f"FID of one generator varies by a few points between sets of 1000 samples. "
            f"D gap = D accuracy on training minus held-out reals (percentage points). "
            f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
            f"total {elapsed:.0f} s wall, load average {load:.1f} at the end.")
    print(text)
    print(note)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(f"# Limited data: digits\n\nCommand: `{command.strip()}`\n\n{text}\n\n{note}\n")
    with out.with_suffix(".csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
