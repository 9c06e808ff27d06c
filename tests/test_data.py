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
