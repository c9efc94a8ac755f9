"""Tools of the Stability chapter: snapshots over training, spectral norms, EMA, success grids.

* :class:`Snapshots` is an ``on_log`` callback for :func:`~gancore.train.fit` that keeps a fixed
  set of generated samples every few log intervals, so a run can be replayed step by step
  (``plotting.plot_snapshots``, ``plotting.snapshot_widget``) and scored per step
  (:meth:`Snapshots.mode_table`).
* :func:`spectral_norms` gives the largest singular value of every linear and convolution layer
  of a network, as the layer actually applies its weight (after spectral normalisation, if any).
* :func:`ema_effect` scores the raw generator and its exponential moving average from one run.
* :func:`tied` changes a :class:`~gancore.train.TrainConfig` with shorthands that set both
  networks at once (``lr``, ``beta1``, ``beta2``), for sweeps in the style of Lucic et al. (2018).
* :func:`success_grid` turns the rows of :func:`gancore.sweep.sweep` into a two-way table of
  success rates (a :class:`SuccessGrid`), the input of ``plotting.plot_success_grids``.
* :func:`critical_gamma` finds, by bisection on the Jacobian of a Dirac-GAN game
  (:mod:`gancore.dirac`), the regulariser weight at which its eigenvalues turn real.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from . import dirac, metrics
from .sweep import all_modes
from .train import Run, TrainConfig

__all__ = [
    "Snapshots",
    "spectral_norms",
    "ema_effect",
    "tied",
    "SuccessGrid",
    "success_grid",
    "critical_gamma",
]


class Snapshots:
    """An ``on_log`` callback for :func:`~gancore.train.fit` that keeps generated samples.

    Every ``every``-th call (one call per ``config.log_every`` training steps) stores
    ``n`` samples drawn with the *same* noise (``seed``) under the current step, so the
    snapshots differ only by what the generator learned in between. ``ema=False`` (the default)
    samples the raw generator G, whose oscillations are what a snapshot series is meant to show;
    ``ema=True`` samples the EMA generator when the run has one.

    ``snapshots.samples`` is the ``{step: Tensor[n, 2]}`` dict (CPU tensors), in step order.
    """

    def __init__(self, n: int = 1000, *, every: int = 1, seed: int = 0, ema: bool = False):
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not isinstance(every, int) or isinstance(every, bool) or every <= 0:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.n, self.every, self.seed, self.ema = n, every, seed, ema
        self.samples: dict[int, Tensor] = {}
        self._calls = 0

    def __call__(self, run: Run) -> None:
        self._calls += 1
        if self._calls % self.every == 0:
            self.add(run.step, run.sample(self.n, seed=self.seed, ema=self.ema))

    def add(self, step: int, samples: Tensor) -> None:
        """Store ``samples`` (moved to the CPU) under ``step``; e.g. the untrained generator at step 0."""
        self.samples[int(step)] = samples.detach().float().cpu()

    @property
    def steps(self) -> list[int]:
        """The recorded steps, in increasing order."""
        return sorted(self.samples)

    def select(self, count: int) -> dict[int, Tensor]:
        """About ``count`` snapshots evenly spread over the recorded steps, the last one included."""
        steps = self.steps
        if count <= 0 or not steps:
            return {}
        if count >= len(steps):
            return {s: self.samples[s] for s in steps}
        picks = sorted({steps[round(i * (len(steps) - 1) / (count - 1))] for i in range(count)}) if count > 1 else [steps[-1]]
        return {s: self.samples[s] for s in picks}

    def mode_table(self, data) -> list[dict]:
        """One row per snapshot: ``step``, ``modes``, ``high_quality``, ``reverse_kl`` on mixture ``data``."""
        rows = []
        for step in self.steps:
            stats = metrics.mode_stats(self.samples[step], data.centers, data.std)
            rows.append({"step": step, "modes": stats.modes, "high_quality": stats.high_quality,
                         "reverse_kl": stats.reverse_kl})
        return rows


_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


@torch.no_grad()
def spectral_norms(module: nn.Module) -> dict[str, float]:
    """The largest singular value σ(W) of every linear and convolution layer, by layer name.

    W is the weight the layer applies: for a layer wrapped with
    ``torch.nn.utils.parametrizations.spectral_norm`` that is W/σ̂ with σ̂ the power-iteration
    estimate stored in the layer (read without running another iteration), so a well-converged
    estimate gives σ(W) ≈ 1. A convolution's weight is reshaped to a matrix
    [out_channels, in_channels·kernel] as spectral normalisation does (Miyato et al. 2018); this
    bounds, but is not equal to, the operator norm of the convolution. Computed exactly with an
    SVD, in float64.
    """
    out = {}
    was_training = module.training
    module.eval()  # a parametrized weight read in training mode would run a power iteration
    try:
        for name, layer in module.named_modules():
            if isinstance(layer, _WEIGHTED):
                weight = layer.weight.detach().double()
                out[name] = float(torch.linalg.matrix_norm(weight.flatten(1), ord=2))
    finally:
        module.train(was_training)
    return out


def ema_effect(run: Run, data, *, n: int = 2500, seed: int = 12345) -> dict[str, metrics.ModeStats]:
    """:func:`~gancore.metrics.mode_stats` of the raw generator (``"G"``) and the EMA generator
    (``"G_ema"``) of one run, both from the same ``n`` noise vectors (``seed``)."""
    if run.G_ema is None:
        raise ValueError("this run has no EMA generator (config.ema was 0)")
    return {
        "G": metrics.mode_stats(run.sample(n, seed=seed, ema=False), data.centers, data.std),
        "G_ema": metrics.mode_stats(run.sample(n, seed=seed, ema=True), data.centers, data.std),
    }


def tied(config: TrainConfig, **changes) -> TrainConfig:
    """``dataclasses.replace(config, **changes)`` where ``lr``, ``beta1`` and ``beta2`` set the
    value for both networks: ``lr`` → ``lr_g`` and ``lr_d``; ``beta1``/``beta2`` → the first/second
    entry of ``betas_g`` and ``betas_d``. Other names are TrainConfig fields.

    ``[tied(base, **point) for point in sweep.grid(lr=[1e-4, 1e-3], beta1=[0.0, 0.5])]`` builds
    the configurations of a learning-rate × β₁ grid.
    """
    changes = dict(changes)
    fields = {}
    if "lr" in changes:
        lr = changes.pop("lr")
        fields.update(lr_g=lr, lr_d=lr)
    betas_g, betas_d = list(changes.pop("betas_g", config.betas_g)), list(changes.pop("betas_d", config.betas_d))
    for i, name in enumerate(("beta1", "beta2")):
        if name in changes:
            betas_g[i] = betas_d[i] = changes.pop(name)
    fields.update(betas_g=tuple(betas_g), betas_d=tuple(betas_d))
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(changes) - names
    if unknown:
        raise TypeError(f"unknown TrainConfig field(s): {', '.join(sorted(unknown))}")
    return dataclasses.replace(config, **fields, **changes)


@dataclass(frozen=True)
class SuccessGrid:
    """A two-way table of success rates: ``rates[i][j]`` is the fraction of runs with
    ``index_values[i]`` and ``column_values[j]`` that succeeded, out of ``runs[i][j]`` runs
    (NaN and 0 where there were none). ``means[i][j]`` is the mean of the ``value`` column over
    the same runs when :func:`success_grid` was given one (e.g. the modes captured), else None."""

    index_name: str
    column_name: str
    index_values: tuple
    column_values: tuple
    rates: tuple[tuple[float, ...], ...]
    runs: tuple[tuple[int, ...], ...]
    value_name: str | None = None
    means: tuple[tuple[float, ...], ...] | None = None

    @property
    def overall(self) -> float:
        """Success rate over all runs of the table."""
        total = sum(map(sum, self.runs))
        if total == 0:
            return math.nan
        return sum(r * n for row_r, row_n in zip(self.rates, self.runs) for r, n in zip(row_r, row_n) if n) / total

    def rows(self) -> list[dict]:
        """The table as records ``{index_name: value, column_name: value, "success_rate": r, "runs": n}``."""
        out = []
        for i, iv in enumerate(self.index_values):
            for j, cv in enumerate(self.column_values):
                row = {self.index_name: iv, self.column_name: cv, "success_rate": self.rates[i][j], "runs": self.runs[i][j]}
                if self.means is not None:
                    row[f"{self.value_name}_mean"] = self.means[i][j]
                out.append(row)
        return out


def _getter(key) -> tuple[str, Callable[[Mapping], object]]:
    if callable(key):
        return getattr(key, "__name__", "value"), key
    return str(key), lambda row: row[key]


def success_grid(
    rows: Sequence[Mapping],
    index,
    columns,
    *,
    success: Callable[[Mapping], bool] = all_modes,
    where: Callable[[Mapping], bool] | None = None,
    names: tuple[str, str] | None = None,
    value=None,
) -> SuccessGrid:
    """Success rate of :func:`gancore.sweep.sweep` rows by two keys.

    ``index`` and ``columns`` are row columns (e.g. ``"lr_g"``) or functions of a row (e.g.
    ``lambda r: r["betas_g"][0]``); their distinct values, sorted, label the table's rows and
    columns. ``success`` decides whether one run succeeded (default: every mode captured,
    :func:`gancore.sweep.all_modes`); ``where`` keeps only the rows for which it is true (one
    panel of a faceted study, e.g. one loss). ``names`` overrides the two axis names (by default
    the column names, or the functions' ``__name__``). ``value`` (a column or a function of a row,
    e.g. ``"modes"``) adds the per-cell mean of that value as ``means``; missing and non-finite
    values are skipped.
    """
    index_name, index_of = _getter(index)
    column_name, column_of = _getter(columns)
    if names is not None:
        index_name, column_name = names
    kept = [r for r in rows if where is None or where(r)]
    cells: dict[tuple, list[bool]] = {}
    values: dict[tuple, list[float]] = {}
    value_name, value_of = _getter(value) if value is not None else (None, None)
    for r in kept:
        key = (index_of(r), column_of(r))
        cells.setdefault(key, []).append(bool(success(r)))
        if value_of is not None:
            v = value_of(r)
            if v is not None and math.isfinite(float(v)):
                values.setdefault(key, []).append(float(v))
    index_values = tuple(sorted({k[0] for k in cells}))
    column_values = tuple(sorted({k[1] for k in cells}))
    rates, runs = [], []
    for iv in index_values:
        rate_row, run_row = [], []
        for cv in column_values:
            outcomes = cells.get((iv, cv), [])
            run_row.append(len(outcomes))
            rate_row.append(sum(outcomes) / len(outcomes) if outcomes else math.nan)
        rates.append(tuple(rate_row))
        runs.append(tuple(run_row))
    means = None
    if value_of is not None:
        means = tuple(
            tuple(sum(v) / len(v) if (v := values.get((iv, cv))) else math.nan for cv in column_values)
            for iv in index_values
        )
    return SuccessGrid(index_name, column_name, index_values, column_values, tuple(rates), tuple(runs), value_name, means)


def critical_gamma(name: str = "r1", *, lo: float = 0.0, hi: float = 10.0, tol: float = 1e-10, **params) -> float:
    """The smallest regulariser weight γ at which the eigenvalues of the Dirac-GAN Jacobian at the
    equilibrium become real, found by bisection on :func:`gancore.dirac.jacobian_eigenvalues`.

    Below it the linearised dynamics spiral into the equilibrium (complex eigenvalues with
    negative real part), above it they approach it without turning. For ``r1`` the closed form
    is γ* = 2f′(0) = 1; for ``wgan_gp`` with g₀ = 0 it is 2. ``params`` go to the game (e.g.
    ``g0=0``). Raises ValueError if the eigenvalues are not complex at ``lo`` and real at ``hi``.
    """

    def is_real(gamma: float) -> bool:
        eig = dirac.jacobian_eigenvalues(name, gamma=gamma, **params)
        return bool(abs(eig[0].imag) <= 1e-15 and abs(eig[1].imag) <= 1e-15)

    if is_real(lo) or not is_real(hi):
        raise ValueError(f"the eigenvalues of {name!r} must be complex at γ = {lo} and real at γ = {hi}")
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if is_real(mid):
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2
