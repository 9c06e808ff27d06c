"""The reference data of ``data/`` (see ``data/README.md``): each file read, and checked against
what its provenance says it is."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import pdeflow as pf

DATA = Path(__file__).resolve().parents[1] / "data"


def test_every_data_file_has_its_provenance():
    listed = (DATA / "README.md").read_text()
    for path in DATA.iterdir():
        if path.name != "README.md":
            assert f"`{path.name}`" in listed, path.name


def test_regression_data_is_the_seeded_draw_and_a_parabola():
    x, y = np.loadtxt(DATA / "regression_x2.csv", delimiter=",", comments="#", skiprows=2, unpack=True)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1.0, 1.0, 50)
    np.testing.assert_array_equal(x, x0)  # bit for bit: the file holds repr() of the draw
    np.testing.assert_array_equal(y, x0**2 + 0.05 * rng.normal(size=50))
    # least squares y ≈ a x² + b x + c: a = 1, b = c = 0 within 4 standard errors (noise 0.05)
    A = np.c_[x**2, x, np.ones_like(x)]
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    se = 0.05 * np.sqrt(np.diag(np.linalg.inv(A.T @ A)))
    assert np.all(np.abs(coef - [1.0, 0.0, 0.0]) < 4 * se), (coef, se)
    # the residual standard deviation estimates 0.05: chi² with 47 degrees of freedom, 99.9% band
    s = np.sqrt(np.sum((y - A @ coef) ** 2) / 47)
    assert 0.035 < s < 0.067, s


def test_reference_values_critical_mass_and_barenblatt_constants():
    from pdeflow.problems.porous_medium import barenblatt, barenblatt_constants

    ref = json.loads((DATA / "reference_values.json").read_text())
    M = ref["critical_mass_keller_segel_2d"]["value"]
    assert M == pytest.approx(8 * math.pi, rel=1e-15)
    # the second-moment identity d/dt ∫|x|²ρ = 4M − M²/(2π) changes sign exactly there
    assert 4 * M - M**2 / (2 * math.pi) == pytest.approx(0.0, abs=1e-12)
    for case in ref["barenblatt"]["cases"]:
        d, m = case["d"], case["m"]
        got = barenblatt_constants(d, m, case["mass"])
        np.testing.assert_allclose(got, [case[k] for k in ("alpha", "beta", "k", "C")], rtol=1e-12)
        if d <= 2:  # and the profile they give has mass 1: a fine grid over the support at t = 1
            R = math.sqrt(case["C"] / case["k"])
            grid = pf.Grid([(-1.01 * R, 1.01 * R)] * d, 4000 if d == 1 else 800)
            mass = grid.integrate(barenblatt(grid, 1.0, m, case["mass"]))
            assert mass == pytest.approx(1.0, abs=2e-4 if d == 2 else 1e-6)  # the front's cells


def test_the_sample_gmsh_mesh_loads_and_conserves_mass():
    pytest.importorskip("meshio")
    mesh = pf.Mesh.load(DATA / "l_shape.msh")
    assert (mesh.size, mesh.n_triangles) == (65, 96)
    assert mesh.area == pytest.approx(3.0, rel=1e-14)  # [−1, 1]² less one quadrant, exactly
    p = pf.problems.heat(mesh, pf.gaussian(mesh, mean=(-0.5, -0.5), cov=0.1), D=1.0)
    traj = pf.solve(p, 0.1, method="fem", snapshots=3, progress=False)
    assert traj.status == "finished"
    assert np.abs(traj.mass / traj.mass[0] - 1).max() < 1e-12


def _make_reference():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_reference", DATA / "make_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_aggregation_steady_state_is_a_gibbs_fixed_point_that_fv_converges_to_at_order_two():
    """The 2048-cell reference solves ρ = M e^{−Φ/D}/Z, Φ = V + W*ρ, to round-off (its header:
    8.99e-14; asserted on this machine's recomputation of Φ), and holds mass 1; finite volumes on
    128 and 256 cells relax to states whose L1 distance to its cell averages falls at order 2
    (measured 1.09e-3, 2.70e-4: order 2.02)."""
    make = _make_reference()
    x, rho = np.loadtxt(DATA / "aggregation_steady_1d.csv", delimiter=",", unpack=True)
    problem = make.aggregation_problem(x.size)
    grid = problem.grid
    np.testing.assert_allclose(grid.axes[0], x, rtol=0, atol=1e-14)
    assert grid.integrate(rho) == pytest.approx(1.0, abs=1e-12)
    phi = problem.energy.on(grid).drift_potential(rho, out=np.empty_like(rho))
    gibbs = np.exp(-(phi - phi.min()) / make.AGGREGATION["D"])
    gibbs *= grid.integrate(rho) / grid.integrate(gibbs)
    assert np.abs(rho - gibbs).max() < 1e-11 * rho.max()
    errors = []
    for cells in (128, 256):
        traj = pf.solve(make.aggregation_problem(cells), make.AGGREGATION["t_end"], snapshots=2,
                        progress=False)
        assert traj.status == "finished"
        coarse = rho.reshape(cells, -1).mean(axis=1)
        errors.append(float(np.abs(traj.density(-1) - coarse).sum() * grid.lengths[0] / cells))
    assert errors[1] < 4e-4, errors  # measured 2.70e-4
    assert abs(np.log2(errors[0] / errors[1]) - 2.0) < 0.2, errors


def test_keller_segel_blowup_reference_brackets_the_blowup_time():
    """At 256² the threshold crossing (0.427) lies below the extrapolation of 1/max ρ (0.462), and
    the second-moment extrapolation (0.634) above the identity's bound T₂ = 0.625, within 0.02
    (it approaches T₂ from above as the grid is refined: 0.72, 0.69, 0.66 on 48², 64², 96²)."""
    ref = json.loads((DATA / "keller_segel_blowup.json").read_text())
    assert ref["status"] == "blow-up" and ref["cells"] == 256
    M = 1.4 * 8 * math.pi
    assert ref["second_moment_bound"] == pytest.approx(M / (M**2 / (2 * math.pi) - 4 * M), rel=1e-12)
    assert ref["threshold"] == pytest.approx(0.1 * M / (16.0 / 256) ** 2, rel=1e-12)
    assert ref["threshold_crossing"] < ref["max_density_extrapolation"] < ref["second_moment_bound"]
    assert 0.0 < ref["second_moment_extrapolation"] - ref["second_moment_bound"] < 0.02
