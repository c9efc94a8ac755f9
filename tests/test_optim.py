"""Stepper: the direct fused-Adam step must make exactly the update ``opt.step()`` makes."""

import copy

import torch
from torch import nn

from gancore.optim import Stepper


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))


def train(model, opt, step, steps, seed=1, lrs=None):
    gen = torch.Generator().manual_seed(seed)
    for t in range(steps):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[t]
        x = torch.randn(16, 3, generator=gen)
        step.zero_grad() if isinstance(step, Stepper) else opt.zero_grad(set_to_none=True)
        model(x).pow(2).mean().backward()
        step.step() if isinstance(step, Stepper) else opt.step()


def assert_same(a, b):
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def pair(**adam):
    a, b = net(), net()
    oa = torch.optim.Adam(a.parameters(), lr=1e-2, betas=(0.5, 0.99), **adam)
    ob = torch.optim.Adam(b.parameters(), lr=1e-2, betas=(0.5, 0.99), **adam)
    return a, oa, b, ob


def test_direct_fused_step_is_bit_identical_to_opt_step_with_changing_lr():
    a, oa, b, ob = pair(fused=True)
    stepper = Stepper(ob)
    assert stepper.direct
    lrs = [1e-2 * (1 - t / 40) for t in range(40)]
    train(a, oa, oa, 40, lrs=lrs)
    train(b, ob, stepper, 40, lrs=lrs)
    assert_same(a, b)
    assert [oa.state[p]["step"].item() for p in a.parameters()] == [ob.state[p]["step"].item() for p in b.parameters()] == [40.0] * 4
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), net().parameters()))  # it did train


def test_state_reloaded_from_a_state_dict_is_picked_up():
    a, oa, b, ob = pair(fused=True)
    stepper = Stepper(ob)
    train(a, oa, oa, 10)
    train(b, ob, stepper, 10)
    saved_model, saved_opt = copy.deepcopy(a.state_dict()), copy.deepcopy(oa.state_dict())
    train(a, oa, oa, 5, seed=2)
    # rewind b to the saved state: load_state_dict replaces the optimizer's state tensors
    b.load_state_dict(saved_model)
    ob.load_state_dict(saved_opt)
    train(b, ob, stepper, 5, seed=2)
    assert_same(a, b)


def test_missing_gradient_falls_back_to_opt_step():
    a, oa, b, ob = pair(fused=True)
    stepper = Stepper(ob)
    train(a, oa, oa, 3)
    train(b, ob, stepper, 3)
    for model, opt, step in ((a, oa, oa), (b, ob, stepper)):
        model[0].weight.grad = None  # only the last layer's gradients exist
        model[2].weight.grad = torch.ones_like(model[2].weight)
        model[0].bias.grad = model[2].bias.grad = None
        step.step()
    assert_same(a, b)


def test_other_optimizers_use_their_own_step():
    for make in (lambda p: torch.optim.Adam(p, foreach=True), lambda p: torch.optim.RMSprop(p, lr=1e-3),
                 lambda p: torch.optim.Adam(p, fused=True, amsgrad=True)):
        a, b = net(), net()
        oa, ob = make(a.parameters()), make(b.parameters())
        stepper = Stepper(ob)
        assert not stepper.direct
        train(a, oa, oa, 5)
        train(b, ob, stepper, 5)
        assert_same(a, b)
