"""Kramers' equation for θ ∈ R² on a 4D phase-space grid (θ1, θ2, v1, v2).

Reference: for V = ω²|θ|²/2 Gaussians stay Gaussian, μ' = Aμ, Σ' = AΣ + ΣAᵀ + diag(0, 2γT I),
A = [[0, I], [−ω² I, −γ I]] (``exact_moments``, checked against ``solve_ivp`` in
tests/test_kinetic.py). Box [−4, 4]⁴, ω = γ = 1, T = 1/2, from N((1, −0.5, 0, 0.5), I/4) to t = 1:
the initial density at the walls is below e^{−18}, the Maxwell–Boltzmann one (variance 1/2)
below e^{−16}, so the box truncates nothing at these resolutions.

Measured (moments at t = 1; h the cell width): |Δμ| = 0.0211, 0.00895, 0.00508 and
|ΔΣ| = 0.137, 0.0651, 0.0378 on 16⁴, 24⁴, 32⁴ cells (orders 2.1, 2.0 and 1.8, 1.9; 0.08 h² and
0.6 h²), L1 errors of f 0.288, 0.151, 0.092. The 32⁴ run (184 steps, about 15 s) is left out of
the tests for time.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import pdeflow as pf
from pdeflow.errors import PdeflowError
from pdeflow.problems.kinetic import moments_vector
from pdeflow.solvers._kinetic_kernels import axis_velocity, kinetic_rate, kinetic_rate_numpy
from pdeflow.solvers.kinetic import KineticFiniteVolume
from tests.conftest import interrupt_advance

BOX, T, T_END = 4.0, 0.5, 1.0
MEAN = (1.0, -0.5, 0.0, 0.5)
RESOLUTIONS = (16, 24)


def _problem(n):
    grid = pf.Grid([(-BOX, BOX)] * 4, n)
    return pf.problems.kramers_harmonic(grid, omega=1.0, gamma=1.0, T=T, mean=MEAN, cov=0.25)


@pytest.fixture(scope="module")
def runs():
    """``{n: (problem, trajectory)}`` on 16⁴ and 24⁴ cells (about 1 s and 4 s)."""
    out = {}
    for n in RESOLUTIONS:
        p = _problem(n)
        out[n] = p, pf.solve(p, T_END, method="kinetic", snapshots=5, progress=False)
    return out


def _moment_errors(p, traj, k=-1):
    mu, cov = moments_vector(traj.diagnostics, k, d=2)
    mu_exact, cov_exact = p.exact_moments(traj.times[k])
    return np.abs(mu - mu_exact).max(), np.abs(cov - cov_exact).max()


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("periodic", [(False, False), (True, False), (True, True)])
def test_kernel_matches_its_numpy_version_in_four_dimensions(order, periodic):
    rng = np.random.default_rng(order)
    shape = (5, 6, 4, 7)
    f = rng.random(shape)
    v1, v2 = np.linspace(-2.0, 2.0, shape[2]), np.linspace(-1.5, 2.0, shape[3])
    a = rng.normal(size=(2, *shape[:2], 1, 1))
    velocity = (v1[None, None, :, None], v2[None, None, None, :], a[0], a[1])
    faces = [n if p else n - 1 for n, p in zip(shape, (*periodic, False, False), strict=True)]
    c = tuple(np.zeros(k) for k in faces[:2]) + tuple(rng.normal(size=k) for k in faces[2:])
    w_plus = tuple(np.zeros(k) for k in faces[:2]) + tuple(rng.random(k) for k in faces[2:])
    w_minus = tuple(np.zeros(k) for k in faces[:2]) + tuple(rng.random(k) for k in faces[2:])
    h = np.array([0.3, 0.25, 0.4, 0.35])
    out = np.empty(shape)
    kinetic_rate(f, tuple(axis_velocity(u, shape, k) for k, u in enumerate(velocity)), c,
                 w_plus, w_minus, h, (*periodic, False, False), order, out)
    expected = kinetic_rate_numpy(f, velocity, c, w_plus, w_minus, h, (*periodic, False, False),
                                  order)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-13)  # measured 7e-15
    assert abs(out.sum()) < 1e-12  # flux form: what leaves one cell enters another


def test_gaussian_moments_follow_the_moment_ode_at_second_order(runs):
    """At 24⁴ (h = 1/3) measured |Δμ| = 0.081 h², |ΔΣ| = 0.59 h², bounded by 0.12 h² and
    0.9 h² (1.5x); orders from 16⁴ to 24⁴ measured 2.10 (μ) and 1.84 (Σ), asserted > 1.6."""
    errors = np.array([_moment_errors(*runs[n]) for n in RESOLUTIONS])
    h = runs[24][0].grid.dx[0]
    assert errors[1, 0] < 0.12 * h**2 and errors[1, 1] < 0.9 * h**2
    orders = np.log(errors[0] / errors[1]) / np.log(24 / 16)
    assert np.all(orders > 1.6)


def test_rho_is_the_theta_marginal(runs):
    """ρ(θ1, θ2) = ∬ f dv is recorded with every snapshot: it holds the mass, and its L1
    distance to the exact marginal at 24⁴ is 0.118 (0.117 at t = 1 measured; bounded by 0.15)."""
    p, traj = runs[24]
    grid = p.grid
    rho = traj.frames["rho"][-1]
    assert rho.shape == (24, 24)
    h_theta = grid.dx[0] * grid.dx[1]
    assert abs(np.sum(rho) * h_theta - traj.mass[-1]) < 1e-13 * traj.mass[-1]
    exact = p.exact(T_END).sum(axis=(2, 3)) * grid.dx[2] * grid.dx[3]
    assert np.sum(np.abs(rho - exact)) * h_theta < 0.15


def test_mass_conserved_to_round_off_density_positive_energy_decreasing(runs):
    for _, traj in runs.values():
        assert np.abs(traj.mass / traj.mass[0] - 1.0).max() < 1e-13  # measured 7.5e-15
        assert min(traj.density(i).min() for i in range(len(traj.times))) >= 0.0
        assert np.all(np.diff(traj.energy) < 0)  # measured decrements ≥ 0.108 per snapshot


def test_separable_data_evolve_as_the_product_of_two_phase_planes(runs):
    """The semi-discrete operator splits over (θ1, v1) and (θ2, v2) (flux form, axis by axis;
    the minmod limiter is positively homogeneous), so a product of two (θ, v) densities stays
    the product of the two 2D runs; only the time steps differ (the 4D step is about half the
    2D one). Measured L1 gap at 24⁴: 2.2e-6 (5.1e-6 at 16⁴), against 0.15 for the error of
    either to the exact solution: the 4D scheme is the 2D scheme per plane."""
    p, traj = runs[24]
    grid2 = pf.Grid([(-BOX, BOX)] * 2, 24)
    planes = [pf.solve(pf.problems.kramers_harmonic(grid2, omega=1.0, gamma=1.0, T=T, mean=mean,
                                                    cov=0.25),
                       T_END, method="kinetic", snapshots=5, progress=False).density(-1)
              for mean in ((MEAN[0], MEAN[2]), (MEAN[1], MEAN[3]))]
    product = np.einsum("ik,jl->ijkl", *planes)
    assert p.grid.integrate(np.abs(traj.density(-1) - product)) < 1e-5


def test_maxwell_boltzmann_state_is_nearly_stationary():
    """f ∝ exp(−(|v|²/2 + V)/T): the SG part keeps it exactly, the transport up to O(h²). Its L1
    change over t ∈ [0, 1] is 0.137 at 16⁴ (0.55 h²) and 0.066 at 24⁴ (0.59 h²), order 1.8;
    bounded by 0.7 h² and checked to fall by 1.8x (2.25 at order 2)."""
    changes = []
    for n in RESOLUTIONS:
        grid = pf.Grid([(-BOX, BOX)] * 4, n)
        x1, x2, v1, v2 = grid.coords()
        f0 = np.exp(-(0.5 * (v1**2 + v2**2) + 0.5 * (x1**2 + x2**2)) / T)
        f0 /= grid.integrate(f0)
        p = pf.problems.kinetic_fokker_planck(grid, f0, lambda a, b: 0.5 * (a**2 + b**2),
                                              gamma=1.0, T=T, grad_V=lambda a, b: (a, b))
        traj = pf.solve(p, T_END, method="kinetic", snapshots=2, progress=False)
        changes.append(grid.integrate(np.abs(traj.density(-1) - f0)))
        assert changes[-1] < 0.7 * grid.dx[0] ** 2
    assert changes[0] / changes[1] > 1.8


def test_particles_in_four_dimensions_meet_the_exact_and_the_grid_moments(runs):
    """BAOAB particles sampled from f0 on the 24⁴ grid, N = 20 000: each mean and covariance entry
    within 3σ (σ = √(Σᵢᵢ/N), √((ΣᵢᵢΣⱼⱼ + Σᵢⱼ²)/N)) + 1e-3 (the dt² bias) + h²/12 on the
    covariance (sampling the piecewise-constant cells adds h²/12 of variance) of the exact
    moments (measured ≤ 0.014 against bounds ≥ 0.017), and of the grid's within that plus the
    grid's own bound 0.9 h² (measured gap 0.063 at t = 1)."""
    p, grid_run = runs[24]
    N, h = 20_000, p.grid.dx[0]
    traj = pf.solve(p, T_END, method="kinetic_particles", n_particles=N, seed=0, snapshots=5,
                    progress=False)
    assert traj.positions(-1).shape == (N, 4) and traj.frames["rho"][-1].shape == (24, 24)
    for k, t in enumerate(traj.times):
        mu, cov = moments_vector(traj.diagnostics, k, d=2)
        mu_exact, cov_exact = p.exact_moments(t)
        var = np.diag(cov_exact)
        bound_mu = 3 * np.sqrt(var / N) + 1e-3
        bound_cov = 3 * np.sqrt((np.outer(var, var) + cov_exact**2) / N) + 1e-3 + h**2 / 12
        assert np.all(np.abs(mu - mu_exact) < bound_mu)
        assert np.all(np.abs(cov - cov_exact) < bound_cov)
        mu_grid, cov_grid = moments_vector(grid_run.diagnostics, k, d=2)
        assert np.all(np.abs(mu - mu_grid) < bound_mu + 0.12 * h**2)
        assert np.all(np.abs(cov - cov_grid) < bound_cov + 0.9 * h**2)


def test_storage_names_the_phase_space_axes_and_round_trips(tmp_path):
    """The file names the axes theta1, theta2, v1, v2 (datasets, dimension scales, xarray
    dimensions); load gives the run back exactly; a 4D run writes no XDMF; the plots and
    pf.compare take it."""
    xr = pytest.importorskip("xarray")
    p = _problem(10)
    path = tmp_path / "kramers4d.h5"
    traj = pf.solve(p, 0.3, method="kinetic", snapshots=3, store=path, progress=False)
    particles = pf.solve(p, 0.3, method="kinetic_particles", n_particles=2000, seed=1,
                         snapshots=3, store=path, progress=False)
    with h5py.File(path, "r") as f:
        group = f["kinetic"]
        assert json.loads(group.attrs["axes"]) == ["theta1", "theta2", "v1", "v2"]
        assert not any(name in group for name in ("x", "y", "z"))
        np.testing.assert_array_equal(group["v2"][:], p.grid.axes[3])
    with xr.open_dataset(path, group="kinetic", engine="h5netcdf") as ds:
        assert ds["density"].dims == ("time", "theta1", "theta2", "v1", "v2")
        assert ds["rho"].dims == ("time", "theta1", "theta2")
        np.testing.assert_array_equal(ds["theta2"].values, p.grid.axes[1])
    back = pf.load(path)
    assert back["kinetic"].grid == p.grid
    for i in range(3):
        np.testing.assert_array_equal(back["kinetic"].density(i), traj.density(i))
        np.testing.assert_array_equal(back["kinetic"].frames["rho"][i], traj.frames["rho"][i])
    assert set(back["kinetic"].diagnostics) == set(traj.diagnostics)
    for name, values in traj.diagnostics.items():
        np.testing.assert_array_equal(back["kinetic"].diagnostics[name], values)
    assert not path.with_suffix(".xmf").exists()
    from pdeflow.plot import plot_trajectory

    image = plot_trajectory(back["kinetic"]).axes[0].images[0].get_array()
    assert image.shape == (10, 10)  # ρ on the (θ1, θ2) plane
    report = pf.compare(traj, particles, exact=p.exact, max_points=200)
    pair = report.pair_names.index("kinetic vs exact")
    assert report["mean_gap"][0, pair] < 1e-12  # the same density at t = 0
    assert report["mean_gap"][-1, pair] < 0.05  # 10⁴ cells (h = 0.8): measured 0.022 at t = 0.3
    assert report.axis_names == ["theta1", "theta2", "v1", "v2"]
    contours = report.plot().axes[0].collections  # ρ on the (θ1, θ2) plane, one set per run
    assert len(contours) >= 3


def test_files_without_axis_names_load_by_x_y_z(tmp_path):
    """Files written before the ``axes`` attribute name their coordinates x, y, z."""
    grid = pf.Grid([(-3.0, 3.0), (-3.0, 3.0)], 12)
    path = tmp_path / "old.h5"
    traj = pf.solve(pf.problems.heat(grid, pf.gaussian(grid, (0.0, 0.0), 0.5)), 0.05,
                    snapshots=2, store=path, progress=False)
    with h5py.File(path, "a") as f:
        assert json.loads(f["fv"].attrs["axes"]) == ["x", "y"]
        del f["fv"].attrs["axes"]
    back = pf.load(path)["fv"]
    assert back.grid == grid
    np.testing.assert_array_equal(back.density(-1), traj.density(-1))


def test_four_dimensional_runs_resume_bitwise(monkeypatch, tmp_path):
    p = _problem(10)
    reference = pf.solve(p, 0.4, method="kinetic", snapshots=5, progress=False)
    path = tmp_path / "run.h5"
    undo = interrupt_advance(monkeypatch, KineticFiniteVolume, 3)
    with pytest.raises(KeyboardInterrupt):
        pf.solve(p, 0.4, method="kinetic", snapshots=5, store=path, progress=False)
    undo()
    resumed = pf.solve(p, 0.4, method="kinetic", snapshots=5, store=path, progress=False,
                       resume=True)
    assert resumed.meta["resumed_from"] == reference.times[2]
    for i in range(5):
        np.testing.assert_array_equal(resumed.density(i), reference.density(i))
    np.testing.assert_array_equal(resumed.energy, reference.energy)


def test_gradient_flow_methods_refuse_four_axis_grids():
    grid = pf.Grid([(-1.0, 1.0)] * 4, 4)
    p = pf.problems.heat(grid, np.ones(grid.shape))
    for method in ("fv", "particles", "jko"):
        with pytest.raises(PdeflowError, match="grids of 1 to 3 axes, this grid has 4"):
            pf.solve(p, 0.1, method=method, progress=False)


def test_friction_and_noise_keep_the_discrete_maxwellian_on_periodic_theta_axes():
    """V = 0, both θ axes periodic, f = e^{−|v|²/2T} uniform in θ: every θ row is uniform (the
    transport carries it) and the SG fluxes of both velocity axes vanish: stationary to
    round-off."""
    grid = pf.Grid([(0.0, 1.0), (0.0, 2.0), (-4.0, 4.0), (-4.0, 4.0)], (4, 5, 20, 18),
                   periodic=(True, True, False, False))
    v1, v2 = grid.coords()[2:]
    f0 = np.broadcast_to(np.exp(-(v1**2 + v2**2) / 2 / 0.7), grid.shape).copy()
    f0 /= grid.integrate(f0)
    p = pf.problems.kinetic_fokker_planck(grid, f0, lambda a, b: 0.0 * (a + b), gamma=2.0, T=0.7,
                                          grad_V=lambda a, b: (0.0 * a, 0.0 * b))
    traj = pf.solve(p, 1.0, method="kinetic", snapshots=2, progress=False)
    np.testing.assert_allclose(traj.density(-1), f0, rtol=1e-12, atol=0)


def test_heavy_ball_in_four_dimensions_is_positive_conservative_and_dissipative():
    """T = 0: the friction is limited transport on both velocity axes. 16⁴, γ = 1/2, to t = 1:
    mass to round-off, f ≥ 0, ∫ f H decreasing; moments of the ODE within 0.2 h² (μ) and
    0.9 h² (Σ) (h = 1/2; measured |Δμ| = 0.034 = 0.14 h², |ΔΣ| = 0.153 = 0.61 h²)."""
    grid = pf.Grid([(-BOX, BOX)] * 4, 16)
    p = pf.problems.kramers_harmonic(grid, omega=1.0, gamma=0.5, T=0.0, mean=MEAN, cov=0.25)
    traj = pf.solve(p, T_END, method="kinetic", snapshots=5, progress=False)
    assert np.abs(traj.mass / traj.mass[0] - 1.0).max() < 1e-13
    assert min(traj.density(i).min() for i in range(5)) >= 0.0
    assert np.all(np.diff(traj.energy) < 0)
    mu_error, cov_error = _moment_errors(p, traj)
    h = grid.dx[0]
    assert mu_error < 0.2 * h**2 and cov_error < 0.9 * h**2
