"""Datasets: exact toy distributions, digits, and the torchvision loaders on files the test writes."""

import math
import pickle
import struct

import numpy as np
import pytest
import torch

from gancore.data import cifar10, digits, fashion_mnist, load_dataset, mnist, toy
from gancore.errors import DataError


def test_ring_means_and_std():
    ring = toy("ring")
    i = torch.arange(8, dtype=torch.float64)
    expected = torch.stack([torch.cos(2 * math.pi * i / 8), torch.sin(2 * math.pi * i / 8)], 1).float()
    torch.testing.assert_close(ring.centers, expected)
    assert ring.std == 0.01


def test_grid_means_and_std():
    grid = toy("grid")
    assert grid.std == 0.05
    assert {tuple(c.tolist()) for c in grid.centers} == {(x, y) for x in (-4.0, -2.0, 0.0, 2.0, 4.0) for y in (-4.0, -2.0, 0.0, 2.0, 4.0)}


@pytest.mark.parametrize("name", ["ring", "grid"])
def test_mixture_samples_have_the_stated_distribution(name):
    data = toy(name)
    x = data.sample(40000, generator=torch.Generator().manual_seed(0))
    assert x.shape == (40000, 2) and x.dtype == torch.float32
    nearest = torch.cdist(x, data.centers).argmin(1)
    offsets = x - data.centers[nearest]
    assert offsets.std().item() == pytest.approx(data.std, rel=0.03)
    counts = torch.bincount(nearest, minlength=len(data.centers)).double()
    assert (counts / len(x) - 1 / len(data.centers)).abs().max() < 0.01  # equal weights


def test_sampling_is_reproducible_with_a_generator():
    ring = toy("ring")
    a = ring.sample(10, generator=torch.Generator().manual_seed(1))
    b = ring.sample(10, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)


def test_swissroll_shape_and_scale():
    x = toy("swissroll").sample(5000, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5000, 2)
    radius = x.norm(dim=1)
    # t ∈ [1.5π, 4.5π], radius t/7.5 ∈ [0.63, 1.88] before noise
    assert 0.4 < radius.min() and radius.max() < 2.1


def test_unknown_toy_dataset():
    with pytest.raises(DataError, match="unknown toy dataset 'moons'"):
        toy("moons")
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("imagenet")


def test_digits_are_real_images_in_unit_range():
    x = digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    # digits are dark background with bright strokes: most pixels are near -1
    assert (x < -0.9).float().mean() > 0.4


def _write_idx(path, array: np.ndarray):
    magic = {3: 0x0803, 1: 0x0801}[array.ndim]
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic))
        for d in array.shape:
            f.write(struct.pack(">I", d))
        f.write(array.astype(np.uint8).tobytes())


def _write_mnist_layout(root, folder, n_train=12, n_test=5):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n_train, 28, 28))
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    _write_idx(raw / "train-images-idx3-ubyte", images)
    _write_idx(raw / "train-labels-idx1-ubyte", rng.integers(0, 10, size=n_train))
    _write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, size=(n_test, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte", rng.integers(0, 10, size=n_test))
    return images


@pytest.mark.parametrize("loader,folder", [(mnist, "MNIST"), (fashion_mnist, "FashionMNIST")])
def test_mnist_like_loaders_read_torchvision_layout(tmp_path, loader, folder):
    images = _write_mnist_layout(tmp_path, folder)
    x = loader(tmp_path)
    assert x.shape == (12, 1, 28, 28)
    torch.testing.assert_close(x[:, 0], torch.from_numpy(images).float() / 127.5 - 1)
    assert loader(tmp_path, train=False).shape == (5, 1, 28, 28)


def test_mnist_missing_gives_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="MNIST not found"):
        mnist(tmp_path)


def _write_cifar_batch(path, images: np.ndarray):
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"test", b"labels": [0] * len(images), b"data": images.reshape(len(images), -1)}, f)


def test_cifar10_reads_python_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 256, size=(3, 3, 32, 32), dtype=np.uint8) for _ in range(5)]
    for i, b in enumerate(batches, 1):
        _write_cifar_batch(folder / f"data_batch_{i}", b)
    _write_cifar_batch(folder / "test_batch", batches[0][:2])
    x = cifar10(tmp_path)
    assert x.shape == (15, 3, 32, 32)
    torch.testing.assert_close(x, torch.from_numpy(np.concatenate(batches)).float() / 127.5 - 1)
    assert cifar10(tmp_path, train=False).shape == (2, 3, 32, 32)


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_cifar10_refuses_a_pickle_that_runs_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": _Payload()}, f)
    with pytest.raises(DataError, match="refusing"):
        cifar10(tmp_path, train=False)
    assert not (tmp_path / "PWNED").exists()


def test_cifar10_missing(tmp_path):
    with pytest.raises(DataError, match="CIFAR-10 not found"):
        cifar10(tmp_path)
