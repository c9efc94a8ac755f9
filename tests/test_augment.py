"""DiffAugment: each transform against a constructed case, differentiability, and the trainer hook."""

import pytest
import torch

from gancore import TrainConfig, build_models, fit, toy
from gancore.augment import color, cutout, diffaugment, translation
from gancore.errors import ConfigError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_translation_shifts_with_zero_padding():
    x = torch.arange(1, 65, dtype=torch.float32).reshape(1, 1, 8, 8).repeat(50, 1, 1, 1)
    out = translation(x, gen())
    shifts = set()
    for img in out[:, 0]:
        # find (dy, dx) such that img[i, j] = x[i - dy, j - dx] where in range, else 0
        match = [(dy, dx) for dy in range(-1, 2) for dx in range(-1, 2)
                 if torch.equal(img, torch.roll(x[0, 0], (dy, dx), (0, 1)) * _inside(8, dy, dx))]
        assert len(match) == 1
        shifts.add(match[0])
    assert len(shifts) > 4  # 8 px × 1/8 → shifts in {−1, 0, 1}², several drawn


def _inside(n, dy, dx):
    mask = torch.ones(n, n)
    if dy > 0:
        mask[:dy] = 0
    if dy < 0:
        mask[dy:] = 0
    if dx > 0:
        mask[:, :dx] = 0
    if dx < 0:
        mask[:, dx:] = 0
    return mask


def test_cutout_zeroes_one_square_of_half_the_size():
    x = torch.ones(200, 3, 16, 16)
    out = cutout(x, gen())
    zeros = (out == 0).all(dim=1).float().sum(dim=(1, 2))
    assert zeros.max() == 64  # an 8×8 square when it lies fully inside
    assert zeros.min() >= 16  # clipped at a corner: at least a 4×4 quarter
    assert torch.equal(out[:, 0], out[:, 1])  # the same square in every channel


def test_color_brightness_and_contrast_ranges():
    x = torch.zeros(500, 3, 4, 4)  # constant images: only brightness changes them
    out = color(x, gen())
    shift = out[:, 0, 0, 0]
    assert torch.allclose(out, shift[:, None, None, None].expand_as(out))
    assert -0.5 <= shift.min() and shift.max() <= 0.5 and shift.std() > 0.2


def test_diffaugment_is_differentiable_and_seeded():
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    y = diffaugment(x, generator=gen(3))
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    torch.testing.assert_close(diffaugment(x.detach(), generator=gen(3)), y.detach())
    assert torch.equal(diffaugment(x, "none"), x)


def test_bad_policy_and_shape():
    with pytest.raises(ConfigError, match="unknown augmentation 'flip'"):
        diffaugment(torch.zeros(1, 1, 8, 8), "color,flip")
    with pytest.raises(ValueError):
        diffaugment(torch.zeros(4, 2), "color")


def test_trainer_uses_augmentation_on_images_only():
    images = torch.rand(32, 1, 8, 8) * 2 - 1
    config = TrainConfig(data="digits", steps=3, batch_size=8, hidden=8, z_dim=4, device="cpu", augment="translation,cutout")
    G, D = build_models(config, (1, 8, 8))
    assert fit(G, D, images, config, progress=False).step == 3
    ring = TrainConfig(steps=1, augment="color", device="cpu")
    with pytest.raises(ConfigError, match="needs image data"):
        fit(*build_models(ring, (2,)), toy("ring"), ring, progress=False)
