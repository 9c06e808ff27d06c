"""Time orders of the finite-volume schemes, measured against the exact solution of the
semi-discrete system (space held fixed), so that the spatial error does not mask them."""

import numpy as np
import scipy.fft

import pdeflow as pf


def _heat_semi_discrete(grid, rho0, D, t):
    """exp(t L) ρ0 for the walled 3-point Laplacian L (eigenvalues −D(2 − 2cos(πk/n))/h², DCT-II
    modes): the exact solution of the semi-discrete heat equation the SG flux gives at Φ ≡ 0."""
    n, h = grid.shape[0], grid.dx[0]
    lam = D * (2 - 2 * np.cos(np.pi * np.arange(n) / n)) / h**2
    return scipy.fft.idct(scipy.fft.dct(rho0, norm="ortho") * np.exp(-lam * t), norm="ortho")


def _setup():
    grid = pf.Grid([(-3.0, 3.0)], 60)
    rho0 = pf.gaussian(grid, 0.3, 0.2) + 0.2 * pf.box(grid, -2.0, -1.0)
    D, t_end = 0.5, 0.2
    exact = _heat_semi_discrete(grid, rho0, D, t_end)
    return grid, pf.problems.heat(grid, rho0, D=D), t_end, exact


def test_explicit_ssp_rk3_is_third_order_in_time(orders):
    grid, problem, t_end, exact = _setup()
    errors = []
    for cfl in (0.8, 0.4, 0.2):
        run = pf.solve(problem, t_end, snapshots=2, progress=False, scheme="explicit", cfl=cfl)
        errors.append(np.abs(run.density(-1) - exact).sum() * grid.dx[0])
        assert run.meta["rejected_steps"] == 0  # within the positivity bound: nothing rejected
    # measured 1.35e-6, 1.62e-7, 1.99e-8: orders 3.06, 3.03
    observed = orders(errors)
    assert observed.min() > 2.8, (errors, observed)


def test_implicit_euler_is_first_order_in_time(orders):
    grid, problem, t_end, exact = _setup()
    errors = []
    for dt in (0.02, 0.01, 0.005):
        run = pf.solve(problem, t_end, snapshots=2, progress=False, scheme="implicit", dt=dt)
        errors.append(np.abs(run.density(-1) - exact).sum() * grid.dx[0])
    # measured 1.11e-2, 5.68e-3, 2.87e-3: orders 0.97, 0.99
    observed = orders(errors)
    assert abs(observed - 1).max() < 0.1, (errors, observed)
