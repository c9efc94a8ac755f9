"""The best known configuration per dataset: what ``gancore train --data NAME`` trains.

Each preset was chosen by measurement (see ``benchmarks/`` and the README); fields not named
here keep :class:`~gancore.train.TrainConfig`'s defaults.
"""

from __future__ import annotations

from .errors import DataError
from .train import DEFAULT_PENALTY_WEIGHT, TrainConfig

__all__ = ["PRESETS", "config_for"]

# ring/grid measured with benchmarks/tune_presets.py (10 seeds): every seed captures all modes with
# reverse KL < 0.01; high quality is ~94-95% (ring) and ~87-92% (grid) with the engine's constant
# learning rate. grid needs the larger lr, R1 γ = 1 and 6000 steps (3000 steps at lr 1e-3, γ = 0.1
# left some seeds at 35% high quality).
PRESETS: dict[str, dict] = {
    "ring": dict(loss="nonsaturating", penalty="r1", penalty_weight=0.1, steps=3000, batch_size=256, hidden=128, z_dim=2,
                 lr_g=1e-3, lr_d=1e-3, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9), ema=0.999),
    "grid": dict(loss="nonsaturating", penalty="r1", penalty_weight=1.0, steps=6000, batch_size=256, hidden=128, z_dim=2,
                 lr_g=2e-3, lr_d=2e-3, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9), ema=0.999),
    "swissroll": dict(loss="nonsaturating", penalty="r1", penalty_weight=0.1, steps=3000, batch_size=256, hidden=128, z_dim=2,
                      lr_g=1e-3, lr_d=1e-3, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9)),
    "digits": dict(loss="nonsaturating", penalty="r1", penalty_weight=1.0, steps=2000, batch_size=64, hidden=32, z_dim=32,
                   lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), d_norm="layer"),
}
for _name in ("mnist", "fashion-mnist", "cifar10"):
    PRESETS[_name] = dict(PRESETS["digits"], hidden=64, z_dim=64, steps=10000)


def config_for(data: str, **overrides) -> TrainConfig:
    """The preset for ``data`` with ``overrides`` applied (names as in TrainConfig).

    Changing ``penalty`` without giving ``penalty_weight`` takes that penalty's standard
    weight (λ = 10 for GP, γ = 1 for R1/R2, c = 0.01 for clipping), not the preset's.
    """
    if data not in PRESETS:
        raise DataError(f"unknown dataset {data!r}; choose one of {', '.join(PRESETS)}")
    fields = dict(PRESETS[data], data=data)
    if "penalty" in overrides and "penalty_weight" not in overrides and overrides["penalty"] != fields.get("penalty"):
        fields["penalty_weight"] = DEFAULT_PENALTY_WEIGHT.get(overrides["penalty"])
    fields.update(overrides)
    return TrainConfig(**fields)
