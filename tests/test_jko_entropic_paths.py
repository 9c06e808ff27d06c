"""The entropic JKO's two domains (see :mod:`pdeflow.solvers._jko_entropic`): the exp domain,
iterating the scalings a, b themselves, and the log domain, iterating their logarithms, run the
same iteration. Where the exp domain is exact they agree to round-off; where it would underflow
the step falls back to the log domain from the same start.
"""

from __future__ import annotations

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.solvers._jko_entropic import EntropicJKO

STEPS = 3  # a cold step and two warm ones


def _steps(problem, domain: str, tau: float, epsilon: float) -> tuple[list, EntropicJKO]:
    """Run STEPS entropic JKO steps; return (iterations, density, domain) per step."""
    engine = EntropicJKO(problem, epsilon, tol=1e-9, max_iter=20000, domain=domain)
    out = []
    for k in range(STEPS):
        iterations, _ = engine.step(tau, k * tau)
        out.append((iterations, engine.density().copy(), engine.last_domain))
    return out, engine


def _fokker_planck():
    grid = pf.Grid([(-5.0, 5.0)] * 2, 32)
    V = lambda x, y: 0.5 * (x - 0.5) ** 2 + 0.2 * np.cos(2 * y)  # noqa: E731
    return pf.problems.fokker_planck(grid, pf.gaussian(grid, (1.0, -0.5), 1.0), V=V, D=1.0), 0.1


def _porous_medium():
    # a compact Barenblatt support with vacuum around it, in a potential: the power-law prox
    grid = pf.Grid([(-2.0, 2.0)] * 2, 32)
    V = lambda x, y: 0.5 * x**2  # noqa: E731
    rho0 = pf.problems.barenblatt(grid, 0.1, m=2.0, center=(0.3, 0.0))
    return pf.problems.porous_medium(grid, rho0, m=2.0, V=V), 0.01


def _aggregation():
    grid = pf.Grid([(-4.0, 4.0)] * 2, 32)
    energy = pf.FreeEnergy(pf.Entropy(0.1), pf.Interaction(pf.GaussianKernel(1.0), strength=-1.0))
    rho0 = pf.gaussian(grid, (-1.5, 0.0), 0.5, 0.5) + pf.gaussian(grid, (1.5, 0.3), 0.5, 0.5)
    return pf.problems.aggregation_diffusion(grid, rho0, energy), 0.05


def _ou_3d_periodic():
    # three axes, one periodic: the kernel product along a middle axis is a stacked matmul
    grid = pf.Grid([(-4.0, 4.0)] * 3, (12, 10, 8), periodic=(False, True, False))
    return pf.problems.ornstein_uhlenbeck(grid, mean=(0.5, 0.0, -0.3), cov=1.0), 0.1


@pytest.mark.parametrize(
    "build", [_fokker_planck, _porous_medium, _aggregation, _ou_3d_periodic],
    ids=["fokker_planck", "porous_medium", "aggregation", "ou_3d_periodic"],
)
def test_exp_and_log_domains_agree_to_round_off(build):
    problem, tau = build()
    grid = problem.grid
    epsilon = min(grid.dx) ** 2
    fast, _ = _steps(problem, "exp", tau, epsilon)  # "exp" raises rather than fall back
    slow, _ = _steps(problem, "log", tau, epsilon)
    mass = grid.integrate(problem.rho0)
    for (it_exp, rho_exp, used_exp), (it_log, rho_log, used_log) in zip(fast, slow, strict=True):
        assert (used_exp, used_log) == ("exp", "log")
        # the same iterates up to round-off: the same stopping iteration (10 to 56 here), and
        # densities within round-off of it (measured 4e-16 to 9e-16 relative L1)
        assert it_exp == it_log
        assert np.abs(rho_exp - rho_log).sum() <= 1e-10 * np.abs(rho_log).sum()
        # Σ a ⊙ ξb = Σ b ⊙ ξa = Σ p: mass to round-off (measured <= 1.1e-16), positivity exact
        assert abs(grid.integrate(rho_exp) - mass) <= 1e-13 * mass
        assert rho_exp.min() >= 0.0


def test_auto_domain_runs_in_the_exp_domain_where_it_is_exact():
    problem, tau = _fokker_planck()
    epsilon = problem.grid.dx[0] ** 2
    auto, _ = _steps(problem, "auto", tau, epsilon)
    fast, _ = _steps(problem, "exp", tau, epsilon)
    for (_, rho_auto, used), (_, rho_exp, _) in zip(auto, fast, strict=True):
        assert used == "exp"
        np.testing.assert_array_equal(rho_auto, rho_exp)


def test_underflowing_exp_domain_falls_back_to_the_log_domain_with_exact_mass():
    # ε = dx²/20 on a wide box: neighbouring cells couple by e^{-20}, the Gaussian's tails reach
    # e^{-60}, and the exp-domain scalings spread past 1e-280 of their range (measured: at the
    # 43rd of 754 iterations); the log domain then restarts from the same start
    grid = pf.Grid([(-8.0, 8.0)] * 2, 48)
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=(1.0, -0.5), cov=1.0)
    epsilon, tau = grid.dx[0] ** 2 / 20, 0.1
    with pytest.raises(pf.PdeflowError, match="exp-domain scalings left the exact float64 range"):
        _steps(problem, "exp", tau, epsilon)
    auto, _ = _steps(problem, "auto", tau, epsilon)
    slow, _ = _steps(problem, "log", tau, epsilon)
    mass = grid.integrate(problem.rho0)
    for (it_auto, rho_auto, used), (it_log, rho_log, _) in zip(auto, slow, strict=True):
        assert used == "log"
        # the failed exp attempt changed nothing: the step is the log domain's, bit for bit
        assert it_auto == it_log
        np.testing.assert_array_equal(rho_auto, rho_log)
        # measured mass errors up to 9e-15 relative: round-off of ~750 log-sum-exp iterations
        assert abs(grid.integrate(rho_auto) - mass) <= 1e-13 * mass
        assert rho_auto.min() >= 0.0


def test_unknown_domain_is_refused():
    problem, _ = _fokker_planck()
    with pytest.raises(pf.PdeflowError, match="domain must be one of"):
        EntropicJKO(problem, 0.1, tol=1e-9, max_iter=10, domain="linear")
