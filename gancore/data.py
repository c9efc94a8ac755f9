"""Datasets: 2-D toy distributions and image datasets as float tensors in [−1, 1].

Toy datasets draw fresh samples on the device for every batch. Image datasets are small enough
to live as one N×C×H×W tensor on the training device, so a batch is one indexing operation.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import torch
from torch import Tensor

from .errors import DataError

__all__ = [
    "GaussianMixture",
    "SwissRoll",
    "TOY_DATASETS",
    "IMAGE_DATASETS",
    "toy",
    "digits",
    "mnist",
    "fashion_mnist",
    "cifar10",
    "load_dataset",
]


class GaussianMixture:
    """An equal-weight mixture of isotropic 2-D Gaussians with means ``centers`` and ``std``."""

    def __init__(self, name: str, centers: Tensor, std: float):
        self.name = name
        self.centers = centers.to(torch.float32)
        self.std = float(std)

    def sample(self, n: int, *, generator: torch.Generator | None = None, device=None) -> Tensor:
        """``n`` points, Tensor[n, 2]; each picks a component uniformly, then adds N(0, std²)."""
        device = torch.device(device) if device is not None else _generator_device(generator)
        idx = torch.randint(len(self.centers), (n,), generator=generator, device=device)
        noise = torch.randn(n, 2, generator=generator, device=device)
        return self.centers.to(device)[idx] + self.std * noise

    def __repr__(self) -> str:
        return f"GaussianMixture({self.name!r}, k={len(self.centers)}, std={self.std})"


class SwissRoll:
    """scikit-learn's Swiss roll (noise 0.25), columns (x, z), divided by 7.5 as in WGAN-GP's toy code."""

    name = "swissroll"
    noise = 0.25
    scale = 7.5

    def sample(self, n: int, *, generator: torch.Generator | None = None, device=None) -> Tensor:
        device = torch.device(device) if device is not None else _generator_device(generator)
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator, device=device))
        points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
        points = points + self.noise * torch.randn(n, 2, generator=generator, device=device)
        return points / self.scale

    def __repr__(self) -> str:
        return "SwissRoll()"


def _generator_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _ring() -> GaussianMixture:
    angles = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    return GaussianMixture("ring", torch.stack([angles.cos(), angles.sin()], dim=1), 0.01)


def _grid() -> GaussianMixture:
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(axis, axis)
    return GaussianMixture("grid", centers, 0.05)


TOY_DATASETS = {"ring": _ring, "grid": _grid, "swissroll": SwissRoll}


def toy(name: str):
    """A 2-D toy dataset: ``"ring"`` (8 Gaussians on the unit circle, std 0.01), ``"grid"``
    (25 Gaussians on {−4, −2, 0, 2, 4}², std 0.05) or ``"swissroll"``.

    The object has ``.sample(n, *, generator=None, device=None) -> Tensor[n, 2]``; mixtures
    also have ``.centers`` (Tensor[k, 2]) and ``.std``.
    """
    try:
        return TOY_DATASETS[name]()
    except KeyError:
        raise DataError(f"unknown toy dataset {name!r}; choose one of {', '.join(TOY_DATASETS)}") from None


def _to_unit_range(images: Tensor, max_value: float) -> Tensor:
    """uint8-like values in [0, max_value] → float32 in [−1, 1]."""
    return images.to(torch.float32) * (2.0 / max_value) - 1.0


def digits() -> Tensor:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images) as Tensor[1797, 1, 8, 8] in [−1, 1]."""
    from sklearn.datasets import load_digits

    images = torch.from_numpy(load_digits().images)  # values 0..16
    return _to_unit_range(images, 16.0).unsqueeze(1)


def _torchvision_mnist_like(cls_name: str, root, train: bool, download: bool) -> Tensor:
    import torchvision

    cls = getattr(torchvision.datasets, cls_name)
    try:
        dataset = cls(str(root), train=train, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found. You can use download=True ..."
        raise DataError(f"{cls_name} not found under {root} ({err}); pass download=True to fetch it") from None
    return _to_unit_range(dataset.data, 255.0).unsqueeze(1)


def mnist(root="data", *, train: bool = True, download: bool = False) -> Tensor:
    """MNIST through torchvision as Tensor[N, 1, 28, 28] in [−1, 1]."""
    return _torchvision_mnist_like("MNIST", root, train, download)


def fashion_mnist(root="data", *, train: bool = True, download: bool = False) -> Tensor:
    """Fashion-MNIST through torchvision as Tensor[N, 1, 28, 28] in [−1, 1]."""
    return _torchvision_mnist_like("FashionMNIST", root, train, download)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR's batch files (dicts of bytes, lists and numpy arrays) and nothing else."""

    _allowed = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_cifar_batch(path: Path) -> Tensor:
    import numpy as np

    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as err:
        raise DataError(f"cannot read CIFAR-10 batch {path}: {err}") from None
    return torch.from_numpy(data.copy())


def cifar10(root="data", *, train: bool = True, download: bool = False) -> Tensor:
    """CIFAR-10 as Tensor[N, 3, 32, 32] in [−1, 1].

    ``download=True`` fetches and verifies the archive with torchvision; the batch files are
    then read with an unpickler that accepts only numpy arrays, so a tampered file cannot run code.
    """
    folder = Path(root) / "cifar-10-batches-py"
    if download:
        import torchvision

        torchvision.datasets.CIFAR10(str(root), train=train, download=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 not found under {folder} (missing {missing[0]}); pass download=True to fetch it")
    images = torch.cat([_read_cifar_batch(folder / n) for n in names])
    return _to_unit_range(images, 255.0)


IMAGE_DATASETS = {
    "digits": lambda root, download: digits(),
    "mnist": lambda root, download: mnist(root, download=download),
    "fashion-mnist": lambda root, download: fashion_mnist(root, download=download),
    "cifar10": lambda root, download: cifar10(root, download=download),
}


def load_dataset(name: str, *, root="data", download: bool = False):
    """A toy dataset object or an image tensor, by the name the CLI uses (``--data``)."""
    if name in TOY_DATASETS:
        return toy(name)
    if name in IMAGE_DATASETS:
        return IMAGE_DATASETS[name](root, download)
    known = ", ".join([*TOY_DATASETS, *IMAGE_DATASETS])
    raise DataError(f"unknown dataset {name!r}; choose one of {known}")
