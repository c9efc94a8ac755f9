"""gancore: a small, tested library for training GANs and measuring how they fail.

Submodules: :mod:`gancore.data`, :mod:`gancore.models`, :mod:`gancore.losses`,
:mod:`gancore.penalties`, :mod:`gancore.lipschitz`, :mod:`gancore.augment`, :mod:`gancore.train`, :mod:`gancore.distributed`, :mod:`gancore.presets`,
:mod:`gancore.metrics`, :mod:`gancore.features`, :mod:`gancore.overfitting`, :mod:`gancore.vae`,
:mod:`gancore.dirac`, :mod:`gancore.sweep`, :mod:`gancore.stability`, :mod:`gancore.analysis`. Plotting lives in
:mod:`gancore.plotting`, which is imported only on demand. Importing gancore loads PyTorch but no
plotting or notebook package.
"""

from . import (
    analysis,
    augment,
    data,
    dirac,
    distributed,
    features,
    lipschitz,
    losses,
    metrics,
    models,
    overfitting,
    penalties,
    presets,
    stability,
    sweep,
    train,
    vae,
)
from .augment import diffaugment
from .data import digits, toy
from .errors import CheckpointError, ConfigError, DataError, GancoreError, TrainingDiverged, TrainingInterrupted
from .losses import LOSSES
from .metrics import density_coverage, fid, kid, mode_stats, precision_recall
from .penalties import gradient_penalty, r1_penalty, r2_penalty
from .presets import config_for
from .train import Run, TrainConfig, build_models, fit, load_run

__version__ = "0.1.0"

__all__ = [
    "analysis", "augment", "data", "dirac", "distributed", "features", "lipschitz", "losses", "metrics", "models", "overfitting",
    "penalties", "presets", "stability", "sweep", "train", "vae",
    "toy", "digits", "LOSSES", "diffaugment", "gradient_penalty", "r1_penalty", "r2_penalty",
    "mode_stats", "fid", "kid", "precision_recall", "density_coverage",
    "TrainConfig", "fit", "Run", "build_models", "load_run", "config_for",
    "GancoreError", "ConfigError", "DataError", "CheckpointError", "TrainingDiverged", "TrainingInterrupted",
]
