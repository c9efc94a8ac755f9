"""Atomic checkpoint files that load with ``torch.load(weights_only=True)``.

A checkpoint is written to a temporary file in the same directory, flushed to disk and renamed
over the old one, so a crash at any moment leaves either the previous or the new checkpoint,
never a half-written one. Loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import torch

from .errors import CheckpointError, RunBusy

__all__ = ["CHECKPOINT", "CONFIG", "HISTORY", "RunLock", "atomic_write_bytes", "save_checkpoint", "load_checkpoint"]

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
HISTORY = "history.csv"
LOCK = ".lock"
FORMAT = "gancore-checkpoint"
_UMASK = os.umask(0)
os.umask(_UMASK)
VERSION = 1


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    _atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def save_checkpoint(path: Path, state: dict) -> None:
    """Save ``state`` (tensors, numbers, strings, lists, dicts) atomically, tagged with the format."""
    _atomic_write(path, lambda f: torch.save({"format": FORMAT, "version": VERSION, **state}, f))


def load_checkpoint(path: Path) -> dict:
    """Load a gancore checkpoint onto the CPU, refusing anything that is not one.

    Raises :class:`CheckpointError` for a missing, truncated, foreign or pickle-carrying file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"cannot load checkpoint {path}: truncated, corrupt or unsafe ({reason[:160]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gancore checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')}, this gancore reads {VERSION}")
    return state


class RunLock:
    """An exclusive lock on a run directory, held while a process trains in it.

    Uses ``flock``, which the kernel releases when the holder dies (even by SIGKILL), so a
    crashed run never blocks its own resume. Taking the lock also removes temporary files that
    a killed writer left behind. Where ``fcntl`` does not exist (Windows) it only cleans up.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._file = None

    def __enter__(self) -> "RunLock":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / LOCK
        self._file = open(path, "a+")
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._file.seek(0)
                holder = self._file.read().strip() or "another process"
                self._file.close()
                raise RunBusy(f"{self.run_dir} is in use by a running training (pid {holder}); wait for it or stop it") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()
        for stale in self.run_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock
            self._file = None
