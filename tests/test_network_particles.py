"""The particle view of the mean-field network: gradient descent on a width-m network."""

import functools

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logsumexp

import pdeflow as pf
from pdeflow.activations import ACTIVATIONS
from pdeflow.network import mean_field_limit
from pdeflow.problems.mean_field import NeuronFeatures
from pdeflow.solvers._network_drift import FeatureDrift, feature_drifts

X1 = np.linspace(-2.0, 2.0, 16)
Y1 = np.maximum(X1, 0.0) - 0.5 * np.maximum(-X1, 0.0)
BOX = [(-3.0, 3.0), (-3.0, 3.0)]


def _teacher(cells=48, **kwargs):
    grid = pf.Grid(BOX, cells)
    rho0 = pf.gaussian(grid, (0.0, 0.0), 0.3)
    return pf.problems.mean_field_network(X1, Y1, "relu", grid=grid, rho0=rho0, **kwargs)


SIGMA = {"relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
         "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
         "sigmoid": (expit, lambda z: expit(z) * (1.0 - expit(z)))}


def _gradient_descent(theta, x, y, activation, lr, steps, decay):
    """Plain GD on L(Θ) = (1/2n) Σ_k (f(x_k) − y_k)² + (λ/2m) Σ_i |θ_i|², f = (1/m) Σ_i a_i σ(w_i·x + b_i),
    with the per-neuron learning rate m·lr (the mean-field time scale), written from the loss."""
    sigma, sigma_prime = SIGMA[activation]
    m, n, d = theta.shape[0], x.shape[0], x.shape[1]
    for _ in range(steps):
        a, W, b = theta[:, 0], theta[:, 1 : 1 + d], theta[:, 1 + d]
        z = x @ W.T + b                                   # (n, m)
        residual = (sigma(z) @ a / m - y) / n             # ∂L/∂f(x_k)
        dz = residual[:, None] * sigma_prime(z) * a / m   # ∂L/∂z_ki
        grad = np.column_stack([sigma(z).T @ residual / m, dz.T @ x, dz.sum(axis=0)])
        theta = theta - m * lr * (grad + decay * theta / m)
    return theta


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("m", [1, 2])
def test_width_one_and_two_are_plain_gradient_descent(activation, m):
    rng = np.random.default_rng(m)
    x = rng.uniform(-1.0, 1.0, (12, 2))
    y = np.sin(2 * x[:, 0]) - x[:, 1]
    theta0 = rng.normal(size=(m, 4))
    p = pf.problems.mean_field_network(x, y, activation, ("a", "w", "b"), theta0=theta0,
                                       weight_decay=0.1)
    traj = pf.solve(p, 60 * 0.05, method="particles", dt=0.05, snapshots=2, progress=False)
    assert traj.meta["steps"] == 60
    expected = _gradient_descent(theta0, x, y, activation, 0.05, 60, 0.1)
    # the same 60 Euler steps summed in another order: round-off only (measured ~4e-16)
    np.testing.assert_allclose(traj.positions(-1), expected, rtol=0, atol=1e-10)


def test_particle_energy_is_the_risk_up_to_its_constant():
    p = _teacher()
    traj = pf.solve(p, 2.0, method="particles", n_particles=2000, seed=3, snapshots=5,
                    progress=False)
    risk = traj.diagnostics["risk"]
    # the energy of the particles, Σ w V(θ) + (1/2n) Σ_k f_k², against the risk from observe()
    np.testing.assert_allclose(traj.energy + p.parameters["risk_constant"], risk, rtol=1e-12)
    assert np.all(np.diff(risk) < 0)  # gradient descent at dt ≪ 1/curvature: risk decreases
    assert traj.meta["fixed_step"] and traj.meta["dt_max"] == traj.meta["options"]["dt"]


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_network_kernels_match_numpy(activation, with_bias):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 2))
    X = rng.normal(size=(30, 3 + with_bias))
    w = rng.uniform(0.5, 1.5, 30) / 30
    batch = np.array([0, 2, 3, 6])
    coef = rng.normal(size=4)
    fast = NeuronFeatures(x, *ACTIVATIONS[activation], with_bias, kernel_name=activation)
    slow = NeuronFeatures(x, *ACTIVATIONS[activation], with_bias)  # no kernel: the NumPy path
    out_fast, out_slow = np.zeros(4), np.zeros(4)
    fast.moments(X, w, batch, out_fast)
    slow.moments(X, w, batch, out_slow)
    np.testing.assert_allclose(out_fast, out_slow, rtol=1e-13, atol=1e-15)  # summation order only
    g_fast, g_slow = np.zeros_like(X), np.zeros_like(X)
    fast.combine_gradient(X, batch, coef, 0.3, g_fast)
    slow.combine_gradient(X, batch, coef, 0.3, g_slow)
    np.testing.assert_allclose(g_fast, g_slow, rtol=1e-13, atol=1e-14)
    fast.moments(X, w, batch, out_fast, chunks=3)  # three blocks of particles, in parallel
    fast.combine_gradient(X, batch, coef, 0.3, g_fast, chunks=3)
    np.testing.assert_allclose(out_fast, out_slow, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g_fast, g_slow, rtol=1e-13, atol=1e-14)


def test_minibatch_gradient_is_unbiased():
    p = _teacher()
    rng = np.random.default_rng(0)
    X = np.ascontiguousarray(rng.normal(0.0, 0.6, (50, 2)))
    w = np.full(50, 1 / 50)

    def drift(batch_size):
        (d,) = feature_drifts(p.energy, X, batch_size)
        return d

    full = np.zeros_like(X)
    drift(None).gradient(X, w, rng, full)
    same = np.zeros_like(X)
    drift(16).gradient(X, w, rng, same)
    np.testing.assert_array_equal(same, full)  # a batch of all n features is the full batch
    mini, out, draws = drift(4), np.zeros_like(X), 4000
    samples = np.zeros((draws, *X.shape))
    for k in range(draws):
        mini.gradient(X, w, rng, out)
        samples[k] = out
    error = np.abs(samples.mean(axis=0) - full)
    standard_error = samples.std(axis=0) / np.sqrt(draws)
    assert np.all(error <= 4.5 * standard_error + 1e-12)  # 4.5σ over 100 entries: false alarm < 1e-3
    assert isinstance(mini, FeatureDrift) and mini.b == 4


def test_network_particles_ignore_the_grid_box():
    # the grid is a window, not a wall: a run on a small grid and a run without any grid move the
    # same neurons the same way, including one that starts and stays outside the box
    theta0 = np.array([[0.5, 1.0], [-0.7, 0.4], [2.5, 2.5]])
    grid = pf.Grid([(-1.0, 1.0), (-1.0, 1.0)], 16)
    on_grid = pf.problems.mean_field_network(X1, Y1, grid=grid, rho0=pf.uniform(grid), theta0=theta0)
    no_grid = pf.problems.mean_field_network(X1, Y1, theta0=theta0)
    a = pf.solve(on_grid, 1.0, method="particles", dt=0.01, snapshots=3, progress=False)
    b = pf.solve(no_grid, 1.0, method="particles", dt=0.01, snapshots=3, progress=False)
    np.testing.assert_array_equal(a.positions(-1), b.positions(-1))  # bitwise: same arithmetic
    assert np.abs(a.positions(-1)[2]).max() > 1.0  # still outside [-1, 1]²: never reflected


def test_particles_only_network_in_any_input_dimension(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    y = np.tanh(x @ np.array([1.0, -0.5, 0.25]))

    def sampler(m, rng):
        return rng.normal(0.0, 0.5, (m, 5))  # (a, w1, w2, w3, b)

    p = pf.problems.mean_field_network(x, y, "tanh", ("a", "w", "b"), theta0=sampler)
    path = tmp_path / "net.h5"
    traj = pf.solve(p, 20.0, method="particles", n_particles=500, seed=0, dt=0.05, snapshots=5,
                    store=path, batch_size=10, progress=False)
    risk = traj.diagnostics["risk"]
    assert risk[-1] < 0.3 * risk[0]  # measured 0.11 (minibatch SGD, lr 0.05, 400 steps)
    back = pf.load(path)["particles"]
    assert back.positions(-1).shape == (500, 5)
    np.testing.assert_array_equal(back.positions(-1), traj.positions(-1))
    assert "mean_w3" in traj.diagnostics and traj.meta["options"]["batch_size"] == 10
    with pytest.raises(pf.PdeflowError, match="without a grid, so only method='particles'"):
        pf.solve(p, 1.0, method="fv", progress=False)
    with pytest.raises(pf.PdeflowError, match=r"theta0 has shape \(4, 4\)"):
        pf.problems.mean_field_network(x, y, parameters=("a", "w", "b"), theta0=np.ones((4, 4)))


def test_grid_and_particle_views_agree_as_the_width_grows():
    p = _teacher(cells=64)
    r = mean_field_limit(p, 1.0, widths=(30, 300, 3000), seeds=(0, 1, 2), snapshots=6)
    m = r["widths"]
    # W2 of m Gaussian samples in 2D ~ log m / √m (Ledoux 2017): log-log slope ≈ −0.3 here
    # (measured −0.29), −0.5 after dividing by log m (measured −0.52)
    assert r["slope_w2"] < -0.2, r["w2"]
    assert -0.7 < r["slope_w2_log"] < -0.35, r["w2"]
    # the network's output fluctuates as m^{-1/2}: risk gap slope −0.50 measured, and the gap
    # stays under 0.5/√m (measured 0.18–0.23/√m, seed spread ±40%)
    assert r["slope_risk"] < -0.3, r["risk_gap"]
    assert np.all(r["risk_gap"] < 0.5 / np.sqrt(m)), r["risk_gap"] * np.sqrt(m)


@functools.lru_cache
def gibbs_outputs(beta, decay, cells=256):
    """f(x_k; ρ*) of the Gibbs state ρ* ∝ exp(−β Ψ(θ; ρ*)), written independently of pdeflow's
    solvers: ρ depends on ρ* only through u_k = f(x_k; ρ*), and u is the maximiser of the strictly
    concave J(u) = −(1/β) log ∫ exp(−β(V + (1/n)Σ_k u_k φ_k)) − |u|²/(2n) (∇J = 0 is u = ⟨φ, ρ_u⟩)."""
    grid = pf.Grid(BOX, cells)
    A, W = np.meshgrid(*grid.axes, indexing="ij")
    n = len(Y1)
    phi = (A[None] * np.maximum(X1[:, None, None] * W[None], 0.0)).reshape(n, -1)
    V = -Y1 @ phi / n + 0.5 * decay * (A**2 + W**2).ravel()

    def minus_J(u):
        s = -beta * (V + u @ phi / n)
        log_z = logsumexp(s) + np.log(grid.cell_volume)
        moments = phi @ np.exp(s - log_z) * grid.cell_volume
        return log_z / beta + u @ u / (2 * n), (u - moments) / n

    u = minimize(minus_J, np.zeros(n), jac=True, method="BFGS", options={"gtol": 1e-12}).x
    s = -beta * (V + u @ phi / n)
    return u, grid, np.exp(s - logsumexp(s)).reshape(grid.shape) / grid.cell_volume


def test_langevin_neurons_sample_the_gibbs_state():
    beta, decay = 5.0, 1.0
    u, _, _ = gibbs_outputs(beta, decay)
    p = _teacher(cells=32, beta=beta, weight_decay=decay)
    traj = pf.solve(p, 16.0, method="particles", n_particles=4000, seed=1, dt=0.01, snapshots=17,
                    progress=False)
    late = np.array(traj.frames["output_data"][8:])  # t = 8..16: relaxed (rate ~ λ = 1)
    # sampling: f fluctuates by 0.009 per snapshot (measured) at m = 4000, averaged over 9
    # correlated snapshots; Euler–Maruyama bias O(dt) ~ 1e-3. Measured max error 0.0047.
    assert np.abs(late.mean(axis=0) - u).max() < 0.015


def test_noisy_grid_flow_reaches_the_gibbs_state():
    beta, decay = 5.0, 1.0
    _, fine, rho_star = gibbs_outputs(beta, decay, cells=256)
    errors = []
    for cells in (32, 64):
        p = _teacher(cells=cells, beta=beta, weight_decay=decay)
        rho = pf.solve(p, 16.0, snapshots=2, progress=False).density(-1)
        # the fixed-point relation ρ ∝ exp(−β Ψ(θ; ρ)) on the grid: Scharfetter–Gummel keeps the
        # discrete Gibbs state exactly stationary, so what is left is the relaxation, a factor ~3
        # per time unit here (measured spread 3.9e-4 at t = 16 on 32², 3.3e-4 on 64²)
        psi = p.energy.on(p.grid).drift_potential(rho)
        alive = rho > 1e-6 * rho.max()
        spread = np.ptp(np.log(rho[alive]) + beta * psi[alive])
        assert spread < 1e-3, spread
        # against the Gibbs state computed independently (concave dual, 256² quadrature), as cell
        # averages: the cell-centre quadrature of the moments is O(h²)
        k = 256 // cells
        reference = rho_star.reshape(cells, k, cells, k).mean(axis=(1, 3))
        errors.append(p.grid.integrate(np.abs(rho - reference)))
    order = np.log2(errors[0] / errors[1])
    assert order > 1.7 and errors[1] < 4e-3, errors  # measured 1.14e-2, 2.73e-3: order 2.06
