"""Back-and-forth JKO in 2D (solver="bfm", :mod:`pdeflow.solvers._jko_bfm`): its kernels against
brute force and NumPy, its steps against the exact discrete JKO recursion of Gaussians, its
errors against exact solutions in τ, and its guarantees (mass, energy, errors that say why).
"""

from __future__ import annotations

import numpy as np
import pytest

import pdeflow as pf
from pdeflow._numba.c_transform import c_transform, pull_back_2d
from pdeflow.solvers._jko_bfm import BackAndForthJKO


# -- kernels -------------------------------------------------------------------------------------------
def _brute_c_transform(phi, tau, dx, periodic, sign):
    """min_x sign·φ(x) + |x − y|²/(2τ) over every pair of cells (O(N²) reference)."""
    xs = [np.arange(n) * h for n, h in zip(phi.shape, dx, strict=True)]
    sq = []
    for x, h, n, p in zip(xs, dx, phi.shape, periodic, strict=True):
        r = x[:, None] - x[None, :]
        if p:
            r = r - n * h * np.round(r / (n * h))
        sq.append(r**2)
    cost = (sq[0][:, None, :, None] + sq[1][None, :, None, :]) / (2 * tau)  # [i1, i2, j1, j2]
    return sign * np.min(sign * phi[:, :, None, None] + cost, axis=(0, 1))


@pytest.mark.parametrize("periodic", [(False, False), (True, False), (True, True)])
def test_grid_c_transform_is_the_exact_minimum_over_all_cells(periodic):
    rng = np.random.default_rng(1)
    phi = rng.normal(size=(13, 9))
    dx, tau = (0.3, 0.5), 0.2
    for sign in (1.0, -1.0):  # φ^c and the c̄-transform max_y ψ(y) − c(x, y)
        got = c_transform(phi, tau, dx, periodic, sign=sign, refine=False)
        # lower envelopes are exact: round-off of values of size ~10 only
        assert np.max(np.abs(got - _brute_c_transform(phi, tau, dx, periodic, sign))) < 1e-13


def test_refined_c_transform_is_exact_for_quadratic_potentials():
    grid = pf.Grid([(-3.0, 3.0), (-2.0, 2.0)], (48, 40))
    x, y = grid.coords(sparse=False)
    A = np.array([[-1.5, 0.4], [0.4, -0.8]])  # φ = ½ xᵀAx + bᵀx, c-concave: A + I/τ > 0
    b = np.array([0.3, -0.2])
    tau = 0.1
    X = np.stack([x, y], axis=-1)
    phi = 0.5 * np.einsum("...i,ij,...j", X, A, X) + X @ b
    got = c_transform(phi, tau, grid.dx, grid.periodic)
    # the continuous transform: x* = (A + I/τ)⁻¹ (y/τ − b)
    star = (X / tau - b) @ np.linalg.inv(A + np.eye(2) / tau).T
    exact = (0.5 * np.einsum("...i,ij,...j", star, A, star) + star @ b
             + np.sum((star - X) ** 2, -1) / (2 * tau))
    (ax, bx), (ay, by) = [(a[0], a[-1]) for a in grid.axes]
    inside = (star[..., 0] > ax) & (star[..., 0] < bx) & (star[..., 1] > ay) & (star[..., 1] < by)
    assert inside.sum() > 0.5 * inside.size
    # the local quadratic model is the potential itself: round-off of values up to ~40
    assert np.max(np.abs(got - exact)[inside]) < 1e-11
    # the plain grid minimum is off by up to a dx²/(8τ) (here 2.8e-3 × the Hessian's weight)
    plain = c_transform(phi, tau, grid.dx, grid.periodic, refine=False)
    assert np.max(np.abs(plain - exact)[inside]) > 1e-4


def _pull_back_numpy(mu, phi, s_tau, dx, periodic):
    """μ(x + sτ∇φ) max(det(I + sτD²φ), 0): centred differences with mirror (wall) or wrapped
    ghost cells, bilinear μ between centres, clamped at walls."""
    ghost = [np.arange(-1, n + 1) % n if p else np.clip(np.arange(-1, n + 1), 0, n - 1)
             for n, p in zip(phi.shape, periodic, strict=True)]  # walls: mirror φ_{-1} = φ_0
    pad = phi[np.ix_(*ghost)]
    (hx, hy) = dx
    c = pad[1:-1, 1:-1]
    gx = (pad[2:, 1:-1] - pad[:-2, 1:-1]) / (2 * hx)
    gy = (pad[1:-1, 2:] - pad[1:-1, :-2]) / (2 * hy)
    dxx = (pad[2:, 1:-1] - 2 * c + pad[:-2, 1:-1]) / hx**2
    dyy = (pad[1:-1, 2:] - 2 * c + pad[1:-1, :-2]) / hy**2
    dxy = (pad[2:, 2:] - pad[2:, :-2] - pad[:-2, 2:] + pad[:-2, :-2]) / (4 * hx * hy)
    det = (1 + s_tau * dxx) * (1 + s_tau * dyy) - s_tau**2 * dxy**2
    nx, ny = phi.shape
    q = [np.arange(nx)[:, None] + s_tau * gx / hx, np.arange(ny)[None, :] + s_tau * gy / hy]
    for k, (n, p) in enumerate(zip((nx, ny), periodic, strict=True)):
        if not p:
            q[k] = np.clip(q[k], 0, n - 1)
    i0, j0 = np.floor(q[0]).astype(int), np.floor(q[1]).astype(int)
    fx, fy = q[0] - i0, q[1] - j0

    def at(i, j):
        i = i % nx if periodic[0] else np.clip(i, 0, nx - 1)
        j = j % ny if periodic[1] else np.clip(j, 0, ny - 1)
        return mu[i, j]

    value = ((1 - fx) * ((1 - fy) * at(i0, j0) + fy * at(i0, j0 + 1))
             + fx * ((1 - fy) * at(i0 + 1, j0) + fy * at(i0 + 1, j0 + 1)))
    return np.where(det > 0, value * det, 0.0)


@pytest.mark.parametrize("periodic", [(False, False), (False, True)])
def test_pull_back_kernel_matches_numpy(periodic):
    rng = np.random.default_rng(2)
    mu = rng.random((11, 8))
    phi = rng.normal(size=(11, 8))
    dx = (0.4, 0.3)
    for s_tau in (0.05, -0.05, 0.3):  # 0.3: some determinants negative
        out = np.empty_like(mu)
        pull_back_2d(mu, phi, s_tau, *dx, *periodic, out)
        assert np.allclose(out, _pull_back_numpy(mu, phi, s_tau, dx, periodic), rtol=1e-13, atol=1e-13)


# -- the heat step against the discrete JKO recursion --------------------------------------------------
def _sd(grid, rho):
    x, y = grid.coords()
    mass = grid.integrate(rho)
    return np.sqrt(grid.integrate(x**2 * rho) / mass), np.sqrt(grid.integrate(y**2 * rho) / mass)


@pytest.mark.parametrize("cells", [64, 128])
def test_heat_step_follows_the_discrete_jko_recursion_within_one_percent(cells):
    """From N(0, s²I) each exact JKO step is N(0, s'²I), s' = (s + √(s² + 4τD))/2 per axis."""
    grid = pf.Grid([(-5.0, 5.0), (-5.0, 5.0)], cells)
    tau, D = 0.05, 1.0
    problem = pf.problems.heat(grid, pf.gaussian(grid, (0.0, 0.0), 0.5), D=D)
    engine = BackAndForthJKO(problem, tol=1e-5, max_iter=200)
    sigma = _sd(grid, engine.density())
    energy = problem.energy.value(engine.density(), grid)
    for k in range(3):
        iterations, increment = engine.step(tau, k * tau)
        rho = engine.density()
        new = _sd(grid, rho)
        for s, s_new in zip(sigma, new, strict=True):
            expected = (s + np.sqrt(s**2 + 4 * tau * D)) / 2  # the recursion from this step's start
            # against the step's increment of the variance (≈ 2τD = 0.1), the 1 %:
            # measured |error| 0.42, 0.20, 0.08 % (64²) and 0.28, 0.25, 0.14 % (128²); the
            # entropic step adds ε/2 to it (+12 % at ε = dx², 64²: benchmarks/jko_bfm.py)
            assert abs((s_new**2 - s**2) / (expected**2 - s**2) - 1) < 0.01, (k, s_new, expected)
            # the same in s itself: measured ≤ 3.4e-4
            assert abs(s_new / expected - 1) < 1e-3
        # isotropic data stay isotropic up to the transforms' axis order (last axis first),
        # which the stopping rule leaves in: measured ≤ 3.4e-6, 1 % of the step error above
        assert abs(new[0] - new[1]) < 1e-5
        # mass: every iterate has ∫δU*(φ) = M exactly (the dual's maximiser along constants)
        assert abs(grid.integrate(rho) - 1.0) < 1e-12
        assert increment <= 1e-5 and iterations < 100  # measured 14–52 iterations
        new_energy = problem.energy.value(rho, grid)
        assert new_energy < energy - 0.01  # measured decrements 0.13–0.17 per step
        sigma, energy = new, new_energy


# -- W2 errors first order in tau -------------------------------------------------------------------------
def _gaussian_w2(mean_a, cov_a, mean_b, cov_b) -> float:
    """W2 between Gaussians (Bures): for any two densities with these moments it is a lower
    bound of their W2 (Gelbrich), equal when both are Gaussian."""
    from scipy.linalg import sqrtm

    root = np.real(sqrtm(cov_a))
    cross = np.real(sqrtm(root @ cov_b @ root))
    return float(np.sqrt(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * cross)))


def _moments(grid, rho):
    coords = grid.coords()
    mass = grid.integrate(rho)
    mean = np.array([grid.integrate(c * rho) for c in coords]) / mass
    cov = np.array([[grid.integrate((a - ma) * (b - mb) * rho) for b, mb in zip(coords, mean, strict=True)]
                    for a, ma in zip(coords, mean, strict=True)]) / mass
    return mean, cov


def test_ornstein_uhlenbeck_w2_error_is_first_order_in_tau():
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 64)
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=(1.0, -0.5), cov=0.5, gamma=1.0, D=1.0)
    t_end = 0.4
    exact = [np.asarray(m) for m in problem.exact_moments(t_end)]
    errors = []
    for tau in (0.2, 0.1, 0.05):
        traj = pf.solve(problem, t_end, method="jko", tau=tau, tol=1e-5, snapshots=2, progress=False)
        assert np.max(np.abs(traj.mass - traj.mass[0])) < 1e-12
        errors.append(_gaussian_w2(*_moments(grid, traj.density(-1)), *exact))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # W2 errors measured 0.0404, 0.0213, 0.0114 (orders 0.92, 0.91); the exact JKO recursion's
    # own are 0.0406, 0.0218, 0.0114: the solver's spatial and stopping errors add < 1e-3
    assert np.all((orders > 0.8) & (orders < 1.2)), (errors, orders)


# -- guarantees and errors -------------------------------------------------------------------------------
def test_a_step_that_does_not_converge_is_an_error_with_its_dual_increment():
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 32)
    problem = pf.problems.heat(grid, pf.gaussian(grid, (0.0, 0.0), 0.5))
    with pytest.raises(pf.PdeflowError, match="did not converge.*dual increment.*residuals"):
        pf.solve(problem, 0.1, method="jko", tau=0.05, max_iter=2, progress=False)


def test_solver_options_are_checked():
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 16)
    heat = pf.problems.heat(grid, pf.gaussian(grid, (0.0, 0.0), 0.5))
    with pytest.raises(pf.PdeflowError, match="solver must be one of"):
        pf.solve(heat, 0.1, method="jko", solver="sinkhorn", progress=False)
    with pytest.raises(pf.PdeflowError, match="epsilon applies to solver='entropic'"):
        pf.solve(heat, 0.1, method="jko", solver="bfm", epsilon=0.1, progress=False)
    # epsilon alone asks for the entropic step (so do runs stored before the bfm default)
    with pytest.warns(UserWarning, match="epsilon/"):  # ε/(4τ) = 2.5 D: the blur warning
        traj = pf.solve(heat, 0.05, method="jko", tau=0.05, epsilon=0.5, snapshots=2, progress=False)
    assert traj.meta["solver"] == "entropic" and traj.meta["epsilon"] == 0.5
    grid3 = pf.Grid([(-4.0, 4.0)] * 3, 6)
    heat3 = pf.problems.heat(grid3, pf.gaussian(grid3, (0.0, 0.0, 0.0), 0.5))
    with pytest.raises(pf.PdeflowError, match="2D grids"):
        pf.solve(heat3, 0.1, method="jko", solver="bfm", progress=False)
    no_diffusion = pf.problems.aggregation_diffusion(
        grid, pf.gaussian(grid, (0.0, 0.0), 0.5), pf.FreeEnergy(pf.Potential(lambda x, y: x**2))
    )
    with pytest.raises(pf.PdeflowError, match="internal energy"):
        pf.solve(no_diffusion, 0.1, method="jko", progress=False)


def test_periodic_axes_conserve_mass_and_decrease_energy():
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 48, periodic=(True, False))
    x, y = grid.coords()
    rho0 = np.exp(-(((x - 3.0 + 4.0) % 8.0 - 4.0) ** 2 + y**2))  # N((3, 0), I/2), periodised in x
    rho0 /= grid.integrate(rho0)
    V = lambda x, y: 0.5 * y**2 + 0.3 * np.cos(np.pi * x / 4)  # noqa: E731
    problem = pf.problems.fokker_planck(grid, rho0, V=V, D=0.5)
    traj = pf.solve(problem, 0.2, method="jko", tau=0.05, snapshots=5, progress=False)
    assert np.max(np.abs(traj.mass - traj.mass[0])) < 1e-12 * traj.mass[0]
    assert np.all(np.diff(traj.energy) < 0)  # measured decrements ≥ 0.02 per step
    assert traj.meta["solver"] == "bfm" and traj.meta["max_bfm_iterations"] < 100


def test_keller_segel_second_moment_follows_the_exact_law_like_finite_volumes():
    """2D Keller–Segel, χ = D = 1, M = 4 < 8π: d/dt ∫|x|²ρ = 4M − M²/(2π) exactly (whole
    plane; the walls at ±4 hold < 1e-6 of the mass here)."""
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 48)
    rho0 = pf.gaussian(grid, (-0.8, 0.0), 0.4, mass=2.0) + pf.gaussian(grid, (0.8, 0.3), 0.4, mass=2.0)
    problem = pf.problems.keller_segel(grid, rho0, chi=1.0)
    x, y = grid.coords()
    r2 = x**2 + y**2
    t_end, mass = 0.2, 4.0
    change = (4 * mass - mass**2 / (2 * np.pi)) * t_end  # 2.69
    run = {"snapshots": 2, "progress": False}
    jko = pf.solve(problem, t_end, method="jko", tau=0.025, **run)
    fv = pf.solve(problem, t_end, method="fv", **run)
    assert np.max(np.abs(jko.mass - mass)) < 1e-12 * mass
    errors = {name: grid.integrate(r2 * traj.density(-1)) - grid.integrate(r2 * rho0) - change
              for name, traj in (("jko", jko), ("fv", fv))}
    # measured: back-and-forth −0.090, −0.060, −0.041 at τ = 0.05, 0.025, 0.0125 (the JKO's O(τ)
    # lag, 2.2 % of the change here, and ≈ −0.02 extrapolated to τ → 0); finite volumes −0.003.
    # (The −0.011 once measured at τ = 0.025 was an outlier: its first three steps ended at the
    # noise floor after 5 iterations; the same solver gave −0.079 and −0.046 at 0.05 and 0.0125.)
    assert abs(errors["jko"]) < 0.03 * change, errors
    assert abs(errors["fv"]) < 0.005 * change, errors
    # the entropic JKO on this grid (τ = 0.05) is off by +0.32 (ε = dx²), +0.05 (dx²/2) and
    # −0.37 (dx²/4, pinned to the grid): it does not converge as ε → 0 at fixed dx


def test_ornstein_uhlenbeck_at_one_cell_diffusion_time_reaches_t_end():
    """τ = dx²/D on a coarse grid: many small steps near the stationary state, where the tails'
    error used to grow until the ascent stalled (this run failed at t = 1.86)."""
    grid = pf.Grid([(-6.0, 6.0)] * 2, 64)
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=(2.0, 0.0), cov=0.5, gamma=1.0, D=1.0)
    t_end, tau = 2.0, grid.dx[0] ** 2  # 0.035: 57 steps
    traj = pf.solve(problem, t_end, method="jko", tau=tau, snapshots=2, progress=False)
    assert traj.times[-1] == pytest.approx(t_end) and traj.meta["steps"] == 57
    error = _gaussian_w2(*_moments(grid, traj.density(-1)), *map(np.asarray, problem.exact_moments(t_end)))
    # measured 8.8e-3 (W2 with the exact Gaussian; 5.3e-3 and 1.6e-2 at τ = 0.02 and 0.0625 on
    # the 96² preset grid: the JKO's O(τ) error), bound 3.4x that
    assert error < 0.03, error
    # steps ended at the grid dual's noise floor are counted: measured 6 of 57
    assert 0 <= traj.meta["floor_stops"] <= traj.meta["steps"] // 3


def test_default_tau_is_a_few_cells_diffusion_times():
    # fokker-planck preset grid (cells of 0.125): t_end / 100 = 0.01 < 4 dx²/D = 0.0625
    grid = pf.Grid([(-6.0, 6.0)] * 2, 96)
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=(2.0, 0.0), cov=0.5)
    run = pf.solve(problem, 1.0, method="jko", snapshots=2, progress=False)
    assert run.meta["options"]["tau"] == pytest.approx(4 * 0.125**2)
    assert run.meta["steps"] == 16  # 15 full steps and the shortened last one
    given = pf.solve(problem, 0.05, method="jko", tau=0.025, snapshots=2, progress=False)
    assert given.meta["options"]["tau"] == 0.025  # a tau given is taken as it is
