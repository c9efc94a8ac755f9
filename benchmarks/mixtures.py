"""The 2-D mixture benchmark (GUIDE §5): ring and grid, several GAN recipes, 10 seeds each.

    python benchmarks/mixtures.py --jobs 2 --csv benchmarks/results/mixtures.csv \\
        --md benchmarks/results/mixtures.md           # the full benchmark (seeds 0-9)
    python benchmarks/mixtures.py --quick              # smoke run: 1 seed, a few steps
    python benchmarks/mixtures.py --data ring --configs gancore ns_r1 --seeds 0-2

Every run is trained and scored by :func:`gancore.sweep.sweep`: 2500 samples of the EMA
generator when the recipe has one (else the generator), each assigned to its nearest mean;
*high quality* within 3σ; a mode is *captured* with ≥ 1 high-quality sample; reverse KL over
the fractions assigned to each mode (PacGAN/VEEGAN definitions, ``gancore.metrics.mode_stats``).

The printed table gives per recipe and dataset the modes captured (mean, min over seeds), the
high-quality percentage (mean, min), the reverse KL (mean, max) and the CPU seconds of one run
(training, process CPU time with one torch thread: comparable on a busy machine, where wall
time is not), next to the published rows of PacGAN's Table 1 (mean of 10 trials) and VEEGAN's
Table 1 (mean of 5 runs) from REFERENCE.md. Published networks, data sizes and training lengths
differ from ours (PacGAN: 4×400 G, maxout D, 400 epochs of 100k points); read them as context,
not as a like-for-like comparison. Then one line per dataset says whether the targets below are
met on every seed.

Recipes (one fixed set of hyperparameters per dataset; MLP G and D of depth 3, width 128,
z ∈ R², batch 256, for all of them). The baselines are trained as their papers train them: no
EMA generator, constant learning rates, and a fixed short budget (the machine this was measured
on has 2 shared cores); the n_critic = 1 recipes use the presets' optimiser, Adam 1e-3 (0.5, 0.9);
WGAN recipes keep their papers' optimisers and update the critic 5 times per G step, so they get
half the G steps for a similar cost:

=========  ==========================================================================  ===========
name       recipe                                                                      G steps
=========  ==========================================================================  ===========
gan        non-saturating loss, no penalty, Adam 1e-3 (0.5, 0.9)                       ring 1000, grid 2000
wgan       Wasserstein loss, weight clipping c = 0.01, RMSProp 5e-5, n_critic 5        ring 500, grid 1000
           (Arjovsky et al. 2017)
wgan_gp    Wasserstein loss, gradient penalty λ = 0.1 (the WGAN-GP authors' toy        ring 500, grid 1000
           value), Adam 1e-4 (0.5, 0.9), n_critic 5
ns_r1      non-saturating loss, R1 γ = 1, Adam 1e-3 (0.5, 0.9)                          ring 1000, grid 2000
hinge_sn   hinge loss, spectral normalisation in D, Adam 1e-3 (0.5, 0.9)               ring 1000, grid 2000
gancore    ``gancore.presets.config_for(data)``: what ``gancore train --data ring``    see presets.py
           trains (EMA generator, learning-rate decay; values in gancore/presets.py)
gancore_   ``config_for(data, quick=True)``: the short recipe the book's chapters         ring 3000,
quick      train (the previous round's preset)                                         grid 6000
gancore_   the quick preset with steps=12000, batch_size=512 (the previous round's      12000
long       candidate)
=========  ==========================================================================  ===========

``--csv PATH`` keeps every run's row; with ``--reuse`` the rows already in PATH whose recipe
(a hash of the full configuration) and seed match are not trained again, so an interrupted
benchmark continues where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import gancore
from gancore import sweep as sw
from gancore.presets import TARGETS, meets_target
from gancore.train import TrainConfig

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tune_presets import parse_overrides, parse_seeds  # noqa: E402

DATASETS = ("ring", "grid")
BASE = dict(hidden=128, z_dim=2, batch_size=256, ema=0.0, device="cpu", log_every=100)
G_STEPS = {"ring": 1000, "grid": 2000}  # generator steps of the n_critic = 1 baselines; WGANs get half

ADAM = dict(lr_g=1e-3, lr_d=1e-3, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9))  # the presets' optimiser

RECIPES = {  # name -> (label, TrainConfig fields without data/steps, fraction of G_STEPS)
    "gan": ("GAN (non-saturating)", dict(loss="nonsaturating", penalty="none", **ADAM), 1.0),
    "wgan": ("WGAN (clip 0.01, RMSProp)", dict(loss="wasserstein", penalty="clip", penalty_weight=0.01, n_critic=5,
                                              optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5), 0.5),
    "wgan_gp": ("WGAN-GP (λ=0.1)", dict(loss="wasserstein", penalty="gp", penalty_weight=0.1, n_critic=5,
                                       lr_g=1e-4, lr_d=1e-4, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9)), 0.5),
    "ns_r1": ("NS + R1 (γ=1)", dict(loss="nonsaturating", penalty="r1", penalty_weight=1.0, **ADAM), 1.0),
    "hinge_sn": ("hinge + SN", dict(loss="hinge", penalty="none", spectral_norm=True, **ADAM), 1.0),
    "gancore": ("gancore preset", None, None),
    "gancore_quick": ("gancore quick (book) preset", None, None),
    "gancore_long": ("quick preset, 12k steps, batch 512", None, None),
}
#: Preset recipes: keyword arguments of ``config_for(data)``. gancore_long was the candidate of
#: the previous round: the quick preset's γ and learning rate with a longer, larger-batch run.
PRESET_OVERRIDES = {"gancore": {}, "gancore_quick": dict(quick=True), "gancore_long": dict(quick=True, steps=12000, batch_size=512)}

#: Published rows (REFERENCE.md §1): (method, source, ring modes, ring %HQ, ring rKL, grid modes, grid %HQ, grid rKL).
PUBLISHED = [
    ("GAN", "PacGAN T1", 6.3, 98.2, 0.45, 17.3, 94.8, 0.70),
    ("ALI", "PacGAN T1", 6.6, 97.6, 0.36, 24.1, 95.7, 0.14),
    ("PacGAN2", "PacGAN T1", 7.9, 95.6, 0.07, 23.8, 91.3, 0.13),
    ("PacGAN3", "PacGAN T1", 7.8, 97.7, 0.10, 24.6, 94.2, 0.06),
    ("PacGAN4", "PacGAN T1", 7.8, 95.9, 0.07, 24.8, 93.6, 0.04),
    ("GAN", "VEEGAN T1", 1, 99.3, None, 3.3, 0.5, None),
    ("ALI", "VEEGAN T1", 2.8, 0.13, None, 15.8, 1.6, None),
    ("Unrolled GAN", "VEEGAN T1", 7.6, 35.6, None, 23.6, 16, None),
    ("VEEGAN", "VEEGAN T1", 8, 52.9, None, 24.6, 40, None),
]


def recipe(name: str, data: str, quick: bool = False, preset_overrides: dict | None = None) -> TrainConfig:
    """The TrainConfig of recipe ``name`` on ``data`` (seed 0; the sweep sets the seed);
    ``preset_overrides`` change the gancore preset (to try a candidate before it is the preset)."""
    label, fields, fraction = RECIPES[name]
    if fields is None:
        config = gancore.config_for(data, **{"device": "cpu", "log_every": 100, **PRESET_OVERRIDES[name],
                                             **(preset_overrides or {})})
    else:
        config = TrainConfig(data=data, steps=int(G_STEPS[data] * fraction), **BASE, **fields)
    if quick:
        config = dataclasses.replace(config, steps=max(10, config.steps // 100), log_every=10)
    return config.validate()


#: TrainConfig fields added after rows were stored, with the value every earlier run had: left
#: out of the hash at that value, so the stored rows keep matching their recipes.
LATER_FIELDS = {"penalty_every": 1}


def signature(config: TrainConfig) -> str:
    """A short hash of every field that changes the result (not seed, device, logging)."""
    fields = {k: v for k, v in config.to_dict().items() if k not in ("seed", "device", "log_every", "checkpoint_every", "amp", "compile")
              and not (k in LATER_FIELDS and v == LATER_FIELDS[k])}
    return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]


def passes(row: dict) -> bool:
    return not row["diverged"] and meets_target(row["data"], row["modes"], row["high_quality"], row["reverse_kl"])


def _fmt(x, spec: str, scale: float = 1.0) -> str:
    return "–" if x is None or x != x else format(x * scale, spec)


def table(rows: list[dict], datasets, names, seeds_text: str) -> str:
    """The markdown table and the per-dataset target lines."""
    lines = [
        "| data | recipe | source | G steps | seeds | modes mean | modes min | HQ % mean | HQ % min | rKL mean | rKL max | CPU s/run |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for data in datasets:
        for name in names:
            mine = [r for r in rows if r["data"] == data and r["config"] == name]
            if not mine:
                continue
            (s,) = sw.summarise(mine, by=["data", "config"])
            lines.append(
                f"| {data} | {RECIPES[name][0]} | measured | {mine[0]['steps']} | {s['runs']} | {s['modes_mean']:.1f} | "
                f"{s['modes_min']:.0f} | {_fmt(s['high_quality_mean'], '.1f', 100)} | {_fmt(s['high_quality_min'], '.1f', 100)} | "
                f"{_fmt(s['reverse_kl_mean'], '.3f')} | {_fmt(s['reverse_kl_max'], '.3f')} | {s['cpu_seconds_mean']:.0f} |")
        col = 2 if data == "ring" else 5
        for method, source, *vals in PUBLISHED:
            modes, hq, rkl = vals[col - 2: col + 1]
            lines.append(f"| {data} | {method} | published, {source} | – | {10 if source.startswith('PacGAN') else 5} | "
                         f"{modes:g} | – | {hq:g} | – | {_fmt(rkl, 'g')} | – | – |")
        modes, hq, rkl = TARGETS[data]
        met = []
        for name in names:
            mine = [r for r in rows if r["data"] == data and r["config"] == name]
            if mine:
                ok = sum(passes(r) for r in mine)
                met.append(f"{name} {ok}/{len(mine)}")
        verdicts.append(f"{data}: target {modes}/{modes} modes, HQ ≥ {100 * hq:g}%, rKL ≤ {rkl:g} on every seed "
                        f"(seeds {seeds_text}) — seeds meeting it: {', '.join(met)}")
    return "\n".join(lines + [""] + verdicts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--configs", nargs="+", default=list(RECIPES), choices=list(RECIPES), metavar="NAME",
                        help=f"recipes ({', '.join(RECIPES)})")
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,5 (default 0-9)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, in worker processes with 1 thread each")
    parser.add_argument("--csv", type=Path, help="write every run's row here")
    parser.add_argument("--md", type=Path, help="write the printed table here as well")
    parser.add_argument("--reuse", action="store_true", help="skip runs already in --csv (same recipe hash and seed)")
    parser.add_argument("--quick", action="store_true", help="smoke run: seed 0 and 1/100 of the steps")
    parser.add_argument("--set", nargs="*", default=[], metavar="[DATA:]FIELD=VALUE",
                        help="TrainConfig overrides of the gancore preset, e.g. ring:steps=12000 (a candidate; the table says so)")
    parser.add_argument("--table-only", action="store_true",
                        help="train nothing: print the table of the rows in --csv that match the recipes and seeds")
    args = parser.parse_args(argv)
    seeds_text = "0" if args.quick and args.seeds == "0-9" else args.seeds
    seeds = parse_seeds(seeds_text)
    n_eval = 500 if args.quick else 2500
    if args.table_only and not (args.csv and args.csv.exists()):
        parser.error("--table-only needs an existing --csv")
    old = sw.read_csv(args.csv) if (args.reuse or args.table_only) and args.csv and args.csv.exists() else []
    start = time.perf_counter()
    print(f"gancore {gancore.__version__}, {args.jobs} job(s) × 1 thread, seeds {seeds_text}, "
          f"load average {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    rows = []
    for data in args.data:
        for name in args.configs:
            overrides = [item.partition(":")[2] if ":" in item.split("=")[0] else item for item in args.set
                    if ":" not in item.split("=")[0] or item.startswith(data + ":")]
            config = recipe(name, data, args.quick, parse_overrides(overrides))
            sig = signature(config)
            done = {r["seed"]: r for r in old if r["data"] == data and r["config"] == name and r["signature"] == sig}
            todo = [] if args.table_only else [s for s in seeds if s not in done]
            new = sw.sweep({name: config}, todo, n_eval=n_eval, jobs=args.jobs, threads=1, progress=False) if todo else []
            for r in new:
                rows.append({"data": data, "config": name, "signature": sig, "steps": config.steps,
                             **{k: r[k] for k in ("seed", *sw.METRICS)}})
            rows.extend(done[s] for s in seeds if s in done)
            rows.sort(key=lambda r: (args.data.index(r["data"]), args.configs.index(r["config"]), r["seed"]))
            mine = [r for r in rows if r["data"] == data and r["config"] == name]
            if mine:
                print(f"  {data} {name}: {len(new)} trained, {len(mine) - len(new)} reused, worst HQ "
                      f"{100 * min(r['high_quality'] for r in mine):.1f}%, {time.perf_counter() - start:.0f} s so far",
                      file=sys.stderr, flush=True)
            if args.csv and not args.table_only:  # after every recipe, so an interrupted benchmark keeps what it measured
                # rows of other recipes, and of earlier versions of this one (another signature), stay
                measured = {(x["data"], x["config"], x["signature"], x["seed"]) for x in rows}
                keep = [r for r in old if (r["data"], r["config"], r["signature"], r["seed"]) not in measured]
                args.csv.parent.mkdir(parents=True, exist_ok=True)
                args.csv.write_text(sw.to_csv(keep + rows))
    text = table(rows, args.data, args.configs, seeds_text)
    if args.set:
        text += f"\n(gancore preset with overrides {' '.join(args.set)})"
    print(text)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        command = "python benchmarks/mixtures.py " + " ".join(argv if argv is not None else sys.argv[1:])
        how = (f"Printed by `{command}` from the runs stored in {args.csv.name}, which were measured with "
               f"`python benchmarks/mixtures.py --jobs 2 --csv {args.csv} --reuse`" if args.table_only
               else f"Produced by `{command}`")
        args.md.write_text(f"# 2-D mixture benchmark\n\n{how} (CPU seconds: one torch thread per run).\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
