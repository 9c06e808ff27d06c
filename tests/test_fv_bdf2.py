"""The linearly implicit BDF2 step (``scheme="bdf2"``): second order in time, measured against
exact semi-discrete solutions (space held fixed); mass to round-off; positive on raw output, an
Euler step wherever the BDF2 right-hand side would not be; the energy never rising at an
accepted step; its guarantees recorded with the run."""

import os

import numpy as np
import pytest
import scipy.fft
import scipy.linalg
from conftest import interrupt_advance
from hypothesis import HealthCheck, given, settings
from test_fv_implicit import _assert_raw_properties, _raw_steps, implicit_problems
from test_fv_time_order import _setup

import pdeflow as pf
from pdeflow.solvers.fv import FiniteVolume, make_stepper

settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _l1(grid, a, b):
    return np.abs(a - b).sum() * grid.cell_volume


def test_bdf2_heat_step_is_the_bdf2_recurrence_of_the_neumann_laplacian():
    # independent reference: the DCT diagonalises the walled 3-point Laplacian, eigenvalues
    # λ_k = D(2 − 2cos(πk/n))/h²; per mode the first step is Euler, a₁ = a₀/(1 + dt λ), then
    # (1 + ⅔ dt λ) aₙ₊₁ = (4aₙ − aₙ₋₁)/3
    grid = pf.Grid([(-2.0, 3.0)], 64)
    rho0 = pf.box(grid, -1.0, 0.5) + 0.1
    D, dt = 0.7, 0.01
    stepper = make_stepper(pf.problems.heat(grid, rho0, D=D), 1.0, scheme="bdf2", dt=dt)
    n, h = grid.shape[0], grid.dx[0]
    lam = D * (2 - 2 * np.cos(np.pi * np.arange(n) / n)) / h**2
    older = scipy.fft.dct(rho0, norm="ortho")
    old = older / (1 + dt * lam)
    stepper.implicit.step(1.0)
    for _ in range(4):
        stepper.implicit.step(1.0)
        older, old = old, (4 * old - older) / 3 / (1 + 2 / 3 * dt * lam)
    expected = scipy.fft.idct(old, norm="ortho")
    assert np.abs(stepper.rho - expected).max() < 1e-13 * rho0.max()
    assert stepper.implicit.euler_steps == 1 and stepper.implicit.rejected == 0


def test_bdf2_is_second_order_in_time_on_heat(orders):
    grid, problem, t_end, exact = _setup()
    errors = {}
    for scheme in ("implicit", "bdf2"):
        errors[scheme] = [_l1(grid, pf.solve(problem, t_end, snapshots=2, progress=False,
                                              scheme=scheme, dt=dt).density(-1), exact)
                          for dt in (0.02, 0.01, 0.005)]
    # measured bdf2 1.02e-3, 2.43e-4, 5.98e-5: orders 2.07, 2.03; implicit Euler 0.97, 0.99
    observed = orders(errors["bdf2"])
    assert abs(observed - 2).max() < 0.15, (errors, observed)
    assert abs(orders(errors["implicit"]) - 1).max() < 0.1, errors
    # at the same dt, 10.9x (dt = 0.02) to 48x (dt = 0.005) below implicit Euler's error
    assert errors["bdf2"][0] < errors["implicit"][0] / 10, errors


def test_bdf2_is_second_order_in_time_on_ornstein_uhlenbeck(orders):
    # the exact semi-discrete solution exp(t L) ρ0 of the SG operator (constant for
    # Fokker-Planck; tested against the explicit path's flux in test_fv_implicit)
    grid = pf.Grid([(-4.0, 4.0)], 60)
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=1.0, cov=0.3, gamma=1.0, D=0.5)
    stepper = make_stepper(problem, 1.0, scheme="implicit", dt=0.1)
    L = stepper.implicit.operator(problem.rho0).toarray()
    t_end = 0.5
    exact = (scipy.linalg.expm(t_end * L) @ problem.rho0.ravel()).reshape(grid.shape)
    errors = {}
    for scheme in ("implicit", "bdf2"):
        errors[scheme] = [_l1(grid, pf.solve(problem, t_end, snapshots=2, progress=False,
                                              scheme=scheme, dt=dt).density(-1), exact)
                          for dt in (0.05, 0.025, 0.0125)]
    # measured bdf2 1.45e-3, 3.50e-4, 8.60e-5: orders 2.06, 2.02; implicit Euler 1.37e-2,
    # 7.00e-3, 3.54e-3: orders 0.97, 0.98
    observed = orders(errors["bdf2"])
    assert abs(observed - 2).max() < 0.1, (errors, observed)
    assert abs(orders(errors["implicit"]) - 1).max() < 0.1, errors


def test_bdf2_is_second_order_with_an_interaction(orders):
    # nonlinear: Φ = V + W*ρ depends on ρ. With the coefficients at the extrapolation
    # 2ρⁿ − ρⁿ⁻¹ the step stays second order (frozen at ρⁿ it would be first). Reference: the
    # explicit SSP-RK3 run at cfl 0.05, the same semi-discrete system (time error ~1e-9)
    grid = pf.Grid([(-4.0, 4.0)], 80)
    energy = pf.FreeEnergy(pf.Entropy(0.5), pf.Interaction(pf.GaussianKernel(1.0), -2.0),
                           pf.Potential(lambda x: 0.1 * x**2))
    rho0 = pf.gaussian(grid, 0.5, 0.5) + 0.3 * pf.gaussian(grid, -1.5, 0.2)
    problem = pf.problems.aggregation_diffusion(grid, rho0, energy)
    options = dict(snapshots=2, progress=False, blowup_density=np.inf)
    reference = pf.solve(problem, 0.5, scheme="explicit", cfl=0.05, **options).density(-1)
    errors = [_l1(grid, pf.solve(problem, 0.5, scheme="bdf2", dt=dt, **options).density(-1),
                  reference) for dt in (0.05, 0.025, 0.0125)]
    # measured 2.31e-3, 5.65e-4, 1.40e-4: orders 2.03, 2.01 (implicit Euler: 1.90e-2, 0.96, 0.98)
    observed = orders(errors)
    assert abs(observed - 2).max() < 0.1, (errors, observed)


def test_bdf2_takes_an_euler_step_where_its_right_hand_side_is_negative():
    # a box under heat at a step far above the diffusion time of a cell: after the first step
    # 4ρⁿ < ρⁿ⁻¹ inside the box, so BDF2 (whose inverse is positive) would get a negative
    # right-hand side; those steps are implicit Euler, and the raw output stays ≥ 0
    grid = pf.Grid([(-2.0, 2.0)], 80)
    problem = pf.problems.heat(grid, pf.box(grid, -0.2, 0.2) + 0.0, D=1.0)
    stepper = make_stepper(problem, 10.0, scheme="bdf2", dt=1.0)
    mass0 = grid.integrate(stepper.rho)
    for _ in range(5):
        stepper.implicit.step(10.0)
        assert stepper.rho.min() >= 0.0
        assert abs(grid.integrate(stepper.rho) / mass0 - 1) < 1e-12
    assert stepper.implicit.euler_steps == 2  # the first, and the one after the box (measured)


def test_bdf2_run_records_its_guarantees(tmp_path):
    grid = pf.Grid([(-8.0, 8.0)] * 2, 48)
    problem = pf.problems.keller_segel(grid, pf.gaussian(grid, (0.0, 0.0), 1.0, mass=0.6 * 8 * np.pi))
    pf.solve(problem, 0.2, snapshots=2, progress=False, scheme="bdf2", dt=0.05,
             store=tmp_path / "run.h5")
    meta = pf.load(tmp_path / "run.h5")["fv"].meta
    assert "BDF2" in meta["time_scheme"] and "second order" in meta["time_scheme"]
    assert "positive at every step" in meta["time_scheme"]
    assert meta["euler_steps"] == 1 and meta["spatial_scheme"].startswith("scharfetter-gummel")
    assert "GMRES" in meta["linear_solver"]  # auto: a full support in 2D, an expensive LU
    assert meta["factorisations"] == 1 and meta["krylov_solves"] == 3
    assert meta["krylov_fallbacks"] == 0 and meta["options"]["scheme"] == "bdf2"


@given(implicit_problems())
def test_raw_bdf2_step_is_positive_conservative_and_energy_decreasing(case):
    problem, factor = case
    _, states = _raw_steps(problem, 6, scheme="bdf2", implicit_factor=factor)
    _assert_raw_properties(states)


def test_resumed_bdf2_run_restarts_with_an_euler_step(tmp_path, monkeypatch):
    # ρⁿ⁻¹ is not stored: the resumed run's first step is implicit Euler, so it differs from the
    # uninterrupted run by one step's O(dt²) local error difference, not by round-off
    grid = pf.Grid([(-5.0, 5.0)], 80)
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=0.5, cov=0.3)
    options = dict(snapshots=11, progress=False, scheme="bdf2", dt=0.02)
    reference = pf.solve(problem, 1.0, **options)
    path = tmp_path / "run.h5"
    undo = interrupt_advance(monkeypatch, FiniteVolume, 5)
    with pytest.raises(KeyboardInterrupt):
        pf.solve(problem, 1.0, store=path, **options)
    undo()
    resumed = pf.solve(problem, 1.0, store=path, resume=True, **options)
    assert resumed.status == "finished"
    assert resumed.meta["euler_steps"] == 1  # counted since the resume: its first step
    gap = np.abs(resumed.density(-1) - reference.density(-1)).sum() * grid.dx[0]
    assert 0.0 < gap < 2e-4, gap  # measured 8.1e-5 (one Euler step of 0.02 among 50)


def test_bdf2_step_after_a_landing_step_is_euler():
    # steps 0.045, 0.005 (landing on t = 0.05), 0.045, 0.005: the third is 9x the one before,
    # beyond the zero-stability of variable-step BDF2 (ratio < 1 + √2), so it is an Euler step
    grid = pf.Grid([(-2.0, 2.0)], 60)
    problem = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.2), D=0.5)
    run = pf.solve(problem, 0.1, snapshots=3, progress=False, scheme="bdf2", dt=0.045)
    assert run.meta["steps"] == 4 and run.meta["euler_steps"] == 2
