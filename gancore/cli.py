"""The ``gancore`` command: ``train``, ``sample`` and ``eval``.

Bad input exits with status 2 and one line on stderr; a diverged run exits with status 1,
keeping its last good checkpoint.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from .errors import ConfigError, GancoreError, TrainingDiverged, TrainingInterrupted

# flag → TrainConfig field, with the type argparse converts to
TRAIN_FLAGS = {
    "data": str, "loss": str, "penalty": str, "penalty_weight": float, "penalty_every": int, "n_critic": int, "steps": int,
    "batch_size": int, "hidden": int, "z_dim": int, "lr_g": float, "lr_d": float, "lr_decay": float, "seed": int,
    "device": str, "ema": float, "augment": str, "checkpoint_every": int,
}
# on/off flags → TrainConfig fields
TRAIN_SWITCHES = {
    "skip_nonfinite": "skip updates whose loss or gradient is NaN/inf (counted in the history) instead of stopping",
    "compile": "run the networks through torch.compile (helps on GPUs; slower on small CPU models)",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line (no usage block) with exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


_finite_float.__name__ = "float"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gancore", description="Train, sample and evaluate GANs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a GAN (or resume one)")
    for name, typ in TRAIN_FLAGS.items():
        train.add_argument("--" + name.replace("_", "-"), dest=name, type=_finite_float if typ is float else typ, default=None)
    for name, text in TRAIN_SWITCHES.items():
        train.add_argument("--" + name.replace("_", "-"), dest=name, action="store_const", const=True, default=None, help=text)
    train.add_argument("--quick", action="store_true",
                       help="start from the dataset's short preset (the one the book trains; ring and grid) instead of the best one")
    train.add_argument("--out", type=Path, help="run directory to create")
    train.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR up to --steps in total")
    train.add_argument("--data-root", type=Path, default=Path("data"), help="where image datasets live")
    train.add_argument("--download", action="store_true", help="download image datasets that are missing")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    sample = sub.add_parser("sample", help="draw samples from a trained run into a .npy file")
    sample.add_argument("--run", type=Path, required=True)
    sample.add_argument("--n", type=int, default=2500)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--no-ema", action="store_true", help="sample the raw generator, not its EMA")

    ev = sub.add_parser("eval", help="print one JSON object of metrics for a trained run")
    ev.add_argument("--run", type=Path, required=True)
    ev.add_argument("--n", type=int, default=2500)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--no-ema", action="store_true")
    return parser


def _train(args) -> int:
    from . import distributed
    from .data import load_dataset
    from .presets import config_for
    from .train import build_models, data_shape, fit

    given = {k: getattr(args, k) for k in [*TRAIN_FLAGS, *TRAIN_SWITCHES] if getattr(args, k) is not None}
    # under torchrun every process runs this command; join the process group before anything
    # else so that all processes check the same run directory before any of them writes to it
    distributed.init(given.get("device", "auto"))
    if args.resume is not None:
        if args.out is not None:
            raise ConfigError("give either --out (a new run) or --resume (an existing one), not both")
        if args.quick:
            raise ConfigError("--quick picks a preset for a new run; a resumed run keeps its own configuration")
        config = _resume_config(args.resume, given)
        run_dir = args.resume
    else:
        if args.out is None:
            raise ConfigError("--out DIR is required (or --resume DIR)")
        if (args.out / "checkpoint.pt").exists():
            raise ConfigError(f"{args.out} already holds a run; use --resume {args.out} to continue it")
        config = config_for(given.pop("data", "ring"), quick=args.quick, **given)
        run_dir = args.out
    config.validate()
    data = load_dataset(config.data, root=args.data_root, download=args.download)
    G, D = build_models(config, data_shape(data))
    start = time.perf_counter()
    run = fit(G, D, data, config, run_dir=run_dir, resume=args.resume is not None, progress=not args.quiet)
    seconds = time.perf_counter() - start
    if distributed.is_main():
        where = f" on {distributed.world_size()} processes" if distributed.world_size() > 1 else ""
        print(f"trained {config.data} to step {run.step}{where} in {seconds:.1f} s; run saved in {run_dir}")
    return 0


def _resume_config(run_dir: Path, given: dict):
    """The run's saved configuration with the given flags applied; flags that a resume may not
    change are refused by the same check that :func:`gancore.train.fit` applies."""
    import dataclasses

    from .checkpoint import CHECKPOINT, load_checkpoint
    from .errors import CheckpointError
    from .train import TrainConfig, check_resumable

    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist")
    saved = TrainConfig.from_dict(load_checkpoint(run_dir / CHECKPOINT)["config"])
    config = dataclasses.replace(saved, **given)
    check_resumable(saved, config)
    return config


def _positive(name: str, n: int) -> None:
    if n <= 0:
        raise ConfigError(f"--{name} must be a positive integer, got {n}")


def _sample(args) -> int:
    import numpy as np

    from .train import load_run

    _positive("n", args.n)
    if args.out.suffix != ".npy":
        raise ConfigError(f"--out must end in .npy, got {args.out}")
    run = load_run(args.run)
    samples = run.sample(args.n, seed=args.seed, ema=not args.no_ema).numpy()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, samples)
    print(f"wrote {args.n} samples of shape {tuple(samples.shape[1:])} to {args.out}")
    return 0


def _eval(args) -> int:
    from .data import GaussianMixture, load_dataset
    from .metrics import mode_stats, sliced_wasserstein
    from .train import load_run

    _positive("n", args.n)
    run = load_run(args.run)
    fake = run.sample(args.n, seed=args.seed, ema=not args.no_ema)
    result = {"data": run.config.data, "step": run.step, "n": args.n, "ema": not args.no_ema}
    data = load_dataset(run.config.data) if run.shape == (2,) else None
    if isinstance(data, GaussianMixture):
        result.update(mode_stats(fake, data.centers, data.std).as_dict())
    if data is not None:
        import torch

        real = data.sample(args.n, generator=torch.Generator().manual_seed(args.seed + 1))
        result["sliced_wasserstein"] = sliced_wasserstein(real, fake)
    print(json.dumps(result))
    return 0


COMMANDS = {"train": _train, "sample": _sample, "eval": _eval}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except GancoreError as err:
        print(f"gancore {args.command}: error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"gancore {args.command}: {err}; the last good checkpoint is kept", file=sys.stderr)
        return 1
    except TrainingInterrupted as err:
        hint = f"; resume with: gancore train --resume {err.run_dir} --steps N" if err.run_dir is not None else ""
        print(f"gancore {args.command}: {err}{hint}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"gancore {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
