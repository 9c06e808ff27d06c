"""Fisher–Rao and Wasserstein–Fisher–Rao flows on grids, against their exact solutions."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import pdeflow as pf


@pytest.mark.parametrize("ndim", [1, 2])
def test_fisher_rao_flow_of_kl_is_exact(ndim):
    # normalized FR flow of D·KL(ρ | π), π ∝ e^{−V/D}: ρ_t ∝ ρ0^{e^{−αDt}} π^{1 − e^{−αDt}}. With
    # V fixed the per-cell update is this formula, so the run meets it to round-off
    grid = pf.Grid([(-5.0, 5.0)] * ndim, 100 if ndim == 1 else 40)

    def V(*x):
        return 0.5 * sum((xi - 1.0) ** 2 for xi in x) + 0.3 * np.sin(2 * x[0])

    rho0 = pf.gaussian(grid, (-1.0,) * ndim if ndim > 1 else -1.0, 0.5)
    alpha, D = 2.0, 0.7
    problem = pf.problems.fokker_planck(grid, rho0, V=V, D=D, metric=pf.FisherRao(alpha))
    assert problem.exact is None  # the factories' exact solutions are the Wasserstein flow's
    run = pf.solve(problem, 1.0, snapshots=5, progress=False)
    pi = np.exp(-grid.evaluate(V) / D)
    for i, t in enumerate(run.times):
        e = np.exp(-alpha * D * t)
        exact = rho0**e * pi ** (1 - e)
        exact /= grid.integrate(exact)
        # measured 7.9e-16 (1D), 7.1e-16 (2D) relative to max ρ. The bound is round-off, not
        # error: exp and log of values down to ρ0 = 3e-31 (|log ρ| ≈ 70) amplify ε
        assert np.abs(run.density(i) - exact).max() < 1e-13 * exact.max()
    assert np.abs(run.mass - 1).max() < 1e-14
    assert np.all(np.diff(run.energy) < 0)


def test_unbalanced_fisher_rao_changes_the_mass_exactly():
    # ∂t ρ = −α ρ ξ, ξ = D(log ρ + 1) + V: log ρ(t) = e^{−αDt} log ρ0 − (1 − e^{−αDt})(1 + V/D)
    grid = pf.Grid([(-3.0, 3.0)], 60)
    V = grid.evaluate(lambda x: 0.5 * x**2)
    rho0 = pf.gaussian(grid, 0.5, 0.3, mass=2.0)
    alpha, D = 1.5, 0.8
    problem = pf.problems.fokker_planck(grid, rho0, V=V, D=D,
                                        metric=pf.FisherRao(alpha, normalized=False))
    run = pf.solve(problem, 2.0, snapshots=3, progress=False)
    e = np.exp(-alpha * D * 2.0)
    exact = np.exp(e * np.log(rho0) - (1 - e) * (1 + V / D))
    assert np.abs(run.density(-1) - exact).max() < 1e-13 * exact.max()  # measured 2.7e-16 (round-off)
    assert abs(run.mass[-1] - grid.integrate(exact)) < 1e-13  # the mass went from 2 to 0.845


def _wfr_gaussian_ode(alpha, lam0, nu0, T):
    """WFR flow of KL(ρ | N(0, 1)) from a Gaussian: precision λ and ν = λ·mean obey
    λ' = −(λ − 1)(2λ + α), ν' = −ν(2λ − 1 + α)."""
    sol = solve_ivp(lambda t, y: [-(y[0] - 1) * (2 * y[0] + alpha), -y[1] * (2 * y[0] - 1 + alpha)],
                    (0.0, T), [lam0, nu0], rtol=1e-12, atol=1e-14)
    lam, nu = sol.y[:, -1]
    return nu / lam, 1 / lam


def test_wfr_gaussian_follows_its_moment_odes_at_second_order(orders):
    alpha, T = 1.0, 0.5
    mean_exact, var_exact = _wfr_gaussian_ode(alpha, 4.0, 4.0, T)  # from N(1, 0.5²)
    errors = []
    for n in (100, 200, 400):
        grid = pf.Grid([(-6.0, 6.0)], n)
        problem = pf.problems.ornstein_uhlenbeck(grid, mean=1.0, cov=0.25,
                                                 metric=pf.WassersteinFisherRao(alpha))
        run = pf.solve(problem, T, snapshots=3, progress=False)
        x, rho = grid.axes[0], run.density(-1)
        mass = grid.integrate(rho)
        mean = grid.integrate(x * rho) / mass
        var = grid.integrate((x - mean) ** 2 * rho) / mass
        errors.append(abs(mean - mean_exact) + abs(var - var_exact))
        assert abs(mass - 1) < 1e-12
    # measured 5.9e-4, 1.5e-4, 3.7e-5: orders 2.00, 2.00 (space; Strang splitting and SSP-RK3 at
    # the positivity step are far below)
    assert orders(errors).min() > 1.9, errors
    assert errors[-1] < 5e-5


def test_wfr_energy_dissipation_matches_the_discrete_energy():
    # dE/dt = −∫ρ|∇ξ|² − α∫ρ(ξ − ξ̄)²: the energy drop between snapshots against the trapezoid
    # rule on the recorded dissipations. The gap is the quadrature's O(Δt²) and the grid's O(h²),
    # largest in the first interval (sharp initial data): measured 1.98e-2 at (200 cells, Δt =
    # 5e-3) and 5.2e-3 at (400, 2.5e-3). Leaving out the reaction term gives a gap of O(1).
    gaps = []
    for n, snapshots in ((200, 81), (400, 161)):
        grid = pf.Grid([(-5.0, 5.0)], n)
        energy = pf.FreeEnergy(pf.Entropy(0.5), pf.Potential(lambda x: 0.25 * x**4 - x**2),
                               pf.Interaction(pf.GaussianKernel(1.0), -0.5))
        problem = pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 1.5, 0.2), energy,
                                                    metric=pf.WassersteinFisherRao(2.0))
        run = pf.solve(problem, 0.4, snapshots=snapshots, progress=False)
        rate = run.dissipation + run.diagnostics["reaction_dissipation"]
        drop = -np.diff(run.energy)
        predicted = 0.5 * (rate[1:] + rate[:-1]) * np.diff(run.times)
        gaps.append(np.abs(drop - predicted).max() / predicted.max())
    assert gaps[1] < 1e-2 and gaps[0] / gaps[1] > 3, gaps


def test_other_methods_refuse_a_reaction_metric_and_the_implicit_step_too():
    grid = pf.Grid([(-3.0, 3.0)], 30)
    problem = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), metric=pf.FisherRao(1.0))
    with pytest.raises(pf.PdeflowError, match="method 'jko' solves Wasserstein"):
        pf.solve(problem, 0.1, method="jko", progress=False)
    # weighted particles take Fisher–Rao parts of potentials, low-rank terms and the entropy (by a
    # KDE), not a power law
    porous = pf.problems.porous_medium(grid, pf.gaussian(grid, 0.0, 0.5), metric=pf.FisherRao(1.0))
    with pytest.raises(pf.PdeflowError, match="not U'\\(ρ\\) of .* use method='fv'"):
        pf.solve(porous, 0.1, method="particles", progress=False)
    with pytest.raises(pf.PdeflowError, match="implicit step solves Wasserstein flows"):
        pf.solve(problem, 0.1, scheme="implicit", progress=False)
    with pytest.raises(pf.PdeflowError, match="rate must be > 0"):
        pf.FisherRao(0.0)
    with pytest.raises(pf.PdeflowError, match="metric must be pf.Wasserstein"):
        pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), metric="fisher-rao")
    run = pf.solve(problem, 0.1, snapshots=2, progress=False, store=None)
    assert run.meta["problem"]["metric"] == {"metric": "fisher_rao", "rate": 1.0,
                                             "normalized": True}


def test_fisher_rao_step_with_an_interaction_is_second_order_in_time(orders):
    # with an interaction the frozen part R = Φ(ρ) is taken at the midpoint state: second order
    # (frozen at the start of the step it would be first order); reference: the same run at dt/16
    grid = pf.Grid([(-4.0, 4.0)], 80)
    energy = pf.FreeEnergy(pf.Entropy(0.5), pf.Potential(lambda x: 0.5 * x**2),
                           pf.Interaction(pf.GaussianKernel(1.0), -2.0))
    problem = pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 1.0, 0.5), energy,
                                                metric=pf.FisherRao(1.0))
    T = 1.0

    def final(dt):
        return pf.solve(problem, T, snapshots=2, progress=False, dt=dt).density(-1)

    reference = final(T / 640)
    errors = [np.abs(final(dt) - reference).sum() * grid.dx[0] for dt in (0.04, 0.02, 0.01)]
    # measured 1.54e-5, 3.85e-6, 9.4e-7: orders 2.00, 2.02 (steps below the accuracy limit)
    assert orders(errors).min() > 1.8, errors
