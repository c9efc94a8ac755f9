"""Exceptions that gancore raises for problems the user can fix.

The command-line tool turns :class:`GancoreError` into one line on stderr and exit status 2,
and :class:`TrainingDiverged` into one line and exit status 1.
"""


class GancoreError(Exception):
    """Base class of every error caused by bad input (configuration, data, checkpoint)."""


class ConfigError(GancoreError, ValueError):
    """A configuration value is unknown or out of range."""


class DataError(GancoreError):
    """A dataset could not be found or read."""


class CheckpointError(GancoreError):
    """A run directory or checkpoint is missing, truncated, foreign or incompatible."""


class RunBusy(GancoreError):
    """Another live process is training in the same run directory."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT (Ctrl-C) after saving a checkpoint of the current step."""

    def __init__(self, step: int, run_dir=None):
        self.step, self.run_dir = step, run_dir
        where = f"; checkpoint of step {step} saved in {run_dir}" if run_dir is not None else ""
        super().__init__(f"training interrupted at step {step}{where}")


class TrainingDiverged(Exception):
    """A loss, penalty or gradient norm became NaN or infinite.

    Attributes ``term`` (the history column, e.g. ``"d_loss"``) and ``step`` (1-based training
    step) say where it happened first.
    """

    def __init__(self, term: str, step: int, value: float):
        self.term, self.step, self.value = term, step, value
        super().__init__(f"training diverged at step {step}: {term} is {value}")
