"""Optimizer steps without per-call Python overhead.

On the small networks of the 2-D chapters a training step is dominated by per-call work, not
arithmetic: ``torch.optim.Adam.step`` spends more time on hooks, state look-ups and grouping
tensors by device than in its fused update kernel. :class:`Stepper` makes the same update
with that work done once: for a fused Adam it calls the fused kernel directly with the state
lists it collected after the first step (bit-identical to ``opt.step()``; a test checks this);
for every other optimizer it simply calls ``opt.step()``. The optimizer itself is untouched,
so its ``state_dict`` and ``load_state_dict`` (checkpoints) work as usual.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["Stepper"]


class Stepper:
    """``zero_grad()`` and ``step()`` of one optimizer, made cheap for a fused Adam."""

    def __init__(self, opt: torch.optim.Optimizer):
        self.opt = opt
        self.params: list[Tensor] = [p for group in opt.param_groups for p in group["params"]]
        self.direct = _fused_adam_callable(opt)
        self._state: tuple | None = None  # (opt.state it was read from, exp_avgs, exp_avg_sqs, steps)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        grads = [p.grad for p in self.params]
        state = self._adam_state() if self.direct else None
        if state is None or any(g is None for g in grads):
            self.opt.step()  # first step (creates the state), missing gradients, other optimizers
            return
        exp_avgs, exp_avg_sqs, steps = state
        group = self.opt.param_groups[0]
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            self.params, grads, exp_avgs, exp_avg_sqs, [], steps,
            amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
            weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
            grad_scale=None, found_inf=None,
        )

    def _adam_state(self) -> tuple | None:
        """The optimizer's per-parameter state as lists, re-read whenever ``opt.state`` is a new
        object (``load_state_dict`` replaces it); None until every parameter has state."""
        st = self.opt.state
        if self._state is None or self._state[0] is not st:
            if not all(p in st and "exp_avg" in st[p] for p in self.params):
                return None
            self._state = (st, [st[p]["exp_avg"] for p in self.params],
                           [st[p]["exp_avg_sq"] for p in self.params], [st[p]["step"] for p in self.params])
        return self._state[1:]


def _fused_adam_callable(opt: torch.optim.Optimizer) -> bool:
    """True for a plain fused Adam (one group, no AMSGrad/maximize/capturable/decoupled decay)
    whose parameters share one device and dtype: the case where calling the fused kernel
    directly is exactly what ``opt.step()`` would do."""
    if type(opt) is not torch.optim.Adam or len(opt.param_groups) != 1 or not hasattr(torch, "_fused_adam_"):
        return False
    g = opt.param_groups[0]
    plain = g.get("fused") and not any(g.get(k) for k in ("amsgrad", "maximize", "capturable", "differentiable", "decoupled_weight_decay"))
    params = g["params"]
    same = len({(p.device, p.dtype) for p in params}) == 1
    return bool(plain and params and same and not isinstance(g["lr"], Tensor))
