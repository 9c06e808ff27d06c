"""Optimizers against their continuous-time limits: the gap max_k |θ_k − θ(t_k)| over [0, 2]
falls with the learning rate η at the order of the scheme — η for gradient descent and Adam
(one step = η), √η for heavy ball and Nesterov (one step = √η).

Measured orders between the two smallest rates (rates halved for GD/Adam, quartered for heavy
ball/Nesterov): quadratic x² + 4y² from (2, 1): GD 1.004, heavy ball 0.501, Nesterov 0.498,
Adam 1.005; Rosenbrock from (−1.2, 1): GD 1.06 (between η = 1.25e-4 and 6.25e-5; 1.40 between
5e-4 and 2.5e-4, nearer its stability limit, not yet asymptotic), heavy ball 0.53, Nesterov
0.49, Adam 0.99. Asserted within 0.1 of the
theory (0.15 for Rosenbrock's heavy ball, whose pre-asymptotic slope is still falling).

On a two-layer network (width 5, tanh, mean-field scaling, fitting tanh(2x) on 20 points; the
gradient of m·R at the neurons, :func:`pdeflow.optimizers.network_gradient`): GD 1.000, heavy
ball 0.500, Nesterov 0.501, Adam (a = b = 1) 0.998. Adam with a = 10, b = 100 is not yet
asymptotic there at any rate this test can afford (gaps 0.15, 0.022, 0.034, 0.023 at η = 1e-3 …
1.25e-4): with fast moment decay its flow θ' ≈ −sign-like ∇f/|∇f| is nearly discontinuous where
a gradient component changes sign, as it does for the network's neurons.
"""

from __future__ import annotations

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.errors import PdeflowError
from pdeflow.optimizers import (
    fisher_rao_gaussian,
    flow,
    gap,
    iterate,
    natural_gradient_gaussian,
    network_gradient,
)


def quadratic_gradient(p):
    return np.array([2 * p[0], 8 * p[1]])


def rosenbrock_gradient(p):
    return np.array([-2 * (1 - p[0]) - 400 * p[0] * (p[1] - p[0] ** 2), 200 * (p[1] - p[0] ** 2)])


CASES = {  # optimizer: (rates on the quadratic, parameters, order in η)
    "gradient_descent": ([0.002, 0.001], {}, 1.0),
    "heavy_ball": ([1e-4, 2.5e-5], {"gamma": 2.0}, 0.5),
    "nesterov": ([1e-4, 2.5e-5], {}, 0.5),
    "adam": ([0.002, 0.001], {"a": 10.0, "b": 100.0}, 1.0),
}


def _order(grad, x0, name, rates, params):
    reference = flow(name, grad, x0, 2.0, **params)
    gaps = [gap(name, grad, x0, lr, 2.0, reference=reference, **params) for lr in rates]
    return np.log(gaps[0] / gaps[1]) / np.log(rates[0] / rates[1]), gaps


@pytest.mark.parametrize("name", list(CASES))
def test_optimizer_approaches_its_flow_at_its_order_on_the_quadratic(name):
    rates, params, order = CASES[name]
    measured, gaps = _order(quadratic_gradient, (2.0, 1.0), name, rates, params)
    assert abs(measured - order) < 0.1
    assert gaps[-1] < 0.02  # measured 1.5e-3 (GD), 7.6e-3, 1.3e-2, 9.1e-3 (Adam)


@pytest.mark.parametrize("name", list(CASES))
def test_optimizer_approaches_its_flow_at_its_order_on_rosenbrock(name):
    rates, params, order = CASES[name]
    # the valley is stiff (GD is stable below η ≈ 2e-3, and asymptotic well below it)
    rates = [r / (16 if name == "gradient_descent" else 4) for r in rates]
    measured, _ = _order(rosenbrock_gradient, (-1.2, 1.0), name, rates, params)
    assert abs(measured - order) < (0.15 if name == "heavy_ball" else 0.1)


def _network():
    x = np.linspace(-1.0, 1.0, 20)
    theta0 = np.random.default_rng(1).normal(0.0, 0.8, (5, 2))
    return pf.problems.mean_field_network(x, np.tanh(2 * x), "tanh", theta0=theta0), theta0


NETWORK_PARAMS = {"heavy_ball": {"gamma": 2.0}, "adam": {"a": 1.0, "b": 1.0}}


@pytest.mark.parametrize("name", list(CASES))
def test_optimizer_approaches_its_flow_at_its_order_on_a_two_layer_network(name):
    problem, theta0 = _network()
    rates, _, order = CASES[name]
    measured, gaps = _order(network_gradient(problem), theta0.ravel(), name, rates,
                            NETWORK_PARAMS.get(name, {}))
    assert abs(measured - order) < 0.05
    assert gaps[-1] < 0.01  # measured 1.0e-4 (GD), 1.4e-3, 3.9e-3, 1.1e-3 (Adam)


def test_gradient_descent_on_the_network_is_the_particle_method():
    """GD with network_gradient at rate η and pf.solve(method="particles", dt=η) take the same
    steps: the neurons agree to round-off after 20 steps (measured 1.7e-16)."""
    problem, theta0 = _network()
    traj = pf.solve(problem, 1.0, method="particles", dt=0.05, progress=False)
    path = iterate("gradient_descent", network_gradient(problem), theta0.ravel(), 0.05, 20)
    np.testing.assert_allclose(traj.positions(-1).ravel(), path[-1], rtol=0, atol=1e-13)
    assert np.abs(path[-1] - path[0]).max() > 0.05  # the neurons did move


def test_gradient_flow_of_the_quadratic_is_exact():
    theta = flow("gradient_descent", quadratic_gradient, (2.0, 1.0), 2.0)
    t = np.linspace(0.0, 2.0, 9)
    np.testing.assert_allclose(theta(t), [2 * np.exp(-2 * t), np.exp(-8 * t)], atol=1e-9)


def test_heavy_ball_flow_of_a_quadratic_is_the_damped_oscillator():
    """f = x²/2 (ω = 1), γ = 1/2: θ = e^{−t/4} (cos νt + sin(νt)/(4ν)), ν = √(1 − 1/16)."""
    theta = flow("heavy_ball", lambda p: p, (1.0,), 5.0, gamma=0.5)
    t = np.linspace(0.0, 5.0, 11)
    nu = np.sqrt(1 - 1 / 16)
    np.testing.assert_allclose(theta(t)[0], np.exp(-t / 4) * (np.cos(nu * t)
                                                              + np.sin(nu * t) / (4 * nu)),
                               atol=1e-9)


def test_unknown_optimizer_is_refused():
    with pytest.raises(PdeflowError, match="unknown optimizer 'sgd'"):
        iterate("sgd", quadratic_gradient, (1.0, 1.0), 0.1, 3)


def test_natural_gradient_descent_approaches_the_fisher_rao_flow_at_order_one():
    """From N(2, 0.25) to π = N(−1, 1.5²) over [0, 3]: gaps 5.05e-3, 2.52e-3, 1.26e-3 at η = 0.02,
    0.01, 0.005 (order 1.00, gap/η = 0.25)."""
    gaps = []
    for lr in (0.02, 0.01, 0.005):
        steps = int(round(3.0 / lr))
        path = natural_gradient_gaussian(2.0, 0.5, -1.0, 1.5, lr, steps)
        mu, sigma = fisher_rao_gaussian(2.0, 0.5, -1.0, 1.5, lr * np.arange(steps + 1))
        gaps.append(np.max(np.hypot(path[:, 0] - mu, path[:, 1] - sigma)))
    orders = np.log2(np.array(gaps[:-1]) / np.array(gaps[1:]))
    assert np.all(np.abs(orders - 1.0) < 0.05)
    assert gaps[-1] < 1.5e-3


def test_the_fisher_rao_flow_on_a_grid_stays_in_the_gaussian_family():
    """pf.solve with metric=FisherRao(1) (the Fisher–Rao flow of KL(ρ | e^{−V}), all densities)
    keeps N(2, 0.25) Gaussian with the moments of the natural gradient flow: to 1e-10 (measured
    4e-16; the box [−12, 12] holds all but e^{−40} of every ρ_t)."""
    grid = pf.Grid([(-12.0, 12.0)], 800)
    p = pf.problems.fokker_planck(grid, pf.gaussian(grid, 2.0, 0.25),
                                  V=lambda x: (x + 1.0) ** 2 / (2 * 1.5**2), D=1.0,
                                  metric=pf.FisherRao(1.0))
    traj = pf.solve(p, 3.0, method="fv", snapshots=4, progress=False)
    x = grid.axes[0]
    for i, t in enumerate(traj.times):
        rho = traj.density(i) / grid.integrate(traj.density(i))
        mean = grid.integrate(x * rho)
        sd = np.sqrt(grid.integrate((x - mean) ** 2 * rho))
        np.testing.assert_allclose((mean, sd), fisher_rao_gaussian(2.0, 0.5, -1.0, 1.5, t),
                                   atol=1e-10)
