"""Model shapes, normalisation choices and spectral normalisation."""

import pytest
import torch

from gancore.errors import ConfigError
from gancore.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, dcgan_depth


def test_mlp_shapes():
    G, D = MLPGenerator(z_dim=3, hidden=16), MLPDiscriminator(hidden=16)
    x = G(torch.randn(5, 3))
    assert x.shape == (5, 2)
    assert D(x).shape == (5,)
    assert sum(isinstance(m, torch.nn.Linear) for m in G.modules()) == 4  # 3 hidden + output


@pytest.mark.parametrize("size,expected", [(8, (4, 1)), (16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (12, (6, 1))])
def test_dcgan_depth(size, expected):
    assert dcgan_depth(size) == expected


@pytest.mark.parametrize("size", [4, 7, 65, 9])
def test_dcgan_depth_rejects_bad_sizes(size):
    with pytest.raises(ConfigError):
        dcgan_depth(size)


@pytest.mark.parametrize("size,channels", [(8, 1), (28, 1), (32, 3), (64, 3)])
@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
def test_dcgan_shapes(size, channels, norm):
    G = DCGANGenerator(z_dim=10, size=size, channels=channels, width=8)
    D = DCGANDiscriminator(size=size, channels=channels, width=8, norm=norm)
    x = G(torch.randn(3, 10))
    assert x.shape == (3, channels, size, size)
    assert x.abs().max() <= 1
    assert D(x).shape == (3,)


def test_unknown_norm():
    with pytest.raises(ConfigError, match="unknown normalisation"):
        MLPDiscriminator(norm="instance")


def test_layer_norm_keeps_samples_independent():
    D = MLPDiscriminator(hidden=16, norm="layer").eval()
    x = torch.randn(8, 2)
    torch.testing.assert_close(D(x)[:1], D(x[:1]))


@pytest.mark.parametrize("make", [lambda: MLPDiscriminator(hidden=32, spectral_norm=True), lambda: DCGANDiscriminator(size=16, width=8, spectral_norm=True)])
def test_spectral_norm_makes_unit_spectral_norm(make):
    D = make()
    for _ in range(30):  # power iteration runs once per training-mode forward
        D(torch.randn(4, 2) if isinstance(D, MLPDiscriminator) else torch.randn(4, 1, 16, 16))
    linear = [m for m in D.modules() if isinstance(m, torch.nn.Linear)]
    for layer in linear:
        sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert sigma.item() == pytest.approx(1.0, rel=0.05)
