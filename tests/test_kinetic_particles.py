"""Underdamped Langevin particles against the exact moments of Kramers' equation, and kinetic runs
through storage, resume and compare.

Monte-Carlo bounds: the particles start as N i.i.d. samples of the Gaussian N(μ0, Σ0), and BAOAB
on a linear force is a linear map plus Gaussian noise, so at every step they are N i.i.d. samples
of a Gaussian whose moments differ from the ODE's by the O(dt²) splitting bias (dt = 0.01: about
1e-4, against 3σ ≈ 5e-3 below). The sample mean of coordinate i has standard deviation
√(Σ_ii/N) and the sample covariance entry (i, j) has √((Σ_ii Σ_jj + Σ_ij²)/N); each is asserted
within 3σ + 1e-3 (the bias allowance). Fixed seeds make the tests deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.problems.kinetic import moments_vector
from pdeflow.solvers.kinetic import KineticFiniteVolume
from pdeflow.solvers.kinetic_particles import KineticParticles
from tests.conftest import interrupt_advance


def _assert_within_monte_carlo(mu, cov, mu_exact, cov_exact, N):
    var = np.diag(cov_exact)
    sigma_mean = np.sqrt(var / N)
    sigma_cov = np.sqrt((np.outer(var, var) + cov_exact**2) / N)
    assert np.all(np.abs(mu - mu_exact) < 3 * sigma_mean + 1e-3)
    assert np.all(np.abs(cov - cov_exact) < 3 * sigma_cov + 1e-3)


@pytest.mark.parametrize("T", [0.5, 0.0])
def test_particles_follow_the_moment_ode_in_one_dimension(T):
    """N = 40 000, t = 2: 3σ of the mean of θ is 3√(0.3/N) ≈ 8e-3."""
    N = 40_000
    p = pf.problems.kramers_harmonic(None, omega=1.0, gamma=1.0, T=T, mean=(1.0, 0.0), cov=0.25)
    traj = pf.solve(p, 2.0, method="kinetic_particles", n_particles=N, seed=3, snapshots=5,
                    progress=False)
    for k, t in enumerate(traj.times):
        mu, cov = moments_vector(traj.diagnostics, k)
        _assert_within_monte_carlo(mu, cov, *p.exact_moments(t), N)


def test_particles_follow_the_moment_ode_in_four_dimensional_phase_space():
    """θ ∈ R², phase space R⁴ (particles only), N = 20 000, anisotropic start."""
    N = 20_000
    cov0 = np.diag([0.2, 0.5, 0.3, 0.1])
    cov0[0, 1] = cov0[1, 0] = 0.1
    p = pf.problems.kramers_harmonic(None, omega=1.5, gamma=0.7, T=0.4, mean=(1.0, -0.5, 0.0, 0.5),
                                     cov=cov0, dim=2)
    traj = pf.solve(p, 1.5, method="kinetic_particles", n_particles=N, seed=5, snapshots=4,
                    progress=False)
    assert traj.positions(-1).shape == (N, 4)
    for k, t in enumerate(traj.times):
        mu, cov = moments_vector(traj.diagnostics, k, d=2)
        _assert_within_monte_carlo(mu, cov, *p.exact_moments(t), N)


def _gaussian_free_energy(mu, cov, omega, T):
    """F = ∫ f H + T ∫ f log f of N(μ, Σ) in phase space R², H = v²/2 + ω²θ²/2."""
    mean_h = 0.5 * (cov[1, 1] + mu[1] ** 2) + 0.5 * omega**2 * (cov[0, 0] + mu[0] ** 2)
    return mean_h - T * 0.5 * (2 * np.log(2 * np.pi * np.e) + np.log(np.linalg.det(cov)))


def test_particle_free_energy_decreases():
    """The harmonic law stays Gaussian, so the Gaussian entropy the particles record is exact:
    it matches F of the exact moments within 0.02 at every snapshot (3σ of the sample mean of H,
    Var H ≤ 0.63, is 0.017 at N = 20 000; measured ≤ 0.007), and falls at each snapshot up to
    t = 2.5, where the exact decrease per snapshot (≥ 0.049) is beyond that noise."""
    p = pf.problems.kramers_harmonic(None, omega=1.0, gamma=1.0, T=0.5, mean=(1.5, 0.0), cov=0.25)
    traj = pf.solve(p, 4.0, method="kinetic_particles", n_particles=20_000, seed=0,
                    snapshots=9, progress=False)
    assert np.all(np.diff(traj.energy[:6]) < 0)
    exact = [_gaussian_free_energy(*p.exact_moments(t), 1.0, 0.5) for t in traj.times]
    assert np.all(np.abs(traj.energy - exact) < 0.02)


def test_grid_and_particles_agree_and_compare(tmp_path):
    """Both views in one file; pf.compare finds the moment gap within the particles' 3σ plus
    the grid's O(h²) error (h = 0.1875: |ΔΣ| ≈ 0.025 at n = 64)."""
    grid = pf.Grid([(-6.0, 6.0), (-6.0, 6.0)], 64)
    p = pf.problems.kramers_harmonic(grid, omega=1.0, gamma=1.0, T=0.5, mean=(1.0, 0.0), cov=0.25)
    path = tmp_path / "kramers.h5"
    a = pf.solve(p, 1.0, method="kinetic", snapshots=3, store=path, progress=False)
    b = pf.solve(p, 1.0, method="kinetic_particles", n_particles=20_000, seed=0, snapshots=3,
                 store=path, progress=False)
    runs = pf.load(path)
    assert set(runs) == {"kinetic", "kinetic_particles"}
    for run in runs.values():  # ρ = ∫ f dv is stored with every snapshot of both views
        assert run.frames["rho"][-1].shape == (64,)
        assert abs(np.sum(run.frames["rho"][-1]) * grid.dx[0] - 1.0) < 1e-12
    assert runs["kinetic"].meta["problem"]["kinetic"] is True
    report = pf.compare(a, b, exact=p.exact)
    assert report is not None
    assert np.max(np.abs(a.diagnostics["mean_theta"] - b.diagnostics["mean_theta"])) < 0.02


@pytest.mark.parametrize("method, cls, options", [
    ("kinetic", KineticFiniteVolume, {}),
    ("kinetic_particles", KineticParticles, {"n_particles": 2000, "seed": 1}),
])
def test_kinetic_runs_resume_bitwise(monkeypatch, tmp_path, method, cls, options):
    grid = pf.Grid([(-6.0, 6.0), (-6.0, 6.0)], 32)
    p = pf.problems.kramers_harmonic(grid, omega=1.0, gamma=1.0, T=0.5, mean=(1.0, 0.0), cov=0.25)
    reference = pf.solve(p, 1.0, method=method, snapshots=5, progress=False, **options)
    path = tmp_path / "run.h5"
    undo = interrupt_advance(monkeypatch, cls, 3)
    with pytest.raises(KeyboardInterrupt):
        pf.solve(p, 1.0, method=method, snapshots=5, store=path, progress=False, **options)
    undo()
    resumed = pf.solve(p, 1.0, method=method, snapshots=5, store=path, progress=False,
                       resume=True, **options)
    assert resumed.meta["resumed_from"] == reference.times[2]
    field = "density" if method == "kinetic" else "position"
    for i in range(5):
        np.testing.assert_array_equal(resumed.frames[field][i], reference.frames[field][i])
    np.testing.assert_array_equal(resumed.energy, reference.energy)
