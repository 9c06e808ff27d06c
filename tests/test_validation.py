"""Bad input raises a PdeflowError (a ValueError) that names the problem and the fix."""

import numpy as np
import pytest

import pdeflow as pf


@pytest.fixture
def grid():
    return pf.Grid([(-1.0, 1.0)], 10)


def test_negative_density(grid):
    rho = np.ones(10)
    rho[3] = -1.2e-3
    with pytest.raises(pf.PdeflowError, match=r"1 negative cells \(min -1.200e-03\).*>= 0"):
        pf.problems.heat(grid, rho)


def test_nan_density(grid):
    rho = np.ones(10)
    rho[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        pf.problems.heat(grid, rho)


def test_zero_mass(grid):
    with pytest.raises(pf.PdeflowError, match="zero mass"):
        pf.problems.heat(grid, np.zeros(10))


def test_shape_mismatch(grid):
    with pytest.raises(pf.PdeflowError, match=r"shape \(12,\) but the grid has shape \(10,\)"):
        pf.problems.heat(grid, np.ones(12))


def test_unknown_option_and_method(grid):
    p = pf.problems.heat(grid, np.ones(10))
    with pytest.raises(pf.PdeflowError, match=r"unknown fv option\(s\) \['cfll'\]"):
        pf.solve(p, 0.1, cfll=0.5)
    with pytest.raises(pf.PdeflowError, match="unknown method 'spectral'"):
        pf.solve(p, 0.1, method="spectral")
    with pytest.raises(pf.PdeflowError, match="scheme must be"):
        pf.solve(p, 0.1, scheme="crank")
    with pytest.raises(pf.PdeflowError, match="t_end must be a positive number"):
        pf.solve(p, float("nan"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bounds": [(1.0, -1.0)], "shape": 10}, "low < high"),
        ({"bounds": [(0.0, 1.0)], "shape": (10, 10)}, "has 2 axes but bounds give 1"),
        ({"bounds": [(0.0, 1.0)], "shape": 1}, "at least 2 cells"),
        ({"bounds": "abc", "shape": 10}, "not numbers"),
        ({"bounds": [(0, 1)] * 5, "shape": 4}, "1 to 4 pairs"),
    ],
)
def test_bad_grids(kwargs, message):
    with pytest.raises(pf.PdeflowError, match=message):
        pf.Grid(**kwargs)


def test_bad_energy_parameters():
    with pytest.raises(pf.PdeflowError, match="m must be > 1"):
        pf.PowerLaw(1.0)
    with pytest.raises(pf.PdeflowError, match="D must be >= 0"):
        pf.Entropy(-1.0)
    with pytest.raises(pf.PdeflowError, match="at most one internal energy"):
        pf.FreeEnergy(pf.Entropy(), pf.PowerLaw())


def test_gaussian_helper_checks(grid):
    with pytest.raises(pf.PdeflowError, match="positive definite"):
        pf.gaussian(pf.Grid([(0, 1)] * 2, 4), cov=[[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(pf.PdeflowError, match="mass must be a positive number"):
        pf.gaussian(grid, mass=0.0)
    mass = pf.Grid([(-3, 3)], 50).integrate(pf.gaussian(pf.Grid([(-3, 3)], 50), 0.0, 0.5, 2.5))
    assert abs(mass - 2.5) < 1e-14


def test_unreachable_t_end_is_refused_before_stepping():
    # D = 1e12 on h = 0.75 gives an explicit step of ~2.5e-13: ~4e10 steps to t = 0.01
    grid = pf.Grid([(-3.0, 3.0)], 8)
    p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), D=1e12)
    with pytest.raises(pf.PdeflowError, match=r"fv would need about 3.9\de\+10 steps .*implicit"):
        pf.solve(p, 0.01, max_steps=3000, progress=False, scheme="explicit")
    # the default (auto: the exact propagator for the heat equation) reaches it in one step
    exact = pf.solve(p, 0.01, max_steps=3000, progress=False)
    assert exact.meta["steps"] == 10 and exact.meta["scheme_choice"].startswith("split")
    np.testing.assert_allclose(exact.density(-1), 1 / 6, rtol=1e-13)
    with pytest.raises(pf.PdeflowError, match="max_steps must be a whole number"):
        pf.solve(p, 0.01, max_steps=1.5e82, progress=False)
    implicit = pf.solve(p, 0.01, scheme="implicit", dt=1e-3, progress=False)
    assert implicit.status == "finished"  # the implicit step is positive at any dt
    # Flat (∫ρ = 1 on [-3, 3]); nothing is rescaled, so the mass carries the round-off of
    # assembling I − dt L, whose column sums are 1 ± ε·dt·rate with dt·rate = dt·2D/h² = 3.6e9:
    # a relative ε·dt·rate = 8e-7 per step at most (measured 2.0e-7 over the 10 steps)
    bound = np.finfo(float).eps * 1e-3 * 2 * 1e12 / grid.dx[0] ** 2
    assert implicit.diagnostics["min_density"].min() >= 0.0
    assert abs(implicit.mass[-1] - 1) < bound
    np.testing.assert_allclose(implicit.density(-1), 1 / 6, rtol=bound)
