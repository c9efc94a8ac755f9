"""GAN losses written in logit space.

Every function takes raw discriminator outputs (logits, or critic scores for the Wasserstein
loss) and returns a batch mean. Terms of the form ``log sigmoid`` are computed with
``softplus`` (``-log σ(t) = softplus(-t)``), which is exact and never overflows.

With r, f the logits of real and fake samples and s = softplus:

=================  ======================  ==============
name               d_loss                  g_loss
=================  ======================  ==============
``minimax``        s(−r) + s(f)            −s(f)
``nonsaturating``  s(−r) + s(f)            s(−f)
``least_squares``  ½(r−1)² + ½f²           ½(f−1)²
``hinge``          relu(1−r) + relu(1+f)   −f
``wasserstein``    f − r                   −f
=================  ======================  ==============
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["GANLoss", "LOSSES", "get_loss"]


def _bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _minimax_g_loss(fake: Tensor) -> Tensor:
    return -F.softplus(fake).mean()


def _nonsaturating_g_loss(fake: Tensor) -> Tensor:
    return F.softplus(-fake).mean()


def _least_squares_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()


def _least_squares_g_loss(fake: Tensor) -> Tensor:
    return 0.5 * (fake - 1).pow(2).mean()


def _hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def _wasserstein_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def _negative_score_g_loss(fake: Tensor) -> Tensor:
    return -fake.mean()


@dataclass(frozen=True)
class GANLoss:
    """A pair of losses: ``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``.

    ``probabilistic`` is True when the discriminator's output is a logit whose sigmoid is a
    probability (minimax, non-saturating); False for scores (least squares, hinge, Wasserstein).
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    probabilistic: bool


LOSSES: dict[str, GANLoss] = {
    loss.name: loss
    for loss in [
        GANLoss("minimax", _bce_d_loss, _minimax_g_loss, True),
        GANLoss("nonsaturating", _bce_d_loss, _nonsaturating_g_loss, True),
        GANLoss("least_squares", _least_squares_d_loss, _least_squares_g_loss, False),
        GANLoss("hinge", _hinge_d_loss, _negative_score_g_loss, False),
        GANLoss("wasserstein", _wasserstein_d_loss, _negative_score_g_loss, False),
    ]
}


def get_loss(name: str) -> GANLoss:
    """Return ``LOSSES[name]``, raising :class:`~gancore.errors.ConfigError` for unknown names."""
    from .errors import ConfigError

    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None
