"""Multi-process training with PyTorch's own engine (``torch.distributed`` + DistributedDataParallel).

Launch any script that calls :func:`~gancore.train.fit`, or the CLI, with ``torchrun``::

    torchrun --standalone --nproc_per_node 2 -m gancore train --data ring --out runs/ring

:func:`~gancore.train.fit` then joins the process group that torchrun describes in the
environment (NCCL on GPUs, gloo on CPU; :func:`init` does it, and does nothing outside torchrun),
splits the global ``batch_size`` evenly over the processes, gives each process its own data and
noise stream (its *shard*), averages gradients with DistributedDataParallel, averages the logged
statistics, and lets only rank 0 write checkpoints, show progress and call ``on_log``.
"""

from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist

from .errors import ConfigError

__all__ = ["init", "rank", "world_size", "is_main", "local_batch_size", "shard", "rank_seed",
           "mean_over_ranks", "any_rank", "gather"]


def _launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: str = "auto") -> bool:
    """Join the process group torchrun set up in the environment; return whether training is
    distributed. The backend is NCCL when this process trains on CUDA, gloo otherwise; on CUDA
    each process takes the GPU numbered by its ``LOCAL_RANK``. Without torchrun (``WORLD_SIZE``
    unset or 1) nothing happens. Calling it again is harmless."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if not _launched_by_torchrun():
        return False
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    on_cuda = device != "cpu" and torch.cuda.is_available()
    if on_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if on_cuda else "gloo")
    atexit.register(_destroy)
    return dist.get_world_size() > 1


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of training processes (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """True on rank 0, the process that writes files and prints."""
    return rank() == 0


def local_batch_size(batch_size: int, world: int) -> int:
    """Per-process batch that keeps the global ``batch_size``; it must divide evenly."""
    if batch_size % world:
        raise ConfigError(f"batch_size {batch_size} cannot be split evenly over {world} processes")
    return batch_size // world


def shard(data, rank_: int, world: int):
    """Rank ``rank_``'s share of an image tensor (every ``world``-th row); toy datasets, which draw
    fresh samples, are returned unchanged (each rank draws from its own random stream)."""
    if world == 1 or not isinstance(data, torch.Tensor):
        return data
    part = data[rank_::world]
    if len(part) == 0:
        raise ConfigError(f"{len(data)} samples cannot be sharded over {world} processes")
    return part


def rank_seed(seed: int, rank_: int) -> int:
    """Seed of rank ``rank_``'s data/noise stream; rank 0 keeps ``seed``, so a one-process run is
    unchanged."""
    return seed if rank_ == 0 else (seed + 1_000_003 * rank_) % (2**63)


def mean_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of ``x`` over all processes (``x`` itself when not distributed)."""
    if world_size() == 1:
        return x
    x = x.clone()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x / world_size()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True if ``flag`` is true on any process (so that all processes stop at the same step)."""
    if world_size() == 1:
        return flag
    t = torch.tensor(float(flag), device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (``[obj]`` when not distributed)."""
    if world_size() == 1:
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out
