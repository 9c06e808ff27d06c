"""Kramers' equation on phase space: the grid method against the exact Gaussian solution of the
harmonic potential, its Maxwell–Boltzmann state, free energy, mass and positivity, and its order.

The reference for V = ω²θ²/2 is the moment ODE μ' = Aμ, Σ' = AΣ + ΣAᵀ + diag(0, 2γT),
A = [[0, 1], [−ω², −γ]]; the problem's ``exact_moments`` solves it by a matrix exponential, checked
here against ``solve_ivp`` at tolerance 1e-12. Box [−6, 6]², ω = γ = 1, T = 1/2, from
N((1, 0), I/4): the density at the walls stays below 1e-20, so the box truncates nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import pdeflow as pf
from pdeflow.errors import PdeflowError
from pdeflow.problems.kinetic import harmonic_generator, moments_vector
from pdeflow.solvers._kinetic_kernels import axis_velocity, kinetic_rate, kinetic_rate_numpy

RESOLUTIONS = (32, 64, 128)
T_END = 1.0


def _problem(n, **kw):
    grid = pf.Grid([(-6.0, 6.0), (-6.0, 6.0)], n)
    return pf.problems.kramers_harmonic(grid, omega=1.0, gamma=1.0, T=0.5, mean=(1.0, 0.0),
                                        cov=0.25, **kw)


@pytest.fixture(scope="module")
def runs():
    """``{n: (problem, trajectory)}``: the default scheme (minmod, SSP-RK3) to t = 1."""
    out = {}
    for n in RESOLUTIONS:
        p = _problem(n)
        out[n] = p, pf.solve(p, T_END, method="kinetic", snapshots=5, progress=False)
    return out


def _l1_error(p, traj):
    return p.grid.integrate(np.abs(traj.density(-1) - p.exact(T_END)))


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("periodic", [False, True])
def test_kernel_matches_its_numpy_version(order, periodic):
    """Phase space (θ, v): the kernel's array (n, 1, m, 1), against the 2D NumPy rate."""
    rng = np.random.default_rng(order)
    n, m = 7, 6
    f = rng.random((n, m))
    v = np.linspace(-2.0, 2.0, m)
    a = rng.normal(size=n)
    c, w_plus, w_minus = rng.normal(size=m - 1), rng.random(m - 1), rng.random(m - 1)
    theta_faces, none = np.zeros(n if periodic else n - 1), np.zeros(0)
    shape = (n, 1, m, 1)
    u = tuple(axis_velocity(vel, shape, k) for k, vel in enumerate(
        (v[None, None, :, None], 0.0, a[:, None, None, None], 0.0)))
    out = np.empty(shape)
    kinetic_rate(f.reshape(shape), u, (theta_faces, none, c, none),
                 (theta_faces, none, w_plus, none), (theta_faces, none, w_minus, none),
                 np.array([0.3, 1.0, 0.4, 1.0]), (periodic, False, False, False), order, out)
    expected = kinetic_rate_numpy(f, [v[None, :], a[:, None]], [theta_faces, c],
                                  [theta_faces, w_plus], [theta_faces, w_minus], [0.3, 0.4],
                                  [periodic, False], order)
    np.testing.assert_allclose(out.reshape(n, m), expected, rtol=0, atol=1e-13)
    assert abs(out.sum()) < 1e-12  # flux form: what leaves one cell enters another


def test_exact_moments_solve_the_moment_ode():
    p = _problem(16)
    A, Q = harmonic_generator(1, 1.0, 1.0, 0.5)
    mu0, cov0 = p.exact_moments(0.0)

    def rhs(t, y):
        mu, cov = y[:2], y[2:].reshape(2, 2)
        return np.concatenate([A @ mu, (A @ cov + cov @ A.T + Q).ravel()])

    sol = solve_ivp(rhs, (0.0, 2.0), np.concatenate([mu0, cov0.ravel()]), rtol=1e-12,
                    atol=1e-14, t_eval=[0.5, 2.0])
    for k, t in enumerate(sol.t):
        mu, cov = p.exact_moments(t)
        np.testing.assert_allclose(mu, sol.y[:2, k], atol=1e-10)
        np.testing.assert_allclose(cov, sol.y[2:, k].reshape(2, 2), atol=1e-10)
    # and at long times the Maxwell–Boltzmann covariance diag(T/ω², T)
    np.testing.assert_allclose(p.exact_moments(60.0)[1], np.diag([0.5, 0.5]), atol=1e-12)


def test_gaussian_moments_follow_the_moment_ode(runs):
    """Second order: at n = 128 (h = 0.094) measured |Δμ| = 6.5e-4 = 0.074 h², |ΔΣ| = 5.5e-3 =
    0.62 h²; bounded by 0.15 h² and 1.0 h² (about 2x the measurement)."""
    p, traj = runs[128]
    h = p.grid.dx[0]
    mu, cov = moments_vector(traj.diagnostics, -1)
    mu_exact, cov_exact = p.exact_moments(T_END)
    assert np.abs(mu - mu_exact).max() < 0.15 * h**2
    assert np.abs(cov - cov_exact).max() < 1.0 * h**2
    # the density ρ = ∫ f dv is recorded with every snapshot, and is the θ-marginal
    rho = traj.frames["rho"][-1]
    x = p.grid.axes[0]
    exact_rho = np.exp(-0.5 * (x - mu_exact[0]) ** 2 / cov_exact[0, 0])
    exact_rho /= np.sqrt(2 * np.pi * cov_exact[0, 0])
    assert np.sum(np.abs(rho - exact_rho)) * h < 1.5 * h**2  # measured 0.009 = 1.0 h²


def test_grid_scheme_converges_second_order(runs):
    """L1 errors 0.127, 0.0377, 0.0098 at n = 32, 64, 128: orders 1.75 and 1.95 (the minmod
    limiter clips at the extrema, so slightly below 2 on coarse grids)."""
    errors = [_l1_error(*runs[n]) for n in RESOLUTIONS]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 0.012
    assert orders[0] > 1.6 and orders[1] > 1.85


def test_first_order_upwind_converges_first_order():
    """order=1: L1 errors 0.165, 0.088 at n = 64, 128: order 0.90 (first order, approached
    from below on these grids)."""
    errors = []
    for n in (64, 128):
        p = _problem(n)
        errors.append(_l1_error(p, pf.solve(p, T_END, method="kinetic", order=1, snapshots=2,
                                            progress=False)))
    assert 0.8 < np.log2(errors[0] / errors[1]) < 1.2


def test_mass_conserved_to_round_off_and_density_positive(runs):
    for _, traj in runs.values():
        assert np.abs(traj.mass - 1.0).max() < 1e-13  # measured 2.5e-14 after 420 steps
        assert min(traj.density(i).min() for i in range(len(traj.times))) >= 0.0


def test_heavy_ball_without_noise_is_positive_conservative_and_second_order():
    """T = 0: no noise, the friction is limited transport. From N((1.5, 0), I/4) with γ = 1/2
    to t = 2 the Gaussian narrows to σ ≈ 0.3; moment errors (|Δμ|, |ΔΣ|) = (0.0119, 0.079) at
    n = 64 and (0.0028, 0.023) at n = 128: orders 2.1 and 1.8."""
    errors = []
    for n in (64, 128):
        grid = pf.Grid([(-6.0, 6.0), (-6.0, 6.0)], n)
        p = pf.problems.kramers_harmonic(grid, omega=1.0, gamma=0.5, T=0.0, mean=(1.5, 0.0),
                                         cov=0.25)
        traj = pf.solve(p, 2.0, method="kinetic", snapshots=11, progress=False)
        assert np.abs(traj.mass - 1.0).max() < 1e-13
        assert min(traj.density(i).min() for i in range(11)) >= 0.0
        assert np.all(np.diff(traj.energy) < 0)  # T = 0: ∫ f H, dissipated by the friction
        mu, cov = moments_vector(traj.diagnostics, -1)
        mu_exact, cov_exact = p.exact_moments(2.0)
        errors.append((np.abs(mu - mu_exact).max(), np.abs(cov - cov_exact).max()))
    orders = np.log2(np.array(errors[0]) / np.array(errors[1]))
    assert errors[1][0] < 0.004 and errors[1][1] < 0.03
    assert np.all(orders > 1.6)


def test_free_energy_decreases():
    """From N((1.5, 0), I/4) to t = 10 (41 snapshots), the free energy falls from 0.65 to within
    2e-3 of the Maxwell–Boltzmann value −(T/2) log(2πT)·2 = −0.572 at every snapshot."""
    grid = pf.Grid([(-6.0, 6.0), (-6.0, 6.0)], 48)
    p = pf.problems.kramers_harmonic(grid, omega=1.0, gamma=1.0, T=0.5, mean=(1.5, 0.0), cov=0.25)
    traj = pf.solve(p, 10.0, method="kinetic", snapshots=41, progress=False)
    assert np.all(np.diff(traj.energy) < 0)
    assert abs(traj.energy[-1] - (-0.5 * np.log(2 * np.pi * 0.5))) < 2e-3  # measured 1.8e-3


def test_maxwell_boltzmann_state_is_nearly_stationary():
    """f ∝ exp(−(v²/2 + V)/T) is stationary for the SG part exactly and for the transport up to
    the scheme's O(h²): its L1 change over t ∈ [0, 2] is 0.0193 at n = 64 and 0.0048 at n = 128
    (order 2.0); bounded by 0.6 h² and checked to fall by 3.5x."""
    changes = []
    for n in (64, 128):
        grid = pf.Grid([(-6.0, 6.0), (-6.0, 6.0)], n)
        x, v = grid.coords()
        f0 = np.exp(-(0.5 * v**2 + 0.5 * x**2) / 0.5)
        f0 = f0 / grid.integrate(f0)
        p = pf.problems.kinetic_fokker_planck(grid, f0, lambda x: 0.5 * x**2, gamma=1.0, T=0.5,
                                              grad_V=lambda x: (x,))
        traj = pf.solve(p, 2.0, method="kinetic", snapshots=2, progress=False)
        changes.append(grid.integrate(np.abs(traj.density(-1) - f0)))
        assert changes[-1] < 0.6 * grid.dx[0] ** 2
    assert changes[0] / changes[1] > 3.5


def test_friction_and_noise_alone_keep_the_discrete_maxwellian_exactly():
    """With V = 0 on a periodic θ axis and f = e^{−v²/2T} uniform in θ, the θ transport
    carries a uniform row and the SG flux vanishes: stationary to round-off."""
    grid = pf.Grid([(0.0, 1.0), (-5.0, 5.0)], (8, 50), periodic=(True, False))
    f0 = np.broadcast_to(np.exp(-grid.coords()[1] ** 2 / 2 / 0.7), grid.shape).copy()
    f0 /= grid.integrate(f0)
    p = pf.problems.kinetic_fokker_planck(grid, f0, lambda x: 0.0 * x, gamma=2.0, T=0.7,
                                          grad_V=lambda x: (0.0 * x,))
    traj = pf.solve(p, 1.0, method="kinetic", snapshots=2, progress=False)
    np.testing.assert_allclose(traj.density(-1), f0, rtol=1e-12, atol=0)


@pytest.mark.parametrize("method, why", [
    ("fv", "cannot solve a kinetic problem"), ("particles", "cannot solve a kinetic problem"),
    ("jko", "cannot solve a kinetic problem"), ("fem", "cannot solve a kinetic problem"),
])
def test_gradient_flow_methods_refuse_kinetic_problems(method, why):
    with pytest.raises(PdeflowError, match=why):
        pf.solve(_problem(16), 0.1, method=method, progress=False)


@pytest.mark.parametrize("method", ["kinetic", "kinetic_particles"])
def test_kinetic_methods_refuse_gradient_flows(method):
    grid = pf.Grid([(-3.0, 3.0)], 32)
    with pytest.raises(PdeflowError, match="not a kinetic problem; use method='fem'"):
        pf.solve(pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5)), 0.1, method=method)


def test_phase_space_grids_are_checked():
    with pytest.raises(PdeflowError, match="cannot be periodic"):
        pf.problems.kinetic_fokker_planck(pf.Grid([(-1, 1), (-1, 1)], 8, periodic=True),
                                          np.ones((8, 8)), lambda x: x, 1.0, 1.0)
    with pytest.raises(PdeflowError, match="2 or 4 axes, got 1"):
        pf.problems.kinetic_fokker_planck(pf.Grid([(-1, 1)], 8), np.ones(8), lambda x: x)
    with pytest.raises(PdeflowError, match="2 or 4 axes, got 3"):
        pf.problems.kinetic_fokker_planck(pf.Grid([(-1, 1)] * 3, 4), np.ones((4,) * 3),
                                          lambda x, y: x)
    without_grid = pf.problems.kramers_harmonic(None, dim=2, mean=0.0)
    with pytest.raises(PdeflowError, match="needs a phase-space grid"):
        pf.solve(without_grid, 0.1, method="kinetic")
