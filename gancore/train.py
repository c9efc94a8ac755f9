"""The training engine: :class:`TrainConfig`, :func:`fit` and the :class:`Run` it returns.

One training *step* is ``n_critic`` discriminator updates followed by one generator update.
The generator's output from the last critic update is reused (detached for D, attached for G),
so a step with ``n_critic=1`` runs G forward once. Per-step statistics stay on the device and
are copied to the host every ``log_every`` steps, where they are also checked for NaN/inf.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import io
import math
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from torch.nn.parallel import DistributedDataParallel

from . import checkpoint as ckpt
from . import distributed
from .errors import CheckpointError, ConfigError, TrainingDiverged, TrainingInterrupted
from .augment import diffaugment, parse_policy
from .losses import get_loss
from .models import NORMS, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from .penalties import PENALTIES, clip_weights_, gradient_penalty, squared_gradient_norm
from .optim import Stepper

__all__ = ["TrainConfig", "Run", "fit", "build_models", "load_run", "resolve_device", "real_sampler", "lr_factor", "HISTORY_COLUMNS"]

#: Columns of ``Run.history`` besides ``step``. ``d_real``/``d_fake`` are mean logits (scores).
#: ``skipped`` counts the updates (D and G) skipped for non-finite values (``skip_nonfinite``).
HISTORY_COLUMNS = ("d_loss", "g_loss", "penalty", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "skipped")

#: Default weight per penalty when none is given: λ for GP, γ for R1/R2, c for clipping.
DEFAULT_PENALTY_WEIGHT = {"none": 0.0, "gp": 10.0, "gp_one_sided": 10.0, "r1": 1.0, "r2": 1.0, "clip": 0.01}

#: Fields that may change when a run is resumed; every other field must match the checkpoint.
RESUMABLE_FIELDS = ("steps", "device", "checkpoint_every", "log_every", "skip_nonfinite", "compile")

#: Penalties that differentiate through D's input gradient (double backward), which
#: ``torch.compile`` does not support: with them only G is compiled.
DOUBLE_BACKWARD_PENALTIES = ("gp", "gp_one_sided", "r1", "r2")


@dataclass
class TrainConfig:
    """Everything that defines a training run. Field names match the CLI flags (``--lr-g``...).

    ``penalty_weight`` is λ for ``gp``, γ for ``r1``/``r2`` (the trainer adds (γ/2)·penalty) and
    the clip value c for ``clip``; ``None`` takes the penalty's standard weight (λ = 10, γ = 1, c = 0.01). ``ema`` is the
    EMA decay β_ema of the averaged generator (0 turns it off). ``hidden`` is the MLP width, or
    the DCGAN channel width for images. ``amp`` enables bf16 autocast on CUDA (ignored on CPU;
    penalties take the gradient norm in fp32). ``compile`` runs G (and D, unless the penalty needs
    double backward) through ``torch.compile``: off by default, and slower than eager on small CPU
    models; on CUDA, conv nets also train in the channels_last memory format.
    ``lr_decay`` is the fraction of training, at the end, over which both learning rates fall
    to 0 along a half cosine (0 keeps them constant; 0.5 decays over the second half).
    ``augment`` is a DiffAugment policy such as ``"color,translation,cutout"`` (images only),
    applied to real and fake inputs of D in both steps.
    ``skip_nonfinite`` skips (and counts in ``history["skipped"]``) any update whose loss,
    penalty or gradient norm is NaN/inf instead of stopping; it costs one host sync per update.
    """

    data: str = "ring"
    loss: str = "nonsaturating"
    penalty: str = "none"
    penalty_weight: float | None = None
    penalty_every: int = 1
    n_critic: int = 1
    steps: int = 2000
    batch_size: int = 256
    hidden: int = 128
    z_dim: int = 2
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_decay: float = 0.0
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    optimizer: str = "adam"
    d_norm: str = "none"
    spectral_norm: bool = False
    seed: int = 0
    device: str = "auto"
    ema: float = 0.999
    augment: str = "none"
    amp: bool = True
    compile: bool = False
    checkpoint_every: int = 0
    log_every: int = 50
    skip_nonfinite: bool = False

    def __post_init__(self):
        self.betas_g = tuple(self.betas_g)
        self.betas_d = tuple(self.betas_d)
        if self.penalty_weight is None and self.penalty in DEFAULT_PENALTY_WEIGHT:
            self.penalty_weight = DEFAULT_PENALTY_WEIGHT[self.penalty]

    def validate(self) -> "TrainConfig":
        """Raise :class:`ConfigError` naming the first bad field; return self."""
        get_loss(self.loss)
        _choice("penalty", self.penalty, PENALTIES)
        _choice("optimizer", self.optimizer, ("adam", "rmsprop"))
        _choice("d_norm", self.d_norm, NORMS)
        for name in ("n_critic", "steps", "batch_size", "hidden", "z_dim", "log_every", "penalty_every"):
            _positive_int(name, getattr(self, name))
        for name in ("checkpoint_every", "seed"):
            _non_negative_int(name, getattr(self, name))
        for name in ("lr_g", "lr_d"):
            _positive_float(name, getattr(self, name))
        if not _is_finite_number(self.penalty_weight) or self.penalty_weight < 0:
            raise ConfigError(f"penalty_weight must be a finite number ≥ 0, got {self.penalty_weight!r}")
        if self.penalty_every > 1 and self.penalty not in ("r1", "r2"):
            raise ConfigError(f"penalty_every > 1 (lazy regularisation) applies to r1 and r2, not {self.penalty!r}")
        if self.penalty == "clip" and self.penalty_weight <= 0:
            raise ConfigError("penalty_weight (the clip value c) must be > 0 with penalty 'clip'")
        if not _is_finite_number(self.lr_decay) or not 0 <= self.lr_decay <= 1:
            raise ConfigError(f"lr_decay must be in [0, 1], got {self.lr_decay!r}")
        if not _is_finite_number(self.ema) or not 0 <= self.ema < 1:
            raise ConfigError(f"ema must be in [0, 1), got {self.ema!r}")
        for name in ("betas_g", "betas_d"):
            betas = getattr(self, name)
            if len(betas) != 2 or not all(_is_finite_number(b) and 0 <= b < 1 for b in betas):
                raise ConfigError(f"{name} must be two numbers in [0, 1), got {betas!r}")
        parse_policy(self.augment)
        resolve_device(self.device)
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas_g"], d["betas_d"] = list(self.betas_g), list(self.betas_d)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return cls(**d)


def _choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")


def _is_finite_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) < float("inf")


def _positive_int(name, x):
    if not isinstance(x, int) or isinstance(x, bool) or x <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {x!r}")


def _non_negative_int(name, x):
    if not isinstance(x, int) or isinstance(x, bool) or x < 0:
        raise ConfigError(f"{name} must be an integer ≥ 0, got {x!r}")


def _positive_float(name, x):
    if not _is_finite_number(x) or x <= 0:
        raise ConfigError(f"{name} must be a positive number, got {x!r}")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA if available, then MPS, then CPU; otherwise the named device, checked."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {name!r} requested but MPS is not available")
    return device


def data_shape(data) -> tuple[int, ...]:
    """Shape of one sample: (2,) for toy datasets, (C, H, W) for an image tensor."""
    if isinstance(data, Tensor):
        return tuple(data.shape[1:])
    return (2,)


def build_models(config: TrainConfig, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator that ``config`` describes for samples of ``shape``.

    Initialised from ``config.seed`` without touching the global random state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if len(shape) == 1:
            G = MLPGenerator(config.z_dim, config.hidden, shape[0])
            D = MLPDiscriminator(shape[0], config.hidden, norm=config.d_norm, spectral_norm=config.spectral_norm)
        elif len(shape) == 3 and shape[1] == shape[2]:
            channels, size = shape[0], shape[1]
            G = DCGANGenerator(config.z_dim, size, channels, config.hidden)
            D = DCGANDiscriminator(size, channels, config.hidden, norm=config.d_norm, spectral_norm=config.spectral_norm)
        else:
            raise ConfigError(f"no model for samples of shape {shape}: use 2-D points or square C×H×W images")
    return G, D


@dataclass
class Run:
    """A trained (or training) GAN: networks, configuration and per-step history.

    ``history`` maps ``"step"`` and each of :data:`HISTORY_COLUMNS` to a list of floats, one
    entry per step (``pandas.DataFrame(run.history)`` makes a table of it).
    """

    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    config: TrainConfig
    history: dict[str, list]
    step: int = 0
    run_dir: Path | None = None
    shape: tuple[int, ...] = (2,)

    @property
    def generator(self) -> nn.Module:
        """The EMA generator when there is one, else G."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, ema: bool = True) -> Tensor:
        """``n`` samples on the CPU from the EMA generator (or G with ``ema=False``)."""
        net = self.generator if ema else self.G
        device = next(net.parameters()).device
        z = torch.randn(n, self.config.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
        was_training = net.training
        net.eval()
        try:
            return torch.cat([net(chunk) for chunk in z.split(4096)]).float().cpu()
        finally:
            net.train(was_training)


class _Trainer:
    """State of one training run; :func:`fit` is its public face."""

    def __init__(self, G: nn.Module, D: nn.Module, data, config: TrainConfig, device: torch.device, *, world: int = 1, rank: int = 0):
        self.cfg = config
        self.device = device
        self.world, self.rank = world, rank
        self.batch = distributed.local_batch_size(config.batch_size, world)  # global batch kept
        self.G, self.D = G.to(device), D.to(device)
        # the modules called in training: DDP wrappers (averaging gradients) when distributed;
        # G's step calls the bare D, whose weights it does not update
        self.shape = data_shape(data)
        self.memory_format = memory_format(device, self.shape)
        if self.memory_format is torch.channels_last:
            self.G, self.D = self.G.to(memory_format=torch.channels_last), self.D.to(memory_format=torch.channels_last)
        self.G_train, self.D_train = self.G, self.D
        if world > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.G_train, self.D_train = DistributedDataParallel(self.G, device_ids=ids), DistributedDataParallel(self.D, device_ids=ids)
        if config.compile:
            self.G_train = torch.compile(self.G_train)
            if config.penalty not in DOUBLE_BACKWARD_PENALTIES:
                self.D_train = torch.compile(self.D_train)
        self.G_ema = _make_ema(self.G) if config.ema > 0 else None
        # parameter and buffer lists, collected once: walking the modules every step costs
        # more than the arithmetic of a small network
        self._g_tensors, self._d_params = _tensors(self.G), list(self.D.parameters())
        self._ema_tensors = _tensors(self.G_ema) if self.G_ema is not None else None
        self.loss = get_loss(config.loss)
        self.opt_g = _optimizer(config, self.G.parameters(), config.lr_g, config.betas_g)
        self.opt_d = _optimizer(config, self.D.parameters(), config.lr_d, config.betas_d)
        self.step_g, self.step_d = Stepper(self.opt_g), Stepper(self.opt_d)
        self.rng = torch.Generator(device=device).manual_seed(distributed.rank_seed(config.seed, rank))
        self.sample_real = real_sampler(distributed.shard(data, rank, world), device, self.rng)
        self._augments = bool(parse_policy(config.augment))
        if self._augments and len(self.shape) != 3:
            raise ConfigError(f"augment {config.augment!r} needs image data (N×C×H×W), not {config.data!r}")
        self.step = 0
        self.history: dict[str, list] = {"step": [], **{c: [] for c in HISTORY_COLUMNS}}
        self._pending: list[Tensor] = []
        self._zero = torch.zeros((), device=device)
        self._autocast = (
            (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
            if config.amp and device.type == "cuda"
            else contextlib.nullcontext
        )

    # ----- one step -------------------------------------------------------------------
    def augment(self, x: Tensor) -> Tensor:
        """DiffAugment with the configured policy (identity for ``"none"``)."""
        return diffaugment(x, self.cfg.augment, generator=self.rng) if self._augments else x

    def noise(self, n: int) -> Tensor:
        return torch.randn(n, self.cfg.z_dim, generator=self.rng, device=self.device)

    def set_learning_rates(self) -> None:
        """Scale both learning rates by :func:`lr_factor` for the current step (stateless, so
        a resumed run gets exactly the same rates)."""
        factor = lr_factor(self.step, self.cfg.steps, self.cfg.lr_decay)
        for opt, base in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = base * factor

    def train_step(self) -> None:
        cfg = self.cfg
        if cfg.lr_decay:
            self.set_learning_rates()
        skipped = self._zero
        for i in range(cfg.n_critic):
            real = self.sample_real(self.batch).contiguous(memory_format=self.memory_format)
            last = i == cfg.n_critic - 1
            with torch.set_grad_enabled(last), self._autocast():
                fake = self.G_train(self.noise(self.batch))
            d_stats = self.d_step(real, fake.detach(), (self.step * cfg.n_critic + i) % cfg.penalty_every == 0)
            skipped = skipped + d_stats[-1]
        g_stats = self.g_step(fake)
        if self.G_ema is not None:
            _update_ema(self._ema_tensors, self._g_tensors, self.cfg.ema, self.step)
        self.step += 1
        d_loss, penalty, d_real, d_fake, grad_norm_d, _ = d_stats
        g_loss, grad_norm_g, skipped_g = g_stats
        row = [d_loss, g_loss, penalty, d_real, d_fake, grad_norm_d, grad_norm_g, skipped + skipped_g]
        self._pending.append(torch.stack(row).float())

    def d_step(self, real: Tensor, fake: Tensor, with_penalty: bool = True) -> tuple[Tensor, ...]:
        """One update of D; ``with_penalty=False`` leaves out a lazy R1/R2 penalty this step."""
        cfg, D = self.cfg, self.D_train
        penalty_on = {"r1": real, "r2": fake}.get(cfg.penalty) if with_penalty else None
        if penalty_on is not None:
            penalty_on.requires_grad_(True)
        _set_requires_grad(self._d_params, True)
        with self._autocast():
            real_logits, fake_logits = D(self.augment(real)), D(self.augment(fake))
            loss = self.loss.d_loss(real_logits.float(), fake_logits.float())
            if penalty_on is not None:
                logits = real_logits if cfg.penalty == "r1" else fake_logits
                penalty = squared_gradient_norm(logits, penalty_on)
                total = loss + 0.5 * cfg.penalty_weight * cfg.penalty_every * penalty
            elif cfg.penalty in ("gp", "gp_one_sided"):
                penalty = gradient_penalty(D, real, fake, generator=self.rng, one_sided=cfg.penalty == "gp_one_sided")
                total = loss + cfg.penalty_weight * penalty
            else:  # no penalty, a clip (applied after the update) or a lazy step without R1/R2
                penalty, total = self._zero, loss
        self.step_d.zero_grad()
        total.backward()
        grad_norm = _grad_norm(self._d_params)
        skipped = self.apply_update(self.step_d, total, grad_norm)
        if cfg.penalty == "clip":
            clip_weights_(self.D, cfg.penalty_weight)
        return loss.detach(), penalty.detach(), real_logits.detach().float().mean(), fake_logits.detach().float().mean(), grad_norm, skipped

    def g_step(self, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        _set_requires_grad(self._d_params, False)  # G's update needs no gradients for D's weights
        with self._autocast():
            loss = self.loss.g_loss(self.D(self.augment(fake)).float())
        self.step_g.zero_grad()
        loss.backward()
        grad_norm = _grad_norm(self._g_tensors[0])
        skipped = self.apply_update(self.step_g, loss, grad_norm)
        return loss.detach(), grad_norm, skipped

    def apply_update(self, stepper: Stepper, loss: Tensor, grad_norm: Tensor) -> Tensor:
        """The optimizer's step; with ``skip_nonfinite``, only when loss and gradient norm are
        finite. Returns 1.0 if the update was skipped, else 0.0 (as a tensor on the device)."""
        if self.cfg.skip_nonfinite and not bool(torch.isfinite(loss) & torch.isfinite(grad_norm)):
            stepper.zero_grad()
            return torch.ones((), device=self.device)
        stepper.step()
        return self._zero

    # ----- history ----------------------------------------------------------------------
    def flush(self) -> None:
        """Copy pending per-step statistics to the host; raise TrainingDiverged on NaN/inf."""
        if not self._pending:
            return
        rows = distributed.mean_over_ranks(torch.stack(self._pending)).double().cpu()
        first = self.step - len(rows) + 1
        self._pending = []
        bad = ~torch.isfinite(rows) & (rows[:, -1:] == 0)  # rows with skipped updates may hold NaN
        if bad.any():
            r, c = map(int, bad.nonzero()[0])
            raise TrainingDiverged(HISTORY_COLUMNS[c], first + r, float(rows[r, c]))
        self.history["step"].extend(range(first, self.step + 1))
        for c, name in enumerate(HISTORY_COLUMNS):
            self.history[name].extend(rows[:, c].tolist())

    # ----- checkpoints ------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "step": self.step,
            "config": self.cfg.to_dict(),
            "shape": list(self.shape),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.get_state(),
            "world_size": self.world,
            "rng_ranks": distributed.gather(self.rng.get_state()) if self.world > 1 else None,
            "history": {k: torch.tensor(v, dtype=torch.float64) for k, v in self.history.items()},
        }

    def load_state(self, state: dict) -> None:
        check_resumable(TrainConfig.from_dict(state["config"]), self.cfg)
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            if self.G_ema is not None:
                self.G_ema.load_state_dict(state["G_ema"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.rng.set_state(state["rng_ranks"][self.rank] if self.world > 1 else state["rng"])
        except (RuntimeError, KeyError, ValueError, TypeError) as err:
            msg = str(err).strip().splitlines()[0][:200]
            raise CheckpointError(f"checkpoint does not fit these models: {msg}") from None
        self.step = int(state["step"])
        self.history = {k: v.tolist() for k, v in state["history"].items()}
        self.history["step"] = [int(s) for s in self.history["step"]]

    def save(self, run_dir: Path) -> None:
        """Write checkpoint and history (rank 0 only; every rank must call it, at the same step)."""
        self.flush()
        state = self.state()
        if self.rank == 0:
            ckpt.save_checkpoint(run_dir / ckpt.CHECKPOINT, state)
            ckpt.atomic_write_bytes(run_dir / ckpt.HISTORY, _history_csv(self.history))

    def as_run(self, run_dir) -> Run:
        return Run(self.G, self.D, self.G_ema, self.cfg, self.history, self.step, run_dir, self.shape)


def memory_format(device: torch.device, shape: tuple[int, ...]) -> torch.memory_format:
    """channels_last for image models on CUDA (faster convolutions with tensor cores), the
    default contiguous format everywhere else (on CPU it gains little)."""
    if device.type == "cuda" and len(shape) == 3:
        return torch.channels_last
    return torch.contiguous_format


def lr_factor(step: int, steps: int, decay: float) -> float:
    """Learning-rate multiplier at 0-based ``step`` of ``steps``: 1 until the last ``decay``
    fraction of training, then ½(1 + cos(π·progress)) down to 0 at the final step."""
    start = steps * (1 - decay)
    if decay <= 0 or step < start:
        return 1.0
    progress = (step - start) / max(steps - start, 1)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _make_ema(G: nn.Module) -> nn.Module:
    ema = copy.deepcopy(G).eval()
    ema.requires_grad_(False)
    return ema


def _tensors(module: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
    """(parameters, buffers) of a module as lists."""
    return list(module.parameters()), list(module.buffers())


@torch.no_grad()
def _update_ema(ema: tuple[list, list], model: tuple[list, list], beta: float, step: int) -> None:
    """θ_ema ← β_t θ_ema + (1−β_t) θ with β_t = min(β, (1+t)/(10+t)), so early steps count less
    than they would with a constant β; buffers (batch-norm statistics) are copied. ``ema`` and
    ``model`` are (parameters, buffers) lists from :func:`_tensors`."""
    beta_t = min(beta, (1 + step) / (10 + step))
    torch._foreach_lerp_(ema[0], model[0], 1 - beta_t)
    for b_ema, b in zip(ema[1], model[1]):
        b_ema.copy_(b)


def _optimizer(cfg: TrainConfig, params, lr: float, betas) -> torch.optim.Optimizer:
    """Adam uses the fused kernel (one kernel for all parameters: on the toy MLPs it makes an
    optimizer step ~2.7× cheaper than the ``foreach`` path on CPU); RMSprop has no fused form."""
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def _set_requires_grad(params: list[Tensor], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


def _grad_norm(params: list[Tensor]) -> Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else torch.zeros(())


def real_sampler(data, device: torch.device, rng: torch.Generator) -> Callable[[int], Tensor]:
    """``n ↦ a batch of n real samples`` on ``device``, drawn with ``rng``: fresh draws from a toy
    dataset, or rows of an image tensor (moved to the device once) picked with replacement."""
    if isinstance(data, Tensor):
        images = data.to(device=device, dtype=torch.float32)
        if len(images) == 0:
            raise ConfigError("the dataset is empty")
        return lambda n: images[torch.randint(len(images), (n,), generator=rng, device=device)]
    if not callable(getattr(data, "sample", None)):
        raise ConfigError("data must be a tensor of samples or an object with .sample(n, generator=, device=)")
    return lambda n: data.sample(n, generator=rng, device=device)


def check_world_size(state: dict, world: int) -> None:
    """A run resumes exactly only with as many processes as it was trained with (each process
    continues its own random stream)."""
    saved = int(state.get("world_size", 1) or 1)
    if saved != world:
        raise ConfigError(f"cannot resume: the checkpoint was trained by {saved} process(es), this run has {world}")


def check_resumable(saved: TrainConfig, current: TrainConfig) -> None:
    """Raise ConfigError naming the first field, other than ``RESUMABLE_FIELDS``, that differs."""
    for f in dataclasses.fields(TrainConfig):
        if f.name in RESUMABLE_FIELDS:
            continue
        a, b = getattr(saved, f.name), getattr(current, f.name)
        if a != b:
            raise ConfigError(f"cannot resume: {f.name} is {b!r} but the checkpoint was trained with {a!r}")


def _history_csv(history: dict[str, list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(history.keys())
    writer.writerows(zip(*history.values()))
    return out.getvalue().encode()


def fit(
    G: nn.Module,
    D: nn.Module,
    data,
    config: TrainConfig,
    *,
    run_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    on_log: Callable[[Run], None] | None = None,
) -> Run:
    """Train ``G`` against ``D`` on ``data`` for ``config.steps`` steps in total.

    ``data`` is a toy dataset (``gancore.data.toy(...)``) or a tensor of samples (N×C×H×W).
    With ``run_dir``, the run locks the directory against a second training, writes
    ``config.json``, and ``checkpoint.pt`` at step 0, every ``config.checkpoint_every`` steps,
    at the end and on Ctrl-C, plus ``history.csv``; with ``resume=True`` it first loads
    ``run_dir/checkpoint.pt`` and continues exactly where that run stopped. ``on_log(run)`` is
    called every ``config.log_every`` steps (e.g. to take sample snapshots).

    Raises :class:`TrainingDiverged` if a loss, penalty or gradient norm becomes NaN/inf (the
    last checkpoint written before that stays on disk), and :class:`TrainingInterrupted` (a
    ``KeyboardInterrupt``) after saving a checkpoint when interrupted by SIGINT.

    Under ``torchrun`` (see :mod:`gancore.distributed`) every process runs ``fit`` with the same
    arguments: the global ``batch_size`` is split over the processes, gradients are averaged
    (DistributedDataParallel), the history holds the mean over processes, and only rank 0 locks
    ``run_dir``, writes files, shows progress and calls ``on_log``.
    """
    config.validate()
    distributed.init(config.device)
    world, rank = distributed.world_size(), distributed.rank()
    device = resolve_device(config.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    trainer = _Trainer(G, D, data, config, device, world=world, rank=rank)
    run_dir = Path(run_dir) if run_dir is not None else None
    if resume and run_dir is None:
        raise ConfigError("resume=True needs run_dir")
    with ckpt.RunLock(run_dir) if run_dir is not None and rank == 0 else contextlib.nullcontext():
        if resume:
            state = ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT)
            check_world_size(state, world)
            trainer.load_state(state)
        run = trainer.as_run(run_dir)
        if run_dir is not None:
            if rank == 0:
                ckpt.atomic_write_json(run_dir / ckpt.CONFIG, config.to_dict())
            if not resume:
                trainer.save(run_dir)  # step 0: a killed run can always be resumed
        with _sigint_requests_stop() as stop:
            _train_loop(trainer, run, progress, on_log, stop)
    return run


class _StopFlag:
    requested = False


@contextlib.contextmanager
def _sigint_requests_stop():
    """While training, turn SIGINT into a flag checked between steps (main thread only)."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _train_loop(trainer: _Trainer, run: Run, progress: bool, on_log, stop: _StopFlag) -> None:
    from tqdm.auto import tqdm

    cfg, main = trainer.cfg, trainer.rank == 0
    bar = tqdm(total=cfg.steps, initial=trainer.step, disable=not (progress and main), desc="train", unit="step", dynamic_ncols=True)
    # one process stops on its own flag at once; several agree at each log step (a collective)
    stopping = stop.requested
    try:
        while trainer.step < cfg.steps and not stopping:
            trainer.train_step()
            step = trainer.step
            logs = step % cfg.log_every == 0 or step == cfg.steps
            if logs:
                trainer.flush()
                run.step = step
                bar.update(step - bar.n)
                bar.set_postfix(d_loss=f"{trainer.history['d_loss'][-1]:.3f}", g_loss=f"{trainer.history['g_loss'][-1]:.3f}", refresh=False)
                if on_log is not None and main:
                    on_log(run)
            if run.run_dir is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                trainer.save(run.run_dir)
            if trainer.world == 1:
                stopping = stop.requested
            elif logs:
                stopping = distributed.any_rank(stop.requested, trainer.device)
        trainer.flush()
        run.step = trainer.step
        if run.run_dir is not None:
            trainer.save(run.run_dir)
    finally:
        bar.close()
    if stopping:
        raise TrainingInterrupted(trainer.step, run.run_dir)


def load_run(run_dir: str | Path, *, device: str = "cpu") -> Run:
    """Rebuild a :class:`Run` (models, EMA generator, history) from ``run_dir/checkpoint.pt``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist")
    state = ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT)
    try:
        config = TrainConfig.from_dict(state["config"])
        shape = tuple(int(s) for s in state["shape"])
    except (KeyError, TypeError, ConfigError) as err:
        raise CheckpointError(f"{run_dir / ckpt.CHECKPOINT} has no valid config ({err})") from None
    config.device = device
    G, D = build_models(config, shape)
    trainer = _Trainer(G, D, torch.zeros((1, *shape)), config, resolve_device(device))
    trainer.load_state(state)
    return trainer.as_run(run_dir)
