"""Variational autoencoders (Kingma & Welling 2014), the book's likelihood-based baseline.

A VAE has an encoder q_φ(z|x) = N(μ_φ(x), diag σ²_φ(x)), a prior p(z) = N(0, I) and a
Gaussian decoder p_θ(x|z) = N(μ_θ(z), s² I). The decoder variance s² is **one learned scalar**
(``log_var``, shared by every output dimension), starting at ``decoder_var``; with
``learn_var=False`` it stays fixed at ``decoder_var``. Training
minimises the negative ELBO per sample,

    −ELBO(x) = E_q[−log p_θ(x|z)] + KL(q_φ(z|x) ‖ p(z)),

with the expectation estimated from one reparameterised draw z = μ + σ·ε and the KL in
closed form: ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²). Both terms are in nats.

:class:`MLPVAE` is for 2-D points (or any flat vectors), :class:`ConvVAE` for N×C×H×W images
of 8 to 32 px; :func:`build_vae` picks one from a sample shape, and :func:`fit_vae` trains
either on a toy dataset or a tensor of samples, like :func:`gancore.train.fit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .errors import ConfigError, TrainingDiverged
from .models import dcgan_depth
from .train import real_sampler, data_shape, resolve_device

__all__ = [
    "gaussian_kl",
    "gaussian_nll",
    "GaussianVAE",
    "MLPVAE",
    "ConvVAE",
    "build_vae",
    "VAERun",
    "fit_vae",
]

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(μ, diag e^log_var) ‖ N(0, I)) per sample, summed over the last dimension (nats)."""
    return 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1)


def gaussian_nll(x: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    """−log N(x; mean, e^log_var I) per sample, summed over all but the first dimension (nats).

    ``log_var`` broadcasts against ``x`` (a scalar for one shared variance).
    """
    log_var = torch.as_tensor(log_var, dtype=x.dtype, device=x.device).expand_as(x)
    nll = 0.5 * ((x - mean).pow(2) / log_var.exp() + log_var + LOG_2PI)
    return nll.flatten(1).sum(1)


class GaussianVAE(nn.Module):
    """A VAE with a Gaussian encoder and a Gaussian decoder of one shared variance s².

    Subclasses set ``self.shape`` (one sample's shape) and build ``self.encoder`` (x → 2·z_dim numbers: μ and log σ²) and ``self.decoder``
    (z → decoder mean, same shape as x). s² starts at ``decoder_var`` and is learned, or
    stays fixed with ``learn_var=False``. Starting small (the default 0.01) matters: with s² = 1
    the reconstruction term is too weak early on and training can settle in *posterior
    collapse* (KL ≈ 0, the decoder ignoring z).
    """

    def __init__(self, z_dim: int, decoder_var: float = 0.01, learn_var: bool = True):
        super().__init__()
        self.z_dim = z_dim
        if not (isinstance(decoder_var, (int, float)) and 0 < decoder_var < float("inf")):
            raise ConfigError(f"decoder_var must be a positive number, got {decoder_var!r}")
        log_var = torch.tensor(math.log(decoder_var))
        if learn_var:
            self.log_var = nn.Parameter(log_var)
        else:
            self.register_buffer("log_var", log_var)

    @property
    def learned_variance(self) -> bool:
        return isinstance(self.log_var, nn.Parameter)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) of q(z|x), each N×z_dim."""
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        return mu, log_var

    def decode(self, z: Tensor) -> Tensor:
        """The decoder mean μ_θ(z) (the mode of p(x|z))."""
        return self.decoder(z)

    def elbo_terms(self, x: Tensor, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Per-sample (reconstruction NLL, KL), each of shape [N], in nats.

        The reconstruction term −log p(x|z) uses one draw z = μ + σ·ε, ε ~ N(0, I) from ``generator``.
        """
        mu, log_var = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + (0.5 * log_var).exp() * eps
        recon = gaussian_nll(x, self.decode(z), self.log_var)
        return recon, gaussian_kl(mu, log_var)

    def elbo_loss(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """The negative ELBO per sample, averaged over the batch (nats)."""
        recon, kl = self.elbo_terms(x, generator=generator)
        return (recon + kl).mean()

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, noise: bool = True) -> Tensor:
        """``n`` samples x = μ_θ(z) + s·ε with z ~ N(0, I); ``noise=False`` returns the means μ_θ(z).

        Random numbers come from ``generator`` (on the model's device) when given.
        """
        device = next(self.parameters()).device
        z = torch.randn(n, self.z_dim, generator=generator, device=device)
        mean = self.decode(z)
        if not noise:
            return mean
        eps = torch.randn(mean.shape, generator=generator, device=device)
        return mean + (0.5 * self.log_var).exp() * eps


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class MLPVAE(GaussianVAE):
    """VAE for flat vectors (2-D points): encoder and decoder MLPs of ``depth`` ReLU layers."""

    def __init__(self, data_dim: int = 2, z_dim: int = 2, hidden: int = 128, depth: int = 2, decoder_var: float = 0.01, learn_var: bool = True):
        super().__init__(z_dim, decoder_var, learn_var)
        self.data_dim = data_dim
        self.shape = (data_dim,)
        self.encoder = _mlp([data_dim] + [hidden] * depth + [2 * z_dim])
        self.decoder = _mlp([z_dim] + [hidden] * depth + [data_dim])

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return super().encode(x.flatten(1))


class ConvVAE(GaussianVAE):
    """VAE for square C×H×W images of 8 to 32 px.

    Encoder: n × [Conv(4, 2, 1), LeakyReLU(0.2)] → Linear → (μ, log σ²). Decoder: Linear →
    (C', base, base) → n × [ConvTranspose(4, 2, 1), ReLU] (no ReLU after the last) → mean image.
    ``width`` is the channel count of the first encoder (last decoder) feature map.
    """

    def __init__(self, size: int = 8, channels: int = 1, z_dim: int = 16, width: int = 32, decoder_var: float = 0.01, learn_var: bool = True):
        super().__init__(z_dim, decoder_var, learn_var)
        if size > 32:
            raise ConfigError(f"ConvVAE takes images of 8 to 32 px, got {size}")
        base, n = dcgan_depth(size)
        self.size, self.channels = size, channels
        self.shape = (channels, size, size)
        enc, c_in, c_out = [], channels, width
        for _ in range(n):
            enc += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in, c_out = c_out, c_out * 2
        top = c_in
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(top * base * base, 2 * z_dim))
        dec, c = [nn.Linear(z_dim, top * base * base), nn.Unflatten(1, (top, base, base)), nn.ReLU()], top
        for i in range(n):
            last = i == n - 1
            dec.append(nn.ConvTranspose2d(c, channels if last else c // 2, 4, 2, 1))
            if not last:
                dec.append(nn.ReLU())
            c //= 2
        self.decoder = nn.Sequential(*dec)


def build_vae(shape: tuple[int, ...], *, seed: int = 0, **kwargs) -> GaussianVAE:
    """A seeded VAE for samples of ``shape``: (d,) → :class:`MLPVAE`, (C, H, W) → :class:`ConvVAE`.

    ``kwargs`` go to the constructor (``z_dim``, ``hidden``/``width``, ``decoder_var``, ``learn_var``...).
    Initialised from ``seed`` without touching the global random state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if len(shape) == 1:
            return MLPVAE(shape[0], **kwargs)
        if len(shape) == 3 and shape[1] == shape[2]:
            return ConvVAE(shape[1], shape[0], **kwargs)
    raise ConfigError(f"no VAE for samples of shape {tuple(shape)}: use flat vectors or square C×H×W images")


@dataclass
class VAERun:
    """A trained VAE and its per-step history: ``"step"``, ``"loss"`` (−ELBO), ``"recon"``, ``"kl"``."""

    vae: GaussianVAE
    history: dict[str, list] = field(default_factory=dict)

    def sample(self, n: int, *, seed: int = 0, noise: bool = True) -> Tensor:
        """``n`` samples on the CPU, drawn reproducibly from ``seed``."""
        device = next(self.vae.parameters()).device
        gen = torch.Generator(device=device).manual_seed(seed)
        was_training = self.vae.training
        self.vae.eval()
        try:
            return self.vae.sample(n, generator=gen, noise=noise).float().cpu()
        finally:
            self.vae.train(was_training)


def fit_vae(
    vae: GaussianVAE,
    data,
    *,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
) -> VAERun:
    """Train ``vae`` with Adam on the negative ELBO for ``steps`` minibatches.

    ``data`` is a toy dataset (``gancore.toy(...)``) or a tensor of samples, as for
    :func:`gancore.train.fit`. Minibatches and the reparameterisation noise come from one
    generator seeded with ``seed``, so equal seeds and equal initial weights give equal runs.
    """
    from tqdm.auto import tqdm

    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not lr > 0:
        raise ConfigError(f"lr must be > 0, got {lr!r}")
    shape = data_shape(data)
    if shape != tuple(vae.shape):
        raise ConfigError(f"this VAE takes samples of shape {tuple(vae.shape)}, the data has {shape}")
    dev = resolve_device(device)
    vae.to(dev).train()
    rng = torch.Generator(device=dev).manual_seed(seed)
    sample_real = real_sampler(data, dev, rng)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    rows = []
    for _ in tqdm(range(steps), disable=not progress, desc="vae", unit="step", dynamic_ncols=True):
        x = sample_real(batch_size)
        recon, kl = vae.elbo_terms(x, generator=rng)
        loss = (recon + kl).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        rows.append(torch.stack([loss.detach(), recon.detach().mean(), kl.detach().mean()]))
    values = torch.stack(rows).double().cpu()
    bad = ~torch.isfinite(values)
    if bad.any():
        r, c = map(int, bad.nonzero()[0])
        raise TrainingDiverged(("loss", "recon", "kl")[c], r + 1, float(values[r, c]))
    history = {"step": list(range(1, steps + 1))}
    for c, name in enumerate(("loss", "recon", "kl")):
        history[name] = values[:, c].tolist()
    return VAERun(vae, history)
