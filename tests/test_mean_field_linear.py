"""The mean-field network with a linear activation has an exact solution: the risk of both views
(the PDE on a grid over (a, w), gradient descent on m neurons) is checked against it.

f(x; ρ) = s x with s = ∫ a w dρ; the data are y_k = β x_k, S = (1/n) Σ x_k². Then
Ψ(a, w) = (s − β) S a w, each neuron moves by a' = −(s − β) S w, w' = −(s − β) S a, so
u = a + w and v = a − w scale as u₀ e^{−G}, v₀ e^{G} with G' = (s − β) S. From ρ₀ = N(0, σ² I):
s = (E u² − E v²)/4 = −σ² sinh 2G, hence the scalar ODE G' = −(σ² sinh 2G + β) S, G(0) = 0,
and the risk R(t) = (S/2) (s(t) − β)² (integrated to 1e-12 by solve_ivp: exact for the test).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

import pdeflow as pf

X = np.linspace(-1.0, 1.0, 16)
BETA, VAR, T_END = 1.0, 0.3, 4.0
S = float(np.mean(X**2))
TIMES = np.linspace(0.0, T_END, 9)


def exact_risk(times):
    sol = solve_ivp(lambda t, G: -(VAR * np.sinh(2 * G) + BETA) * S, (0.0, times[-1]), [0.0],
                    t_eval=times, rtol=1e-12, atol=1e-14)
    s = -VAR * np.sinh(2 * sol.y[0])
    return 0.5 * S * (s - BETA) ** 2


def linear_problem(cells):
    grid = pf.Grid([(-4.0, 4.0)] * 2, cells)
    return pf.problems.mean_field_network(X, BETA * X, "linear", grid=grid,
                                          rho0=pf.gaussian(grid, (0.0, 0.0), VAR))


def test_grid_risk_converges_to_the_exact_linear_network_risk(orders):
    R = exact_risk(TIMES)
    assert R[-1] < 0.05 * R[0]  # the run covers the fit, from 0.19 to 0.0069
    errors = []
    for cells in (32, 64, 128):
        traj = pf.solve(linear_problem(cells), T_END, snapshots=TIMES.size, progress=False)
        errors.append(np.abs(traj.diagnostics["risk"] - R).max() / R[0])
    # measured 1.1e-2, 2.9e-3, 6.8e-4 of R(0): order 1.9, 2.1 (second-order CCH flux on smooth data)
    assert np.all(orders(errors) > 1.7), errors
    assert errors[-1] < 1.5e-3, errors


def test_gradient_descent_risk_approaches_the_exact_one_as_the_width_grows():
    R = exact_risk(TIMES)
    p = linear_problem(64)
    gaps = {}
    for m in (100, 1000):
        gaps[m] = np.mean([np.abs(pf.solve(p, T_END, snapshots=TIMES.size, method="particles",
                                           n_particles=m, seed=seed, progress=False)
                                  .diagnostics["risk"] - R).max() / R[0] for seed in range(4)])
    # the output s is an average over m neurons: the gap falls like m^{-1/2} (measured 0.076,
    # 0.007 of R(0): the 4-seed means fluctuate by a factor ~2)
    assert gaps[1000] < 0.5 * gaps[100] and gaps[1000] < 0.02, gaps
