"""Hyperparameter sweeps: train a grid of configurations × seeds and tabulate the results.

* :func:`grid` expands axes into the Cartesian product of their values (a list of dicts);
  ``[dataclasses.replace(base, **point) for point in grid(lr_d=[1e-4, 4e-4], n_critic=[1, 5])]``
  turns it into :class:`~gancore.train.TrainConfig` objects.
* :func:`sweep` validates every configuration first, then trains each configuration with each
  seed behind one progress bar, evaluates it and returns one row (a dict) per run; ``jobs=N``
  trains N runs at once in worker processes (one torch thread each by default) and gives the
  same rows, since every run is seeded.
* :func:`summarise` groups the rows by configuration: mean and min of the modes captured and of
  the high-quality fraction, mean and max of the reverse KL, mean sliced Wasserstein distance,
  wall and CPU seconds, and the success rate.

Rows are plain dicts, so ``pandas.DataFrame(rows)`` makes a table, and :func:`to_csv` /
:func:`read_csv` store and reload them without pandas.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import torch

from . import metrics
from . import train as _train
from .checkpoint import atomic_write_bytes
from .data import load_dataset
from .errors import ConfigError, TrainingDiverged
from .train import TrainConfig

__all__ = ["grid", "sweep", "summarise", "all_modes", "to_csv", "read_csv", "METRICS"]

#: Per-run result columns of :func:`sweep` (besides the configuration columns and ``seed``).
METRICS = ("modes", "num_modes", "high_quality", "reverse_kl", "sliced_wasserstein", "diverged", "seconds", "cpu_seconds")


def grid(**axes: Iterable) -> list[dict]:
    """The Cartesian product of the axes: ``grid(a=[1, 2], b="xy")`` →
    ``[{a: 1, b: "x"}, {a: 1, b: "y"}, {a: 2, b: "x"}, {a: 2, b: "y"}]`` (last axis fastest).

    No axes give ``[{}]`` (one point); an empty axis gives ``[]``.
    """
    names = list(axes)
    values = [list(v) for v in axes.values()]
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def _varying_fields(configs: Sequence[TrainConfig]) -> list[str]:
    """TrainConfig fields (except seed) whose values differ between the configurations, in field order."""
    fields = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "seed"]
    return [name for name in fields if len({repr(getattr(c, name)) for c in configs}) > 1]


def _real_samples(data, n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if isinstance(data, torch.Tensor):
        index = torch.randperm(len(data), generator=gen)[:n]
        return data[index].float().cpu()
    return data.sample(n, generator=gen).float().cpu()


def sweep(
    configs: Sequence[TrainConfig] | Mapping[str, TrainConfig],
    seeds: Iterable[int],
    *,
    data=None,
    n_eval: int = 2500,
    eval_seed: int = 12345,
    progress: bool = True,
    csv_path: str | Path | None = None,
    on_diverged: str = "record",
    jobs: int = 1,
    threads: int | None = None,
) -> list[dict]:
    """Train every configuration with every seed; one row per run, in order (config-major).

    ``configs`` is a list of :class:`~gancore.train.TrainConfig` or a ``{name: config}``
    mapping. Each run uses ``dataclasses.replace(config, seed=seed)``, builds its networks with
    :func:`~gancore.train.build_models` and trains with :func:`~gancore.train.fit` (no inner
    progress bar). All configurations are validated, and their datasets loaded, before the first
    run starts, so a bad one raises :class:`~gancore.errors.ConfigError` at once. ``data`` is a
    dataset used for every run; by default each configuration's ``config.data`` is loaded
    (:func:`~gancore.data.load_dataset`).

    Evaluation draws ``n_eval`` samples from the run (the EMA generator when there is one) with
    noise seed ``eval_seed`` and as many real samples (fixed by ``eval_seed``); image tensors
    use min(``n_eval``, len(data)) of each.

    Row fields:

    * ``config``: the mapping key, or the index of the configuration in the list;
    * every TrainConfig field whose value differs between the configurations (e.g. ``lr_d``);
    * ``seed``;
    * ``modes``, ``num_modes``, ``high_quality``, ``reverse_kl``: :func:`~gancore.metrics.mode_stats`
      for Gaussian mixtures (``None`` for other data);
    * ``sliced_wasserstein``: :func:`~gancore.metrics.sliced_wasserstein` to real samples;
    * ``diverged``: whether training stopped with :class:`~gancore.errors.TrainingDiverged`
      (with ``on_diverged="record"``, the default, such a run counts as 0 modes, 0 high quality
      and NaN distances; ``on_diverged="raise"`` re-raises);
    * ``seconds``: wall-clock seconds of building and training (not evaluating);
    * ``cpu_seconds``: CPU time of the process running the run (``time.process_time()``, all
      its threads) over the same span. Unlike wall time it hardly changes when other programs
      compete for the cores, so it is the number to compare between runs on a busy machine.

    ``jobs`` > 1 runs that many trainings at once in worker processes, each limited to
    ``threads`` torch threads (default 1, so N jobs use N cores); rows come back in the same
    order and with the same results as ``jobs=1`` (``seconds`` and ``cpu_seconds`` aside).
    With ``jobs=1`` the runs happen in this process and ``threads``, if given, sets
    ``torch.set_num_threads`` for the sweep (restored afterwards).

    With ``csv_path`` the rows are also written there (atomically) as CSV, after the last run.
    """
    if on_diverged not in ("record", "raise"):
        raise ValueError(f"on_diverged must be 'record' or 'raise', got {on_diverged!r}")
    if isinstance(configs, Mapping):
        keys, configs = list(configs.keys()), list(configs.values())
    else:
        configs = list(configs)
        keys = list(range(len(configs)))
    seeds = list(seeds)
    if not configs:
        raise ConfigError("sweep needs at least one configuration")
    if not seeds:
        raise ConfigError("sweep needs at least one seed")
    if not isinstance(n_eval, int) or isinstance(n_eval, bool) or n_eval <= 0:
        raise ConfigError(f"n_eval must be a positive integer, got {n_eval!r}")
    for name, value in (("jobs", jobs), ("threads", 1 if threads is None else threads)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    for key, config in zip(keys, configs):
        if not isinstance(config, TrainConfig):
            raise ConfigError(f"configuration {key!r} is a {type(config).__name__}, not a TrainConfig")
        for seed in seeds:
            try:
                dataclasses.replace(config, seed=seed).validate()
            except ConfigError as err:
                raise ConfigError(f"configuration {key!r} (seed {seed!r}): {err}") from None
    datasets = {}
    for config in configs:
        if data is None and config.data not in datasets:
            datasets[config.data] = load_dataset(config.data)
    varying = _varying_fields(configs)

    from tqdm.auto import tqdm

    rows, tasks = [], []
    for key, config in zip(keys, configs):
        dataset = data if data is not None else datasets[config.data]
        for seed in seeds:
            cfg = dataclasses.replace(config, seed=seed)
            rows.append({"config": key, **{name: getattr(cfg, name) for name in varying}, "seed": seed})
            tasks.append((cfg, dataset, n_eval, eval_seed, on_diverged))
    with tqdm(total=len(tasks), disable=not progress, desc="sweep", unit="run", dynamic_ncols=True) as bar:
        def done(i: int, result: dict) -> None:
            rows[i].update(result)
            bar.set_postfix_str(_postfix(rows[i]), refresh=False)
            bar.update(1)

        if jobs == 1:
            previous = torch.get_num_threads()
            if threads is not None:
                torch.set_num_threads(threads)
            try:
                for i, task in enumerate(tasks):
                    done(i, _run_one(*task))
            finally:
                torch.set_num_threads(previous)
        else:
            with ProcessPoolExecutor(min(jobs, len(tasks)), initializer=_init_worker, initargs=(threads or 1,)) as pool:
                futures = [pool.submit(_run_one_in_worker, *task) for task in tasks]
                for i, future in enumerate(futures):
                    result = future.result()
                    if "raised" in result:  # on_diverged="raise": re-raise here, not in the worker
                        raise TrainingDiverged(*result["raised"])
                    done(i, result)
    if csv_path is not None:
        atomic_write_bytes(Path(csv_path), to_csv(rows).encode())
    return rows


def _init_worker(threads: int) -> None:
    """Worker process set-up: ``threads`` torch (and OpenMP) threads."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)


def _run_one_in_worker(*task) -> dict:
    """:func:`_run_one`, with a TrainingDiverged turned into a plain result (it does not pickle)."""
    try:
        return _run_one(*task)
    except TrainingDiverged as err:
        return {"raised": (err.term, err.step, err.value)}


def _run_one(cfg, dataset, n_eval: int, eval_seed: int, on_diverged: str) -> dict:
    mixture = hasattr(dataset, "centers")
    start, cpu_start = time.perf_counter(), time.process_time()
    G, D = _train.build_models(cfg, _train.data_shape(dataset))
    try:
        run = _train.fit(G, D, dataset, cfg, progress=False)
        diverged = False
    except TrainingDiverged:
        if on_diverged == "raise":
            raise
        diverged = True
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    result = {"modes": None, "num_modes": None, "high_quality": None, "reverse_kl": None}
    if diverged:
        if mixture:
            result = {"modes": 0, "num_modes": len(dataset.centers), "high_quality": 0.0, "reverse_kl": math.nan}
        return result | {"sliced_wasserstein": math.nan, "diverged": True, "seconds": seconds, "cpu_seconds": cpu_seconds}
    n = n_eval if not isinstance(dataset, torch.Tensor) else min(n_eval, len(dataset))
    fake = run.sample(n, seed=eval_seed)
    if mixture:
        stats = metrics.mode_stats(fake, dataset.centers, dataset.std)
        result = {"modes": stats.modes, "num_modes": stats.num_modes,
                  "high_quality": stats.high_quality, "reverse_kl": stats.reverse_kl}
    swd = metrics.sliced_wasserstein(_real_samples(dataset, n, eval_seed), fake)
    return result | {"sliced_wasserstein": swd, "diverged": False, "seconds": seconds, "cpu_seconds": cpu_seconds}


def _postfix(row: dict) -> str:
    parts = [f"seed {row['seed']}"]
    if row.get("modes") is not None:
        parts.append(f"modes {row['modes']}/{row['num_modes']}")
    parts.append("diverged" if row.get("diverged") else f"swd {row['sliced_wasserstein']:.3f}")
    return ", ".join(parts)


def all_modes(row: Mapping) -> bool:
    """Default success criterion: the run captured every mode of the mixture."""
    return row.get("modes") is not None and row.get("num_modes") is not None and row["modes"] == row["num_modes"]


def _number(x) -> float | None:
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _mean(values) -> float:
    vals = [v for v in map(_number, values) if v is not None]
    return sum(vals) / len(vals) if vals else math.nan


def _min(values) -> float:
    vals = [v for v in map(_number, values) if v is not None]
    return min(vals) if vals else math.nan


def _max(values) -> float:
    vals = [v for v in map(_number, values) if v is not None]
    return max(vals) if vals else math.nan


def summarise(
    rows: Sequence[Mapping],
    by: Sequence[str] | None = None,
    *,
    success: Callable[[Mapping], bool] = all_modes,
) -> list[dict]:
    """One summary row per configuration, in order of first appearance.

    ``by`` names the columns that identify a configuration; by default every column that is
    neither ``seed`` nor a result column (:data:`METRICS`). Each summary row has the ``by``
    columns and:

    * ``runs``: number of rows in the group; ``diverged``: how many of them diverged;
    * ``modes_mean``, ``modes_min``: mean and minimum of ``modes``;
    * ``high_quality_mean``, ``high_quality_min``, ``reverse_kl_mean``, ``reverse_kl_max``;
    * ``sliced_wasserstein_mean``, ``seconds_mean``, ``cpu_seconds_mean`` (NaN for rows without it);
    * ``success_rate``: the fraction of runs for which ``success(row)`` is true (default
      :func:`all_modes`: every mode captured).

    Means and minima skip missing and non-finite values (a diverged run's NaN distances) and
    are NaN when nothing is left; ``modes`` of a diverged run is 0, so it does count there.
    """
    rows = list(rows)
    if by is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        by = [c for c in columns if c != "seed" and c not in METRICS]
    else:
        by = list(by)
        missing = [c for c in by if rows and any(c not in row for row in rows)]
        if missing:
            raise KeyError(f"column(s) {', '.join(map(repr, missing))} not in every row")
    groups: dict[tuple, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(tuple(_key(row.get(c)) for c in by), []).append(row)
    out = []
    for members in groups.values():
        first = members[0]
        out.append({
            **{c: first.get(c) for c in by},
            "runs": len(members),
            "diverged": sum(bool(_truthy(r.get("diverged"))) for r in members),
            "modes_mean": _mean(r.get("modes") for r in members),
            "modes_min": _min(r.get("modes") for r in members),
            "high_quality_mean": _mean(r.get("high_quality") for r in members),
            "high_quality_min": _min(r.get("high_quality") for r in members),
            "reverse_kl_mean": _mean(r.get("reverse_kl") for r in members),
            "reverse_kl_max": _max(r.get("reverse_kl") for r in members),
            "sliced_wasserstein_mean": _mean(r.get("sliced_wasserstein") for r in members),
            "seconds_mean": _mean(r.get("seconds") for r in members),
            "cpu_seconds_mean": _mean(r.get("cpu_seconds") for r in members),
            "success_rate": sum(bool(success(r)) for r in members) / len(members),
        })
    return out


def _key(value):
    """A hashable grouping key (lists from a CSV round trip become tuples)."""
    return tuple(value) if isinstance(value, list) else value


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def to_csv(rows: Sequence[Mapping]) -> str:
    """The rows as CSV text: a header of all columns (in order of first appearance), empty cells for ``None``."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


def read_csv(path: str | Path) -> list[dict]:
    """Rows written by :func:`sweep` (``csv_path``) or :func:`to_csv`, with numbers, booleans and
    ``None`` (empty cells) parsed back; other values stay strings (e.g. a tuple's text)."""
    with open(path, newline="") as f:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _parse(text: str):
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
