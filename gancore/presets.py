"""The best known configuration per dataset: what ``gancore train --data NAME`` trains.

Each preset was chosen by measurement (see ``benchmarks/`` and the README); fields not named
here keep :class:`~gancore.train.TrainConfig`'s defaults.
"""

from __future__ import annotations

from .data import TOY_DATASETS
from .errors import DataError
from .train import DEFAULT_PENALTY_WEIGHT, TrainConfig

__all__ = ["PRESETS", "QUICK", "TARGETS", "PACGAN4", "config_for", "meets_target", "default_penalty_weight"]

# ring/grid: the winners of the 2-D mixture benchmark (benchmarks/mixtures.py, recipe "gancore",
# 10 seeds; table in the README and benchmarks/results/mixtures.md): every seed captures every
# mode with HQ ≥ 98% (ring: 98.6-99.6%) or ≥ 95% (grid: 95.4-97.9%). What mattered, measured on
# single seeds with 50 000 samples before the 10-seed runs: a small R1 weight (ring γ = 0.01: the
# share of samples bridging two modes fell from 1.1% to 0.7% against γ = 0.1), a large learning
# rate decayed to 0 over the second half of training (3e-3-4e-3; 1e-3 left more bridges), a batch
# of 512 and a long run. Rejected by the 10-seed runs: ring lr 3e-3 with 16 000 steps (9/10 seeds),
# grid with 12 000 steps (9/10). A wider latent (z ∈ R⁸) was worse. On two CPU threads a ring
# run takes about 90 s, a grid run about 110 s.
PRESETS: dict[str, dict] = {
    "ring": dict(loss="nonsaturating", penalty="r1", penalty_weight=0.01, steps=12000, batch_size=512, hidden=128, z_dim=2,
                 lr_g=4e-3, lr_d=4e-3, lr_decay=0.5, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9), ema=0.999),
    "grid": dict(loss="nonsaturating", penalty="r1", penalty_weight=0.1, steps=16000, batch_size=512, hidden=128, z_dim=2,
                 lr_g=3e-3, lr_d=3e-3, lr_decay=0.5, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9), ema=0.999),
    "swissroll": dict(loss="nonsaturating", penalty="r1", penalty_weight=0.1, steps=3000, batch_size=256, hidden=128, z_dim=2,
                      lr_g=1e-3, lr_d=1e-3, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9)),
    "digits": dict(loss="nonsaturating", penalty="r1", penalty_weight=1.0, steps=2000, batch_size=64, hidden=32, z_dim=32,
                   lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), d_norm="layer"),
}
for _name in ("mnist", "fashion-mnist", "cifar10"):
    PRESETS[_name] = dict(PRESETS["digits"], hidden=64, z_dim=64, steps=10000)

#: Short recipes (``config_for(data, quick=True)``, ``gancore train --quick``): the presets of
#: the previous benchmark round, 4-6× cheaper (ring ~20 s, grid ~40 s on one thread). The book's
#: chapters train these to stay within 3 minutes each. Measured over seeds 0-9: every seed
#: captures all modes with reverse KL < 0.01; high quality 94.5-96.1% (ring) and 86-93% (grid).
QUICK: dict[str, dict] = {
    "ring": dict(penalty_weight=0.1, steps=3000, batch_size=256, lr_g=1e-3, lr_d=1e-3),
    "grid": dict(penalty_weight=1.0, steps=6000, batch_size=256, lr_g=2e-3, lr_d=2e-3),
}


#: The 2-D mixture benchmark's bar (GUIDE §5 measures), required of the ring and grid presets on
#: every seed: (modes captured, high-quality fraction at least, reverse KL at most).
TARGETS: dict[str, tuple[int, float, float]] = {"ring": (8, 0.98, 0.02), "grid": (25, 0.95, 0.03)}


#: PacGAN4's published means as the same kind of bar (Lin et al. 2018, Table 1; REFERENCE.md):
#: every mode captured on the run, high quality and reverse KL at least as good as its means.
PACGAN4: dict[str, tuple[int, float, float]] = {"ring": (8, 0.959, 0.07), "grid": (25, 0.936, 0.04)}


def meets_target(data: str, modes: float, high_quality: float, reverse_kl: float, *, bar: tuple | None = None) -> bool:
    """Whether one run's mode statistics on ``data`` (``"ring"`` or ``"grid"``) reach :data:`TARGETS`,
    or ``bar`` = (modes, high quality, reverse KL) when given (e.g. ``PACGAN4[data]``)."""
    want_modes, want_hq, max_rkl = bar or TARGETS[data]
    return modes >= want_modes and high_quality >= want_hq and reverse_kl <= max_rkl


#: Standard penalty weights on the 2-D toy data. The WGAN-GP authors' toy code uses λ = 0.1
#: ("a smaller λ is faster for toy tasks"); measured here with the ring preset and
#: ``loss="wasserstein"``: λ = 10 captured 0/8 modes, λ = 0.1 and λ = 1 captured 8/8 (seeds 0, 1).
TOY_PENALTY_WEIGHT = dict(DEFAULT_PENALTY_WEIGHT, gp=0.1, gp_one_sided=0.1)


def default_penalty_weight(data: str, penalty: str) -> float | None:
    """The weight a penalty gets on ``data`` when none is given: λ = 0.1 for GP on the 2-D toy
    sets and 10 on images, γ = 1 for R1/R2, c = 0.01 for clipping."""
    table = TOY_PENALTY_WEIGHT if data in TOY_DATASETS else DEFAULT_PENALTY_WEIGHT
    return table.get(penalty)


def config_for(data: str, *, quick: bool = False, **overrides) -> TrainConfig:
    """The preset for ``data`` with ``overrides`` applied (names as in TrainConfig).

    ``quick=True`` takes the short recipe of :data:`QUICK` instead, where ``data`` has one (the
    other datasets' presets are short already).

    Changing ``penalty`` without giving ``penalty_weight`` takes that penalty's standard
    weight on this data (:func:`default_penalty_weight`), not the preset's.
    """
    if data not in PRESETS:
        raise DataError(f"unknown dataset {data!r}; choose one of {', '.join(PRESETS)}")
    fields = dict(PRESETS[data], **(QUICK.get(data, {}) if quick else {}), data=data)
    if "penalty" in overrides and "penalty_weight" not in overrides and overrides["penalty"] != fields.get("penalty"):
        fields["penalty_weight"] = default_penalty_weight(data, overrides["penalty"])
    fields.update(overrides)
    return TrainConfig(**fields)
