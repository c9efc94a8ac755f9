"""The best known configuration per dataset: what ``gancore train --data NAME`` trains.

Each preset was chosen by measurement (see ``benchmarks/`` and the README); fields not named
here keep :class:`~gancore.train.TrainConfig`'s defaults.
"""

from __future__ import annotations

from .data import TOY_DATASETS
from .errors import DataError
from .train import DEFAULT_PENALTY_WEIGHT, TrainConfig

__all__ = ["PRESETS", "config_for", "default_penalty_weight"]

# ring/grid measured with benchmarks/tune_presets.py (10 seeds; table in the README): every seed
# captures all modes with reverse KL < 0.01. With a constant learning rate high quality was
# ~94-95% (ring) and ~87-92% (grid); decaying both rates over the second half of training
# (lr_decay=0.5) stops the late oscillation and adds ~1 point on the ring at no cost. grid needs
# the larger lr, R1 γ = 1 and 6000 steps (3000 steps at lr 1e-3, γ = 0.1 left some seeds at 35%).
# A longer, larger-batch candidate (steps=12000, batch_size=512, everything else as below) was
# measured with `python benchmarks/mixtures.py --jobs 2 --csv benchmarks/results/mixtures.csv
# --reuse` (recipe gancore_long, seeds 0-9, table in benchmarks/results/mixtures.md) but is not the
# default yet, since chapters train config_for("ring"/"grid") at these defaults and it costs ~4-8x
# more per run (~150 CPU s on one thread): grid 25/25 modes, HQ 95.1-97.3%, rKL ≤ 0.007 on every
# seed (meets the 95% target); ring 8/8, HQ 97.1-98.6% (mean 98.1%, 6/10 seeds reach 98%), rKL ≤
# 0.003. What the ring still loses (~2%) are bridges between modes (seed 0: 1.5% of samples beyond
# 10σ at 12k steps, falling slowly with training: 3.9% at 2k, 2.8% at 6k).
PRESETS: dict[str, dict] = {
    "ring": dict(loss="nonsaturating", penalty="r1", penalty_weight=0.1, steps=3000, batch_size=256, hidden=128, z_dim=2,
                 lr_g=1e-3, lr_d=1e-3, lr_decay=0.5, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9), ema=0.999),
    "grid": dict(loss="nonsaturating", penalty="r1", penalty_weight=1.0, steps=6000, batch_size=256, hidden=128, z_dim=2,
                 lr_g=2e-3, lr_d=2e-3, lr_decay=0.5, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9), ema=0.999),
    "swissroll": dict(loss="nonsaturating", penalty="r1", penalty_weight=0.1, steps=3000, batch_size=256, hidden=128, z_dim=2,
                      lr_g=1e-3, lr_d=1e-3, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9)),
    "digits": dict(loss="nonsaturating", penalty="r1", penalty_weight=1.0, steps=2000, batch_size=64, hidden=32, z_dim=32,
                   lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), d_norm="layer"),
}
for _name in ("mnist", "fashion-mnist", "cifar10"):
    PRESETS[_name] = dict(PRESETS["digits"], hidden=64, z_dim=64, steps=10000)


#: Standard penalty weights on the 2-D toy data. The WGAN-GP authors' toy code uses λ = 0.1
#: ("a smaller λ is faster for toy tasks"); measured here with the ring preset and
#: ``loss="wasserstein"``: λ = 10 captured 0/8 modes, λ = 0.1 and λ = 1 captured 8/8 (seeds 0, 1).
TOY_PENALTY_WEIGHT = dict(DEFAULT_PENALTY_WEIGHT, gp=0.1, gp_one_sided=0.1)


def default_penalty_weight(data: str, penalty: str) -> float | None:
    """The weight a penalty gets on ``data`` when none is given: λ = 0.1 for GP on the 2-D toy
    sets and 10 on images, γ = 1 for R1/R2, c = 0.01 for clipping."""
    table = TOY_PENALTY_WEIGHT if data in TOY_DATASETS else DEFAULT_PENALTY_WEIGHT
    return table.get(penalty)


def config_for(data: str, **overrides) -> TrainConfig:
    """The preset for ``data`` with ``overrides`` applied (names as in TrainConfig).

    Changing ``penalty`` without giving ``penalty_weight`` takes that penalty's standard
    weight on this data (:func:`default_penalty_weight`), not the preset's.
    """
    if data not in PRESETS:
        raise DataError(f"unknown dataset {data!r}; choose one of {', '.join(PRESETS)}")
    fields = dict(PRESETS[data], data=data)
    if "penalty" in overrides and "penalty_weight" not in overrides and overrides["penalty"] != fields.get("penalty"):
        fields["penalty_weight"] = default_penalty_weight(data, overrides["penalty"])
    fields.update(overrides)
    return TrainConfig(**fields)
