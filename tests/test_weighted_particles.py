"""Weighted particles for Fisher–Rao and Wasserstein–Fisher–Rao flows (issue: the metric).

With ξ = V (a potential, no internal energy) the flows have closed forms along the particles:
pure Fisher–Rao keeps the atoms and reweights them exactly, w_i(t) ∝ w_i(0) e^{−α t V(X_i)}; with
transport by −∇V for V = x²/2, X(t) = X₀ e^{−t} and w ∝ w₀ exp(−α X₀² (1 − e^{−2t})/4), so a
Gaussian stays Gaussian with known mean and variance.
"""

from __future__ import annotations

import numpy as np
import pytest

import pdeflow as pf


def _quadratic(metric, cells=100):
    grid = pf.Grid([(-5.0, 5.0)], cells)
    energy = pf.FreeEnergy(pf.Potential(lambda x: 0.5 * x**2))
    return pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, 1.0, 0.5), energy, metric=metric)


def test_fisher_rao_particles_reweight_exactly_and_store_weights(tmp_path):
    p = _quadratic(pf.FisherRao(2.0))
    path = tmp_path / "fr.h5"
    run = pf.solve(p, 1.0, method="particles", n_particles=2000, seed=0, snapshots=3,
                   store=path, progress=False)
    X, w, w0 = run.positions(-1)[:, 0], run.weights_at(-1), run.weights_at(0)
    exact = w0 * np.exp(-2.0 * 0.5 * X**2)
    exact *= w0.sum() / exact.sum()
    np.testing.assert_array_equal(run.positions(-1), run.positions(0))  # no transport
    assert np.max(np.abs(w - exact) / exact) < 1e-12  # the exact update, composed: round-off
    assert abs(run.mass[-1] - 1.0) < 1e-13  # normalized: Σw kept exactly
    assert np.all(np.diff(run.energy) < 0) and np.all(run.diagnostics["reaction_dissipation"] > 0)
    back = pf.load(path)["particles"]  # weight(time, particle) in the file
    assert back.weights is None
    np.testing.assert_array_equal(back.weights_at(-1), w)
    unbalanced = pf.solve(_quadratic(pf.FisherRao(2.0, normalized=False)), 1.0, method="particles",
                          n_particles=2000, seed=0, snapshots=2, progress=False)
    X = unbalanced.positions(-1)[:, 0]
    np.testing.assert_allclose(unbalanced.weights_at(-1), 1 / 2000 * np.exp(-X**2), rtol=1e-12)


def test_wasserstein_fisher_rao_particles_follow_the_gaussian_solution():
    alpha, t, n = 1.0, 1.0, 20_000
    run = pf.solve(_quadratic(pf.WassersteinFisherRao(alpha)), t, method="particles",
                   n_particles=n, seed=0, snapshots=2, progress=False)
    c = alpha * (1 - np.exp(-2 * t)) / 4  # X₀ ~ N(1, 0.5) reweighted by e^{−c X₀²}, then × e^{−t}
    precision = 1 / 0.5 + 2 * c
    mean = (1 / 0.5) / precision * np.exp(-t)
    var = np.exp(-2 * t) / precision
    w = run.weights_at(-1)
    n_eff = w.sum() ** 2 / (w @ w)
    # Monte-Carlo: 4 standard errors of the weighted mean and variance (n_eff ≈ 1.6e4); the Euler
    # steps (dt = 0.01 min(t, ℓ/|v|)) add O(dt) ≈ 1e-4; measured gaps 2.0e-3 and 1.2e-4
    assert abs(run.diagnostics["mean_x"][-1] - mean) < 4 * np.sqrt(var / n_eff)
    assert abs(run.diagnostics["var_x"][-1] - var) < 4 * var * np.sqrt(2 / n_eff)
    assert abs(run.mass[-1] - 1.0) < 1e-12


def test_wfr_training_of_a_network_reaches_a_lower_risk_than_wasserstein():
    # a target whose kinks (x = ±1.2) lie far from the initial neurons' (|b/w| small): transport
    # alone moves mass there slowly; the reaction grows the neurons that already help
    x = np.linspace(-2, 2, 32)
    y = 2.0 * np.maximum(x - 1.2, 0) - np.maximum(-x - 1.2, 0)
    rng = np.random.default_rng(0)
    theta0 = np.column_stack([rng.normal(0, 0.5, 200), rng.normal(0, 0.5, 200), rng.normal(0, 0.2, 200)])
    risks = {}
    for name, metric in (("W", None), ("WFR", pf.WassersteinFisherRao(2.0))):
        p = pf.problems.mean_field_network(x, y, parameters=("a", "w", "b"), theta0=theta0,
                                           metric=metric)
        run = pf.solve(p, 10.0, method="particles", dt=0.01, seed=0, snapshots=3, progress=False)
        risks[name] = run.diagnostics["risk"]
        assert abs(run.mass[-1] - 1.0) < 1e-12
    # measured at m = 400, t = 20: 0.0310 (W) and 0.0251 (WFR); here at t = 10, m = 200
    assert risks["WFR"][-1] < 0.9 * risks["W"][-1], risks


def test_flows_weighted_particles_cannot_evaluate_are_refused():
    grid = pf.Grid([(-3.0, 3.0)], 30)
    p = pf.problems.porous_medium(grid, pf.gaussian(grid, 0.0, 0.5), m=2.0, metric=pf.FisherRao(1.0))
    with pytest.raises(pf.PdeflowError, match="log ρ there .* not U'\\(ρ\\) of .*use method='fv'"):
        pf.solve(p, 0.1, method="particles", progress=False)
    heat = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    with pytest.raises(pf.PdeflowError, match="resample='birth-death' is for weighted particles"):
        pf.solve(heat, 0.1, method="particles", resample="birth-death", progress=False)


def test_fisher_rao_and_wfr_network_presets(tmp_path):
    from pdeflow.presets import get_preset
    from pdeflow.spec import apply_overrides, run_spec

    runs = run_spec(get_preset("fisher-rao"), tmp_path / "fr.h5", progress=False)
    fv = runs["fv"]
    grid = fv.grid
    x = grid.coords()[0]
    rho0, pi = fv.density(0), np.exp(-((x**2 - 1) ** 2))
    s = np.exp(-2.0)  # α = D = 1, t = 2: ρ ∝ ρ0^s π^(1−s), exact per cell
    exact = rho0**s * pi ** (1 - s)
    exact *= grid.integrate(rho0) / grid.integrate(exact)
    assert grid.integrate(np.abs(fv.density(-1) - exact)) < 1e-12  # measured ~1e-15
    assert fv.meta["problem"]["metric"]["metric"] == "fisher_rao"
    spec = apply_overrides(get_preset("wfr-network"), t_end=0.5)
    runs = run_spec(spec, tmp_path / "net.h5", progress=False)
    pde, net = runs["fv"], runs["particles"]
    assert abs(pde.mass[-1] - 1.0) < 1e-12 and abs(net.mass[-1] - 1.0) < 1e-12
    assert np.all(np.diff(pde.energy) < 0) and net.energy[-1] < net.energy[0]
    # the PDE and 2000 weighted neurons: measured energies -0.1539 and -0.1503 at t = 0.5 (the
    # width-2000 network's Monte-Carlo spread, ~1/√2000 of the energy's scale, and the grid's)
    assert abs(pde.energy[-1] - net.energy[-1]) < 0.05 * abs(pde.energy[-1])


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_network_first_variation_at_the_particles_matches_the_feature_matrix(activation):
    """ξ(X_i) = V(X_i) + (1/n) Σ_k m_k φ_k(X_i), m_k = Σ_j w_j φ_k(X_j), by the feature kernels
    (no (n, N) array), against the feature matrix written out; weight decay and a bias included."""
    from pdeflow.solvers._network_drift import feature_drifts
    from pdeflow.solvers._particle_reaction import WeightReaction

    rng = np.random.default_rng(3)
    x = rng.uniform(-1.0, 1.0, (12, 2))
    y = np.sin(x[:, 0]) + x[:, 1] ** 2
    theta0 = rng.normal(0.0, 0.7, (50, 4))
    p = pf.problems.mean_field_network(x, y, activation, ("a", "w", "b"), theta0=theta0,
                                       weight_decay=0.3, metric=pf.WassersteinFisherRao(1.0))
    w = rng.uniform(0.5, 1.5, 50) / 50
    reaction = WeightReaction(p.energy, p.metric, feature_drifts(p.energy, theta0, None))
    got = reaction.first_variation(theta0, w).copy()
    phi = p.features(*theta0.T)  # (n, N)
    expected = (-(y @ phi) / 12 + 0.15 * np.sum(theta0**2, axis=1)) + ((phi @ w) @ phi) / 12
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
