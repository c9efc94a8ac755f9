"""The Dirac-GAN of Mescheder et al. (2018): a GAN small enough to analyse by hand.

The data distribution is a point mass at 0, the generator is a point mass δ_θ at its one
parameter θ, and the discriminator is linear, D_ψ(x) = ψ·x. With f(t) = −log(1 + e^{−t}) the
GAN objective becomes

    L(θ, ψ) = f(ψθ) + f(0),

which the discriminator maximises over ψ and the generator minimises over θ. Its only
equilibrium is (θ, ψ) = (0, 0). Training follows the *vector field*

    v(θ, ψ) = (−∂L/∂θ, ∂L/∂ψ) = (−ψ f′(ψθ), θ f′(ψθ)),      f′(t) = σ(−t),

i.e. gradient descent for θ and gradient ascent for ψ, both written as "+ step · v".

Games (:data:`GAMES`, built with :func:`game`):

=============  =========================================  ==========================================
name           v_θ                                        v_ψ
=============  =========================================  ==========================================
``gan``        −ψ f′(ψθ)                                  θ f′(ψθ)
``nsgan``      −ψ f′(−ψθ)  (non-saturating G loss)        θ f′(ψθ)
``wgan``       −ψ                                         θ, then ψ is clipped to [−c, c]
``wgan_gp``    −ψ                                         θ − γ(‖ψ‖ − g₀)·sign ψ
``r1``         −ψ f′(ψθ)                                  θ f′(ψθ) − γψ
``nsgan_r1``   −ψ f′(−ψθ)                                 θ f′(ψθ) − γψ
=============  =========================================  ==========================================

``r1`` is the penalty (γ/2)·E_{p_data}‖∇ₓD‖² = (γ/2)ψ² (the gradient of ψx is ψ), so its
weight is the book's γ. In ``wgan_gp`` the term is the ψ-derivative of (γ/2)(‖ψ‖ − g₀)² (‖ψ‖ = ‖∇ₓD‖), so
γ here is 2λ for a WGAN-GP penalty written λ(‖∇D‖ − g₀)².

Facts the tests check (f′(0) = 1/2):

* The Jacobian of ``gan`` at (0, 0) is [[0, −f′(0)], [f′(0), 0]], eigenvalues ±i/2: purely
  imaginary, so the continuous flow circles the equilibrium. In fact θ² + ψ² is conserved
  exactly by the flow of ``gan`` (both components share the factor f′(ψθ)).
* One simultaneous gradient step of ``gan`` multiplies θ² + ψ² by exactly 1 + h²f′(ψθ)² > 1
  (≈ 1 + h²/4 near 0): simultaneous gradient descent spirals outwards.
* ``r1`` has eigenvalues −γ/2 ± √(γ²/4 − f′(0)²) at (0, 0): real parts < 0 for every γ > 0,
  complex below the critical γ = 2f′(0) = 1 and real above.

Vector fields work elementwise on floats, NumPy arrays or torch tensors (so a quiver plot over
a grid is one call); :func:`simulate` runs the discrete dynamics in float64 NumPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GAMES",
    "Game",
    "game",
    "f",
    "f_prime",
    "F_PRIME_0",
    "vector_field",
    "project",
    "simulate",
    "MODES",
    "jacobian",
    "jacobian_eigenvalues",
    "step_matrix",
    "step_eigenvalues",
    "squared_norm",
]

#: Names accepted by :func:`game`.
GAMES = ("gan", "nsgan", "wgan", "wgan_gp", "r1", "nsgan_r1")

#: Update schemes accepted by :func:`simulate`.
MODES = ("simultaneous", "alternating", "flow")

#: f′(0) = σ(0) = 1/2.
F_PRIME_0 = 0.5


@dataclass(frozen=True)
class Game:
    """A Dirac-GAN variant: a name from :data:`GAMES` and its parameters.

    ``gamma`` is the regulariser weight γ (``r1``, ``nsgan_r1``, ``wgan_gp``), ``clip`` the box
    [−c, c] that ``wgan`` clips ψ to, ``g0`` the target gradient norm of ``wgan_gp``. Parameters
    a game does not use are ignored.
    """

    name: str = "gan"
    gamma: float = 1.0
    clip: float = 0.3
    g0: float = 0.3

    def __post_init__(self):
        if self.name not in GAMES:
            raise ValueError(f"unknown Dirac-GAN game {self.name!r}; choose one of {', '.join(GAMES)}")
        for field in ("gamma", "clip", "g0"):
            value = getattr(self, field)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{field} must be a finite number ≥ 0, got {value!r}")
        if self.name == "wgan" and self.clip <= 0:
            raise ValueError("clip must be > 0 for 'wgan'")

    def __str__(self) -> str:
        params = {"wgan": f"c={self.clip:g}", "wgan_gp": f"γ={self.gamma:g}, g₀={self.g0:g}",
                  "r1": f"γ={self.gamma:g}", "nsgan_r1": f"γ={self.gamma:g}"}.get(self.name)
        return f"{self.name} ({params})" if params else self.name


def game(spec: "Game | str" = "gan", **params) -> Game:
    """A :class:`Game` from a name and keyword parameters (``game("r1", gamma=0.3)``), or ``spec`` itself."""
    if isinstance(spec, Game):
        return Game(spec.name, **{"gamma": spec.gamma, "clip": spec.clip, "g0": spec.g0, **params}) if params else spec
    return Game(spec, **params)


# ---------------------------------------------------------------------------------------------
# Elementwise functions for floats, NumPy arrays and torch tensors


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _sigmoid(x):
    if _is_torch(x):
        import torch

        return torch.sigmoid(x)
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _abs(x):
    return x.abs() if _is_torch(x) else np.abs(x)


def _sign(x):
    return x.sign() if _is_torch(x) else np.sign(x)


def _clip(x, c):
    return x.clamp(-c, c) if _is_torch(x) else np.clip(x, -c, c)


def _pair(theta, psi):
    """Make θ and ψ the same kind: torch if either is a tensor, else float64 NumPy."""
    if _is_torch(theta) or _is_torch(psi):
        import torch

        ref = theta if _is_torch(theta) else psi
        return torch.as_tensor(theta, dtype=ref.dtype), torch.as_tensor(psi, dtype=ref.dtype)
    return np.asarray(theta, dtype=float), np.asarray(psi, dtype=float)


def _unwrap(x, like):
    """A 0-d NumPy result becomes a Python float when the inputs were plain numbers."""
    if not _is_torch(x) and np.ndim(x) == 0 and not isinstance(like, np.ndarray):
        return float(x)
    return x


def f(t):
    """f(t) = −log(1 + e^{−t}) = log σ(t), computed stably."""
    if _is_torch(t):
        import torch

        return -torch.nn.functional.softplus(-t)
    t = np.asarray(t, dtype=float)
    return _unwrap(-(np.maximum(-t, 0) + np.log1p(np.exp(-np.abs(t)))), t)


def f_prime(t):
    """f′(t) = σ(−t)."""
    return _sigmoid(-t) if _is_torch(t) else _unwrap(_sigmoid(-np.asarray(t, dtype=float)), t)


# ---------------------------------------------------------------------------------------------
# The vector field and the dynamics


def vector_field(theta, psi, g: "Game | str" = "gan", **params):
    """(v_θ, v_ψ) of game ``g`` at (θ, ψ), elementwise.

    θ and ψ are floats, NumPy arrays or torch tensors of broadcastable shapes; the result has
    their broadcast shape (floats in, floats out). Both components are *update directions*:
    a gradient step is (θ, ψ) ← (θ, ψ) + h·(v_θ, v_ψ). The ``wgan`` clipping is not part of
    the field; :func:`project` applies it after a step.
    """
    g = game(g, **params)
    like = theta
    theta, psi = _pair(theta, psi)
    prod = psi * theta
    fp = _sigmoid(-prod)  # f′(ψθ)
    if g.name in ("gan", "r1"):
        v_theta = -psi * fp
    elif g.name in ("nsgan", "nsgan_r1"):
        v_theta = -psi * _sigmoid(prod)  # f′(−ψθ) = σ(ψθ)
    else:  # wgan, wgan_gp
        v_theta = -psi * 1.0
    if g.name in ("gan", "nsgan"):
        v_psi = theta * fp
    elif g.name in ("r1", "nsgan_r1"):
        v_psi = theta * fp - g.gamma * psi
    elif g.name == "wgan":
        v_psi = theta * 1.0
    else:  # wgan_gp
        v_psi = theta - g.gamma * (_abs(psi) - g.g0) * _sign(psi)
    if not _is_torch(v_theta):
        v_theta, v_psi = np.broadcast_arrays(v_theta, v_psi)
        return _unwrap(np.array(v_theta), like), _unwrap(np.array(v_psi), like)
    return v_theta, v_psi


def project(theta, psi, g: "Game | str" = "gan", **params):
    """Apply the game's constraint after a step: ``wgan`` clips ψ to [−c, c]; others pass through."""
    g = game(g, **params)
    if g.name == "wgan":
        return theta, _clip(psi, g.clip)
    return theta, psi


def squared_norm(trajectory) -> np.ndarray:
    """θ² + ψ² along a trajectory from :func:`simulate` (last axis (θ, ψ))."""
    trajectory = np.asarray(trajectory)
    return trajectory[..., 0] ** 2 + trajectory[..., 1] ** 2


def simulate(
    g: "Game | str",
    theta0=1.0,
    psi0=1.0,
    *,
    lr: float = 0.2,
    steps: int = 500,
    mode: str = "simultaneous",
    n_critic: int = 1,
    lr_psi: float | None = None,
    **params,
) -> np.ndarray:
    """Trajectory of gradient steps on game ``g`` from (θ₀, ψ₀): array ``[steps + 1, ..., 2]``.

    Row 0 is the (projected) start, row k the state after k steps; the last axis is (θ, ψ).
    θ₀ and ψ₀ may be arrays (of broadcastable shape S) to run many starts at once; the result
    is then ``[steps + 1, *S, 2]``. ``lr`` is the step size h of θ; ψ uses ``lr_psi`` (default
    ``lr``). Computed in float64 NumPy; a diverging run may reach inf/nan without warnings.

    ``mode``:

    * ``"simultaneous"``: both players step from the same point,
      (θ, ψ) ← (θ + h·v_θ(θ, ψ), ψ + h·v_ψ(θ, ψ)).
    * ``"alternating"``: first θ ← θ + h·v_θ(θ, ψ), then ``n_critic`` times ψ ← ψ + h·v_ψ(θ, ψ)
      with the *new* θ. The generator moves first, as in the paper's Dirac-GAN notebook
      (``trajectory_altgd``), so trajectories and step matrices match its figures. (gancore's
      trainer updates D first; on a trajectory that only shifts which half-step is recorded.)
    * ``"flow"``: the continuous-time flow dθ/dt = v_θ, dψ/dt = v_ψ, integrated with classical
      Runge-Kutta (RK4) at time step ``lr`` — the ``h → 0`` limit of both schemes.

    The ``wgan`` clipping (:func:`project`) is applied after every update.
    """
    g = game(g, **params)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be an integer ≥ 0, got {steps!r}")
    if not isinstance(n_critic, int) or isinstance(n_critic, bool) or n_critic < 1:
        raise ValueError(f"n_critic must be a positive integer, got {n_critic!r}")
    h_theta = float(lr)
    h_psi = float(lr if lr_psi is None else lr_psi)
    theta, psi = np.broadcast_arrays(np.asarray(theta0, dtype=float), np.asarray(psi0, dtype=float))
    theta, psi = project(theta.copy(), psi.copy(), g)
    out = np.empty((steps + 1, *theta.shape, 2))
    out[0, ..., 0], out[0, ..., 1] = theta, psi

    def field(t, p):
        return vector_field(np.asarray(t), np.asarray(p), g)

    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            if mode == "simultaneous":
                v_t, v_p = field(theta, psi)
                theta, psi = project(theta + h_theta * v_t, psi + h_psi * v_p, g)
            elif mode == "alternating":
                v_t, _ = field(theta, psi)
                theta, psi = project(theta + h_theta * v_t, psi, g)
                for _ in range(n_critic):
                    _, v_p = field(theta, psi)
                    theta, psi = project(theta, psi + h_psi * v_p, g)
            else:  # flow (RK4); ψ's time step is scaled by lr_psi/lr
                scale = h_psi / h_theta if h_theta else 1.0
                h = h_theta

                def rhs(t, p):
                    a, b = field(t, p)
                    return a, scale * b

                k1 = rhs(theta, psi)
                k2 = rhs(theta + h / 2 * k1[0], psi + h / 2 * k1[1])
                k3 = rhs(theta + h / 2 * k2[0], psi + h / 2 * k2[1])
                k4 = rhs(theta + h * k3[0], psi + h * k3[1])
                theta = theta + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
                psi = psi + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
                theta, psi = project(theta, psi, g)
            out[k, ..., 0], out[k, ..., 1] = theta, psi
    return out


# ---------------------------------------------------------------------------------------------
# Linear analysis at the equilibrium (0, 0)


def _closed_form_jacobian(g: Game) -> np.ndarray:
    a = F_PRIME_0
    if g.name in ("gan", "nsgan"):
        return np.array([[0.0, -a], [a, 0.0]])
    if g.name in ("r1", "nsgan_r1"):
        return np.array([[0.0, -a], [a, -g.gamma]])
    if g.name == "wgan":
        return np.array([[0.0, -1.0], [1.0, 0.0]])  # the clip box does not bind near ψ = 0
    # wgan_gp: v_ψ = θ − γψ + γ g₀ sign ψ
    if g.g0 == 0:
        return np.array([[0.0, -1.0], [1.0, -g.gamma]])
    raise ValueError(
        "the wgan_gp field θ − γ(|ψ| − g₀)·sign ψ jumps by 2γg₀ across ψ = 0 when g₀ > 0, "
        "so it has no Jacobian at (0, 0); simulate it instead (or use g0=0)"
    )


def jacobian(
    g: "Game | str" = "gan",
    theta: float = 0.0,
    psi: float = 0.0,
    *,
    method: str = "closed",
    eps: float = 1e-6,
    **params,
) -> np.ndarray:
    """The 2×2 Jacobian ∂(v_θ, v_ψ)/∂(θ, ψ) of game ``g``.

    ``method="closed"`` gives the closed form at the equilibrium (0, 0) only:
    [[0, −f′(0)], [f′(0), 0]] for ``gan``/``nsgan``, [[0, −f′(0)], [f′(0), −γ]] for
    ``r1``/``nsgan_r1``, [[0, −1], [1, 0]] for ``wgan`` and [[0, −1], [1, −γ]] for ``wgan_gp``
    with g₀ = 0 (with g₀ > 0 the field is discontinuous at ψ = 0 and this raises ValueError).
    ``method="fd"`` uses central finite differences of :func:`vector_field` at any (θ, ψ).
    Rows are (v_θ, v_ψ), columns (θ, ψ).
    """
    g = game(g, **params)
    if method == "closed":
        if theta != 0 or psi != 0:
            raise ValueError("the closed-form Jacobian is only available at the equilibrium (0, 0); use method='fd'")
        return _closed_form_jacobian(g)
    if method != "fd":
        raise ValueError(f"unknown method {method!r}; use 'closed' or 'fd'")
    J = np.empty((2, 2))
    for col, (dt, dp) in enumerate(((eps, 0.0), (0.0, eps))):
        plus = vector_field(theta + dt, psi + dp, g)
        minus = vector_field(theta - dt, psi - dp, g)
        J[:, col] = [(plus[i] - minus[i]) / (2 * eps) for i in range(2)]
    return J


def _eig2(J: np.ndarray) -> np.ndarray:
    """Eigenvalues of a real 2×2 matrix from its trace and determinant, sorted by (real, imag)."""
    tr, det = J[0, 0] + J[1, 1], J[0, 0] * J[1, 1] - J[0, 1] * J[1, 0]
    root = np.sqrt(complex(tr * tr / 4 - det))
    return np.array(sorted((tr / 2 - root, tr / 2 + root), key=lambda z: (z.real, z.imag)))


def jacobian_eigenvalues(g: "Game | str" = "gan", *, method: str = "closed", **params) -> np.ndarray:
    """The two (complex) eigenvalues of the Jacobian at (0, 0), sorted by real then imaginary part.

    For ``gan``: ±i·f′(0) = ±i/2. For ``r1``: −γ/2 ± √(γ²/4 − f′(0)²). The continuous flow
    converges locally iff both real parts are < 0.
    """
    return _eig2(jacobian(g, method=method, **params))


def step_matrix(
    g: "Game | str" = "gan",
    *,
    lr: float = 0.2,
    mode: str = "simultaneous",
    n_critic: int = 1,
    lr_psi: float | None = None,
    **params,
) -> np.ndarray:
    """The linearisation at (0, 0) of one step of :func:`simulate` (2×2 matrix).

    Simultaneous: I + H·J with H = diag(h_θ, h_ψ). Alternating (θ first, then ``n_critic``
    ψ-steps): B^{n_critic}·A with A = [[1 + h_θJ₁₁, h_θJ₁₂], [0, 1]] and
    B = [[1, 0], [h_ψJ₂₁, 1 + h_ψJ₂₂]]. Near the equilibrium the iterates converge iff both
    eigenvalues of this matrix have modulus < 1 (:func:`step_eigenvalues`).
    """
    g = game(g, **params)
    J = jacobian(g)
    h_t, h_p = float(lr), float(lr if lr_psi is None else lr_psi)
    if mode == "simultaneous":
        return np.eye(2) + np.diag([h_t, h_p]) @ J
    if mode == "alternating":
        A = np.array([[1 + h_t * J[0, 0], h_t * J[0, 1]], [0.0, 1.0]])
        B = np.array([[1.0, 0.0], [h_p * J[1, 0], 1 + h_p * J[1, 1]]])
        return np.linalg.matrix_power(B, n_critic) @ A
    raise ValueError(f"step_matrix supports modes 'simultaneous' and 'alternating', got {mode!r}")


def step_eigenvalues(g: "Game | str" = "gan", **kwargs) -> np.ndarray:
    """Eigenvalues of :func:`step_matrix` (same arguments); both of modulus < 1 means local convergence."""
    return _eig2(step_matrix(g, **kwargs))
