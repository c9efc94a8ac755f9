"""gancore.dirac against the closed forms of the Dirac-GAN (Mescheder et al. 2018)."""

import math

import numpy as np
import pytest
import torch

from gancore import dirac
from gancore.dirac import F_PRIME_0 as A


def sigmoid(t):
    return 1 / (1 + math.exp(-t))


def test_f_and_f_prime():
    assert dirac.f(0.0) == pytest.approx(-math.log(2))
    assert dirac.f_prime(0.0) == 0.5 == A
    t = np.linspace(-40, 40, 81)
    h = 1e-6
    assert np.allclose((dirac.f(t + h) - dirac.f(t - h)) / (2 * h), dirac.f_prime(t), atol=1e-8)
    assert np.isfinite(dirac.f(np.array([-1000.0, 1000.0]))).all()  # stable at both ends
    assert torch.allclose(dirac.f_prime(torch.tensor([0.3])), torch.tensor([sigmoid(-0.3)]))


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        # θ = 0.7, ψ = −1.3, ψθ = −0.91; f′(ψθ) = σ(0.91), f′(−ψθ) = σ(−0.91)
        ("gan", {}, (1.3 * sigmoid(0.91), 0.7 * sigmoid(0.91))),
        ("nsgan", {}, (1.3 * sigmoid(-0.91), 0.7 * sigmoid(0.91))),
        ("wgan", {"clip": 0.3}, (1.3, 0.7)),
        ("wgan_gp", {"gamma": 2.0, "g0": 0.3}, (1.3, 0.7 - 2.0 * (1.3 - 0.3) * -1)),
        ("r1", {"gamma": 0.4}, (1.3 * sigmoid(0.91), 0.7 * sigmoid(0.91) + 0.4 * 1.3)),
        ("nsgan_r1", {"gamma": 0.4}, (1.3 * sigmoid(-0.91), 0.7 * sigmoid(0.91) + 0.4 * 1.3)),
    ],
)
def test_vector_field_at_a_hand_picked_point(name, params, expected):
    v = dirac.vector_field(0.7, -1.3, name, **params)
    assert isinstance(v[0], float) and isinstance(v[1], float)
    assert v == pytest.approx(expected, rel=1e-12)
    # the same through a Game object, a torch tensor and a NumPy grid
    assert dirac.vector_field(0.7, -1.3, dirac.game(name, **params)) == pytest.approx(expected)
    vt = dirac.vector_field(torch.tensor([0.7], dtype=torch.float64), torch.tensor([-1.3], dtype=torch.float64), name, **params)
    assert [float(x) for x in vt] == pytest.approx(expected)


def test_vector_field_is_vectorised_for_quiver_grids():
    theta, psi = np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-1, 1, 5))
    for name in dirac.GAMES:
        v_theta, v_psi = dirac.vector_field(theta, psi, name)
        assert v_theta.shape == v_psi.shape == (5, 7)
        for i, j in [(0, 0), (2, 3), (4, 6)]:
            assert (v_theta[i, j], v_psi[i, j]) == pytest.approx(dirac.vector_field(float(theta[i, j]), float(psi[i, j]), name))
    tt, pp = torch.meshgrid(torch.linspace(-2, 2, 7), torch.linspace(-1, 1, 5), indexing="xy")
    v_theta, v_psi = dirac.vector_field(tt, pp, "r1")
    assert isinstance(v_theta, torch.Tensor) and v_theta.shape == (5, 7)
    # broadcasting: a θ column against a ψ row
    v_theta, v_psi = dirac.vector_field(np.arange(3.0)[:, None], np.arange(4.0)[None, :], "gan")
    assert v_theta.shape == v_psi.shape == (3, 4)


def test_invalid_games():
    with pytest.raises(ValueError, match="unknown Dirac-GAN game"):
        dirac.game("lsgan")
    with pytest.raises(ValueError, match="gamma"):
        dirac.game("r1", gamma=-1)
    with pytest.raises(ValueError, match="mode"):
        dirac.simulate("gan", mode="leapfrog")


def test_unregularised_jacobian_and_eigenvalues():
    J = dirac.jacobian("gan")
    assert np.array_equal(J, [[0, -A], [A, 0]])
    assert np.allclose(dirac.jacobian("gan", method="fd"), J, atol=1e-8)
    assert np.allclose(dirac.jacobian("nsgan", method="fd"), J, atol=1e-8)
    ev = dirac.jacobian_eigenvalues("gan")
    assert np.allclose(ev, [-0.5j, 0.5j])
    assert np.allclose(dirac.jacobian_eigenvalues("gan", method="fd"), ev, atol=1e-8)
    assert np.allclose(dirac.jacobian_eigenvalues("wgan"), [-1j, 1j])


@pytest.mark.parametrize("gamma", [0.01, 0.3, 0.99, 1.0, 1.01, 3.0, 10.0])
def test_r1_eigenvalues_closed_form(gamma):
    expected = -gamma / 2 + np.array([-1, 1]) * np.sqrt(complex(gamma**2 / 4 - A**2))
    ev = dirac.jacobian_eigenvalues("r1", gamma=gamma)
    assert np.allclose(ev, sorted(expected, key=lambda z: (z.real, z.imag)))
    assert np.allclose(dirac.jacobian_eigenvalues("r1", gamma=gamma, method="fd"), ev, atol=1e-6)
    assert np.allclose(dirac.jacobian("r1", gamma=gamma), [[0, -A], [A, -gamma]])
    assert (ev.real < 0).all()  # convergent for every γ > 0
    # critical γ = 2 f′(0) = 1: complex pair below, two real eigenvalues above
    if gamma < 2 * A:
        assert (np.abs(ev.imag) > 0).all()
    elif gamma > 2 * A:
        assert np.allclose(ev.imag, 0) and ev[0].real != ev[1].real


def test_wgan_gp_with_target_norm_has_no_jacobian():
    with pytest.raises(ValueError, match="no Jacobian"):
        dirac.jacobian("wgan_gp", g0=0.3)
    assert np.allclose(dirac.jacobian("wgan_gp", gamma=2.0, g0=0.0), [[0, -1], [1, -2]])


def test_simultaneous_gd_spirals_out_by_the_closed_form_ratio():
    h = 0.2
    traj = dirac.simulate("gan", 1.0, 1.0, lr=h, steps=500, mode="simultaneous")
    assert traj.shape == (501, 2) and np.array_equal(traj[0], [1.0, 1.0])
    r2 = dirac.squared_norm(traj)
    assert (np.diff(r2) > 0).all()  # θ² + ψ² grows at every step
    # exact per-step ratio 1 + h²f′(ψθ)², which tends to 1 + h²f′(0)² near 0
    fp = dirac.f_prime(traj[:-1, 0] * traj[:-1, 1])
    assert np.allclose(r2[1:] / r2[:-1], 1 + h**2 * fp**2, rtol=1e-12)
    small = dirac.simulate("gan", 1e-4, 0.0, lr=h, steps=20)
    r2 = dirac.squared_norm(small)
    assert np.allclose(r2[1:] / r2[:-1], 1 + h**2 * A**2, rtol=1e-8)
    # the linearised step matrix I + hJ scales every squared norm by exactly 1 + h²f′(0)²
    M = dirac.step_matrix("gan", lr=h)
    assert np.allclose(M.T @ M, (1 + h**2 * A**2) * np.eye(2))
    assert np.allclose(np.abs(dirac.step_eigenvalues("gan", lr=h)), math.sqrt(1 + h**2 * A**2))


def test_alternating_gd_neither_converges_nor_diverges_on_the_unregularised_game():
    # The linearised alternating step has determinant 1 and eigenvalues on the unit circle.
    M = dirac.step_matrix("gan", lr=0.2, mode="alternating")
    assert np.linalg.det(M) == pytest.approx(1.0)
    assert np.allclose(np.abs(dirac.step_eigenvalues("gan", lr=0.2, mode="alternating")), 1.0)
    r2 = dirac.squared_norm(dirac.simulate("gan", 0.1, 0.1, lr=0.2, steps=500, mode="alternating"))
    assert 0.5 * r2[0] < r2.min() and r2.max() < 2 * r2[0]


def test_alternating_updates_theta_first_with_the_new_theta_for_psi():
    h = 0.2
    theta, psi = 1.0, 1.0
    v_theta, _ = dirac.vector_field(theta, psi, "r1", gamma=0.5)
    theta_new = theta + h * v_theta
    _, v_psi = dirac.vector_field(theta_new, psi, "r1", gamma=0.5)
    traj = dirac.simulate("r1", 1.0, 1.0, lr=h, steps=1, mode="alternating", gamma=0.5)
    assert traj[1] == pytest.approx([theta_new, psi + h * v_psi], rel=1e-14)
    # simultaneous uses the old point for both
    v = dirac.vector_field(1.0, 1.0, "r1", gamma=0.5)
    traj = dirac.simulate("r1", 1.0, 1.0, lr=h, steps=1, gamma=0.5)
    assert traj[1] == pytest.approx([1 + h * v[0], 1 + h * v[1]], rel=1e-14)


@pytest.mark.parametrize("mode", ["simultaneous", "alternating"])
def test_r1_converges_from_one_one(mode):
    traj = dirac.simulate("r1", 1.0, 1.0, lr=0.2, steps=500, mode=mode, gamma=1.0)
    assert np.abs(traj[-1]).max() < 1e-6
    assert (np.abs(dirac.step_eigenvalues("r1", gamma=1.0, lr=0.2, mode=mode)) < 1).all()


def test_continuous_flow_conserves_the_norm_of_the_unregularised_game():
    # d/dt (θ² + ψ²) = 2θ(−ψ f′) + 2ψ(θ f′) = 0; RK4 with a small step keeps it to high accuracy,
    # and Euler steps with a small lr nearly do (growth (1 + h²/4) per step near 0).
    start = dirac.squared_norm(np.array([0.1, 0.05]))
    r2 = dirac.squared_norm(dirac.simulate("gan", 0.1, 0.05, lr=0.05, steps=2000, mode="flow"))
    assert np.allclose(r2, start, rtol=1e-9)
    r2 = dirac.squared_norm(dirac.simulate("gan", 0.1, 0.05, lr=0.001, steps=2000))
    assert np.allclose(r2, start, rtol=1e-3)
    # ... and the flow really goes round: θ changes sign
    traj = dirac.simulate("gan", 0.1, 0.0, lr=0.05, steps=200, mode="flow")
    assert traj[:, 0].min() < 0 < traj[:, 0].max()


def test_wgan_clips_psi_and_many_starts_run_at_once():
    traj = dirac.simulate("wgan", 1.0, 1.0, lr=0.2, steps=50, clip=0.3)
    assert np.abs(traj[:, 1]).max() <= 0.3
    starts = np.array([0.5, 1.0, -1.0])
    many = dirac.simulate("r1", starts, 1.0, steps=30, gamma=0.3)
    assert many.shape == (31, 3, 2)
    for i, t0 in enumerate(starts):
        assert np.allclose(many[:, i], dirac.simulate("r1", t0, 1.0, steps=30, gamma=0.3))
