"""Small measurements behind the book's chapters on losses and backpropagation.

* :func:`logit_gradients` differentiates a :class:`~gancore.losses.GANLoss` with autograd,
  element by element, over a grid of logits; :func:`closed_form_gradients` gives the same
  derivatives by hand, so the two can be compared.
* :func:`temporary_loss` registers an extra loss (for instance a deliberately wrong one) in
  :data:`~gancore.losses.LOSSES` for the duration of a ``with`` block, so :func:`~gancore.train.fit`
  can train with it.
* :func:`grad_fn_chain` and :func:`grad_counts` show what autograd recorded and which parameters
  a ``backward()`` reached.
* :func:`train_and_score` trains one GAN per configuration on a 2-D mixture and scores each
  with :func:`~gancore.metrics.mode_stats`.
* :func:`discriminator_wins` trains a discriminator on fixed fakes and measures, as it becomes
  confident, the gradient the generator would receive under the minimax and the non-saturating
  loss.
* :func:`wrong_label_losses` returns the two label mistakes of tutorial code as losses to train with.
* :func:`gan_vs_vae_on_digits` trains a GAN and a VAE on scikit-learn's digits and scores both with
  :func:`gancore.features.image_metrics` against held-out digits.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

from .losses import LOSSES, GANLoss, get_loss

__all__ = [
    "logit_gradients",
    "closed_form_gradients",
    "CLOSED_FORM_GRADIENTS",
    "temporary_loss",
    "grad_fn_chain",
    "grad_counts",
    "generator_gradients",
    "discriminator_wins",
    "train_and_score",
    "DIGITS_VAE",
    "gan_vs_vae_on_digits",
    "wrong_label_losses",
]


def logit_gradients(loss: GANLoss | str, logits: Tensor) -> dict[str, Tensor]:
    """Per-element derivatives of ``loss`` with respect to the logits, computed by autograd.

    ``logits`` is a 1-D tensor of values t. Returns ``{"g": ∂g_loss/∂f, "d_fake": ∂d_loss/∂f,
    "d_real": ∂d_loss/∂r}``, each evaluated at f = t (or r = t). The losses are batch means, so
    the gradient of the mean over N logits is multiplied by N to give the derivative of one term.
    Where a loss is not differentiable (the hinge's kink) autograd's choice is returned.
    """
    loss = get_loss(loss) if isinstance(loss, str) else loss
    t = logits.detach()
    n = t.numel()
    other = torch.zeros_like(t)

    def grad(fn: Callable[[Tensor], Tensor]) -> Tensor:
        x = t.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(fn(x), x)
        return g * n

    return {
        "g": grad(loss.g_loss),
        "d_fake": grad(lambda f: loss.d_loss(other, f)),
        "d_real": grad(lambda r: loss.d_loss(r, other)),
    }


#: The closed-form derivatives (∂g/∂f, ∂d/∂f, ∂d/∂r) of each loss, as functions of one logit.
CLOSED_FORM_GRADIENTS: dict[str, tuple[Callable[[Tensor], Tensor], ...]] = {
    "minimax": (lambda f: -torch.sigmoid(f), torch.sigmoid, lambda r: -torch.sigmoid(-r)),
    "nonsaturating": (lambda f: -torch.sigmoid(-f), torch.sigmoid, lambda r: -torch.sigmoid(-r)),
    "least_squares": (lambda f: f - 1, lambda f: f, lambda r: r - 1),
    "hinge": (lambda f: -torch.ones_like(f), lambda f: (f > -1).to(f.dtype), lambda r: -(r < 1).to(r.dtype)),
    "wasserstein": (lambda f: -torch.ones_like(f), lambda f: torch.ones_like(f), lambda r: -torch.ones_like(r)),
}


def closed_form_gradients(name: str, logits: Tensor) -> dict[str, Tensor]:
    """The derivatives of :func:`logit_gradients`, from :data:`CLOSED_FORM_GRADIENTS`."""
    g, d_fake, d_real = CLOSED_FORM_GRADIENTS[name]
    return {"g": g(logits), "d_fake": d_fake(logits), "d_real": d_real(logits)}


@contextlib.contextmanager
def temporary_loss(loss: GANLoss) -> Iterator[GANLoss]:
    """Make ``loss`` available as ``LOSSES[loss.name]`` inside a ``with`` block.

    :func:`~gancore.train.fit` looks losses up by name, so this lets a chapter train with a loss
    the package does not ship (such as one with swapped labels) without changing the package.
    """
    if loss.name in LOSSES:
        raise ValueError(f"a loss named {loss.name!r} already exists")
    LOSSES[loss.name] = loss
    try:
        yield loss
    finally:
        del LOSSES[loss.name]


def grad_fn_chain(output: Tensor, max_nodes: int = 100) -> list[str]:
    """Names of the autograd nodes behind ``output``, breadth first from the output.

    Leaves that accumulate a parameter's gradient appear as ``AccumulateGrad``; each node is
    listed once. Stops after ``max_nodes`` names.
    """
    names: list[str] = []
    seen: set[int] = set()
    queue = [output.grad_fn]
    while queue and len(names) < max_nodes:
        node = queue.pop(0)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        queue.extend(child for child, _ in node.next_functions)
    return names


def grad_counts(module: nn.Module) -> dict[str, int]:
    """How many of ``module``'s parameter tensors have ``.grad`` None, all zero, or non-zero."""
    counts = {"none": 0, "zero": 0, "nonzero": 0}
    for p in module.parameters():
        if p.grad is None:
            counts["none"] += 1
        elif bool((p.grad == 0).all()):
            counts["zero"] += 1
        else:
            counts["nonzero"] += 1
    return counts


def generator_gradients(G: nn.Module, D: nn.Module, z: Tensor, loss: GANLoss | str) -> dict[str, Tensor]:
    """One generator step's gradients under ``loss``, without changing any ``.grad``.

    Returns ``{"fake_logits": f, "x_grad": ∂L_G/∂x̃ per sample (N×d), "param_norm": ‖∂L_G/∂θ_G‖}``.
    """
    loss = get_loss(loss) if isinstance(loss, str) else loss
    fake = G(z)
    logits = D(fake)
    params = [p for p in G.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss.g_loss(logits), [fake, *params])
    norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads[1:]]))
    return {"fake_logits": logits.detach(), "x_grad": grads[0], "param_norm": norm}


def discriminator_wins(
    G: nn.Module,
    D: nn.Module,
    data,
    *,
    steps: int = 400,
    record_every: int = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict[str, list]:
    """Train D alone (binary cross-entropy) against a frozen G and record G's gradients.

    G stays fixed and its fakes come from a fixed batch of noise, so D becomes ever more
    confident. Every ``record_every`` D updates (and before the first) the generator's gradient
    is measured under the minimax and the non-saturating loss. Returns lists keyed by
    ``"step"``, ``"d_fake_prob"`` (mean σ(f), D's probability that a fake is real),
    ``"mean_logit"`` (mean f), ``"grad_minimax"``, ``"grad_nonsaturating"`` (‖∂L_G/∂θ_G‖),
    ``"mean_sigmoid_f"`` and ``"mean_sigmoid_minus_f"`` (the magnitudes of ∂L/∂f of the two
    losses in closed form, averaged over the batch) and ``"max_ratio_error"``: the largest relative
    deviation, over the batch, of the per-sample ratio ‖∂L_mm/∂x̃‖ / ‖∂L_ns/∂x̃‖ from its closed
    form e^f.
    """
    gen = torch.Generator().manual_seed(seed)
    z_dim = getattr(G, "z_dim", None) or next(G.parameters()).shape[1]
    z = torch.randn(batch_size, z_dim, generator=gen)
    G.requires_grad_(True)
    with torch.no_grad():
        fake = G(z)
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = get_loss("nonsaturating").d_loss
    out: dict[str, list] = {k: [] for k in (
        "step", "d_fake_prob", "mean_logit", "grad_minimax", "grad_nonsaturating",
        "mean_sigmoid_f", "mean_sigmoid_minus_f", "max_ratio_error")}

    def record(step: int) -> None:
        mm = generator_gradients(G, D, z, "minimax")
        ns = generator_gradients(G, D, z, "nonsaturating")
        f = mm["fake_logits"]
        ratio = mm["x_grad"].norm(dim=1) / ns["x_grad"].norm(dim=1)
        err = ((ratio - f.exp()) / f.exp()).abs().max()
        out["step"].append(step)
        out["d_fake_prob"].append(float(torch.sigmoid(f).mean()))
        out["mean_logit"].append(float(f.mean()))
        out["grad_minimax"].append(float(mm["param_norm"]))
        out["grad_nonsaturating"].append(float(ns["param_norm"]))
        out["mean_sigmoid_f"].append(float(torch.sigmoid(f).mean()))
        out["mean_sigmoid_minus_f"].append(float(torch.sigmoid(-f).mean()))
        out["max_ratio_error"].append(float(err))

    record(0)
    for step in range(1, steps + 1):
        real = data.sample(batch_size, generator=gen)
        loss = bce(D(real), D(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % record_every == 0:
            record(step)
    return out


def train_and_score(configs: dict, data, *, n_samples: int = 2500, sample_seed: int = 0, progress: bool = False):
    """Train one GAN per ``{name: TrainConfig}`` on the 2-D mixture ``data`` and score it.

    Returns ``(runs, rows)``: the :class:`~gancore.train.Run` per name, and one dict per name
    with the loss, penalty, modes captured, fraction of high-quality samples, reverse KL and
    wall-clock seconds (a list ready for ``pandas.DataFrame``). Samples come from the EMA
    generator when the run has one.
    """
    import time

    from .metrics import mode_stats
    from .train import build_models, fit

    runs, rows = {}, []
    for name, config in configs.items():
        start = time.perf_counter()
        G, D = build_models(config, (2,))
        run = fit(G, D, data, config, progress=progress)
        seconds = time.perf_counter() - start
        stats = mode_stats(run.sample(n_samples, seed=sample_seed), data.centers, data.std)
        runs[name] = run
        rows.append({
            "name": name,
            "loss": config.loss,
            "penalty": config.penalty if config.penalty == "none" else f"{config.penalty} ({config.penalty_weight:g})",
            "modes": stats.modes,
            "of": stats.num_modes,
            "high quality %": round(100 * stats.high_quality, 1),
            "reverse KL": round(stats.reverse_kl, 3),
            "seconds": round(seconds, 1),
        })
    return runs, rows


#: Keyword arguments of the VAE in the book's digits comparison, a :class:`~gancore.vae.ConvVAE` with an
#: 8-d latent and a *fixed* decoder variance s² = 0.1. With the variance learned (z_dim 16), s shrank to
#: ≈ 0.12, the KL term barely counted, and samples drawn from the prior decoded to noise (measured
#: FID ≈ 530 against ≈ 120 with this setting, 2000 steps, seed 0).
DIGITS_VAE = dict(z_dim=8, decoder_var=0.1, learn_var=False)


def gan_vs_vae_on_digits(
    *,
    seed: int = 0,
    gan_steps: int | None = None,
    vae_steps: int = 2000,
    vae_kwargs: dict | None = None,
    device: str = "auto",
    progress: bool = False,
):
    """Train a GAN (``config_for("digits")``) and a VAE (:data:`DIGITS_VAE`) on the training split of
    scikit-learn's digits and score both against the held-out split with
    :func:`gancore.features.image_metrics` (as many fakes as held-out images).

    Returns ``(gan_run, vae_run, rows)``: the GAN's :class:`~gancore.train.Run`, the
    :class:`~gancore.vae.VAERun`, and one dict per sample set (``"GAN"``, ``"VAE samples"`` — the
    model's samples μ_θ(z) + sε —, ``"VAE decoder means"`` and, as a reference, ``"training digits"``: real
    images of the other split) with the six metrics and the training seconds. Samples are clamped to
    the data range [−1, 1].
    """
    import time

    from .features import digits_split, image_metrics
    from .presets import config_for
    from .train import build_models, fit
    from .vae import build_vae, fit_vae

    x_train, _, x_held, _ = digits_split()
    n = len(x_held)
    overrides = dict(seed=seed, device=device) | ({"steps": gan_steps} if gan_steps else {})
    config = config_for("digits", **overrides)
    start = time.perf_counter()
    G, D = build_models(config, tuple(x_train.shape[1:]))
    gan = fit(G, D, x_train, config, progress=progress)
    gan_seconds = time.perf_counter() - start
    start = time.perf_counter()
    vae = build_vae(tuple(x_train.shape[1:]), seed=seed, **(vae_kwargs if vae_kwargs is not None else DIGITS_VAE))
    vae_run = fit_vae(vae, x_train, steps=vae_steps, batch_size=config.batch_size, seed=seed, device=device, progress=progress)
    vae_seconds = time.perf_counter() - start
    sets = {
        "GAN": (gan.sample(n, seed=seed + 1), gan_seconds),
        "VAE samples": (vae_run.sample(n, seed=seed + 1), vae_seconds),
        "VAE decoder means": (vae_run.sample(n, seed=seed + 1, noise=False), vae_seconds),
        "training digits": (x_train[torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed))[:n]], 0.0),
    }
    rows = [{"model": name, **image_metrics(x_held, images.clamp(-1, 1))._asdict(), "seconds": round(seconds, 1)}
            for name, (images, seconds) in sets.items()]
    return gan, vae_run, rows


def wrong_label_losses() -> list[GANLoss]:
    """The two label mistakes that tutorials make, as losses :func:`temporary_loss` can register.

    * ``"G labels fakes 0"``: the correct discriminator loss, but the generator's loss is the
      cross-entropy of its own samples with label 0, s(f): G lowers D's score of its samples.
    * ``"D labels swapped"``: D labels real samples 0 and fakes 1; G asks for label 1, so it
      asks to be called fake.

    Both send the generator away from the data (the Losses chapter trains them).
    """
    import torch.nn.functional as F

    def bce(logits: Tensor, label: float) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))

    return [
        GANLoss("G labels fakes 0", d_loss=lambda r, f: bce(r, 1.0) + bce(f, 0.0), g_loss=lambda f: bce(f, 0.0), probabilistic=True),
        GANLoss("D labels swapped", d_loss=lambda r, f: bce(r, 0.0) + bce(f, 1.0), g_loss=lambda f: bce(f, 1.0), probabilistic=True),
    ]
