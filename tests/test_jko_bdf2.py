"""The variational BDF2 step of the 1D JKO solver (Matthes–Plazotta): second order in τ."""

import numpy as np
import pytest
from scipy.stats import norm

import pdeflow as pf
from pdeflow.solvers.jko import make_stepper


def _w2_to_exact_ou(scheme, tau, T=0.5):
    """W2 at T between the quantile map and the exact Ornstein–Uhlenbeck Gaussian, through the
    quantile functions (exact in 1D): W2² = ∫ |X(s) − Q(s)|² ds."""
    grid = pf.Grid([(-6.0, 6.0)], 240)
    m0, s0 = 1.0, 0.3
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=m0, cov=s0, gamma=1.0, D=1.0)
    stepper = make_stepper(problem, T, tau=tau, scheme=scheme, n_quantiles=4000)
    stepper.advance(T)
    X, s, mass = stepper.engine.X, stepper.engine.s, stepper.engine.mass
    mean = m0 * np.exp(-T)
    std = np.sqrt(s0 * np.exp(-2 * T) + 1 - np.exp(-2 * T))
    levels = 0.5 * (s[1:] + s[:-1]) / mass
    exact = mean + std * norm.ppf(levels)
    return float(np.sqrt(np.sum(np.diff(s) / mass * (0.5 * (X[1:] + X[:-1]) - exact) ** 2)))


def test_bdf2_is_second_order_in_tau_and_jko_first(orders):
    taus = (0.05, 0.025, 0.0125)
    jko = [_w2_to_exact_ou("jko", tau) for tau in taus]
    bdf2 = [_w2_to_exact_ou("bdf2", tau) for tau in taus]
    # measured: JKO 1.27e-2, 6.4e-3, 3.2e-3 (orders 0.97, 0.99); BDF2 1.21e-3, 2.8e-4, 5.6e-5
    # (orders 2.13, 2.30: the quantile discretisation's own error, far below, adds a little)
    assert abs(orders(jko) - 1).max() < 0.1, jko
    assert orders(bdf2).min() > 1.9, bdf2
    assert bdf2[-1] < jko[-1] / 20


def test_bdf2_keeps_mass_and_lands_on_snapshots():
    grid = pf.Grid([(-4.0, 4.0)], 120)
    problem = pf.problems.porous_medium(grid, m=2.0, t0=0.05)
    run = pf.solve(problem, 0.1, method="jko", tau=0.007, scheme="bdf2", snapshots=4,
                   progress=False)  # 0.1/3 is not a multiple of tau: shortened steps
    assert run.status == "finished" and run.meta["options"]["scheme"] == "bdf2"
    assert abs(run.mass / run.mass[0] - 1).max() < 1e-12
    exact = problem.exact(0.1)
    # Barenblatt at t = 0.1, L1: measured 3.1e-3 (BDF2) against 6.3e-3 (JKO) at this τ; the
    # bound sits between them, so a BDF2 step that fell back to first order fails
    assert np.abs(run.density(-1) - exact).sum() * grid.dx[0] < 5e-3


def test_bdf2_is_refused_in_2d():
    grid = pf.Grid([(-2.0, 2.0)] * 2, 8)
    problem = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    with pytest.raises(pf.PdeflowError, match=r"jko option\(s\) \['scheme'\] apply to 1D grids"):
        pf.solve(problem, 0.1, method="jko", scheme="bdf2", progress=False)
