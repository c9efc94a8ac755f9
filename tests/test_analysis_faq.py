"""The analysis helpers added for the Background (GAN vs VAE on digits) and FAQ chapters."""

import pytest
import torch

from gancore import analysis
from gancore.losses import LOSSES


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path / "cache"))


def test_wrong_label_losses_push_the_generator_the_wrong_way():
    f = torch.linspace(-6, 6, 25, dtype=torch.float64)
    g_zero, d_swapped = analysis.wrong_label_losses()
    assert g_zero.name == "G labels fakes 0" and d_swapped.name == "D labels swapped"
    # G labels fakes 0: ℓ_G = s(f), derivative +σ(f) > 0, so descent lowers D's score of the fakes
    torch.testing.assert_close(analysis.logit_gradients(g_zero, f)["g"], torch.sigmoid(f))
    # D's loss of the first is the correct one; the second's D rewards high scores on fakes
    r = torch.randn(50, dtype=torch.float64)
    torch.testing.assert_close(g_zero.d_loss(r, f), LOSSES["nonsaturating"].d_loss(r, f))
    assert (analysis.logit_gradients(d_swapped, f)["d_fake"] < 0).all()
    with analysis.temporary_loss(g_zero):
        assert LOSSES[g_zero.name] is g_zero
    assert g_zero.name not in LOSSES


def test_gan_vs_vae_on_digits_returns_one_row_per_sample_set():
    gan, vae_run, rows = analysis.gan_vs_vae_on_digits(gan_steps=5, vae_steps=5, device="cpu")
    assert [row["model"] for row in rows] == ["GAN", "VAE samples", "VAE decoder means", "training digits"]
    for row in rows:
        assert set(row) == {"model", "fid", "kid", "precision", "recall", "density", "coverage", "seconds"}
        assert 0 <= row["precision"] <= 1 and 0 <= row["coverage"] <= 1
    assert gan.step == 5 and len(vae_run.history["loss"]) == 5
    trained, real = rows[0], rows[-1]
    assert real["fid"] < trained["fid"]  # real digits beat a generator trained for 5 steps
    assert not vae_run.vae.learned_variance
