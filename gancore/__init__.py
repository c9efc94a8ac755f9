"""gancore: a small, tested library for training GANs and measuring how they fail.

Submodules: :mod:`gancore.data`, :mod:`gancore.models`, :mod:`gancore.losses`,
:mod:`gancore.penalties`, :mod:`gancore.train`, :mod:`gancore.metrics`, :mod:`gancore.presets`.
Importing gancore loads PyTorch but no plotting or notebook package.
"""

from . import data, losses, metrics, models, penalties, presets, train
from .data import digits, toy
from .errors import CheckpointError, ConfigError, DataError, GancoreError, TrainingDiverged
from .losses import LOSSES
from .metrics import mode_stats
from .penalties import gradient_penalty, r1_penalty, r2_penalty
from .presets import config_for
from .train import Run, TrainConfig, build_models, fit, load_run

__version__ = "0.1.0"

__all__ = [
    "data", "losses", "metrics", "models", "penalties", "presets", "train",
    "toy", "digits", "LOSSES", "mode_stats", "gradient_penalty", "r1_penalty", "r2_penalty",
    "TrainConfig", "fit", "Run", "build_models", "load_run", "config_for",
    "GancoreError", "ConfigError", "DataError", "CheckpointError", "TrainingDiverged",
]
