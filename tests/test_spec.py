"""Problem specs: loading (presets, TOML), validation, building problems, running into HDF5."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.errors import PdeflowError, StorageError
from pdeflow.presets import PRESETS, get_preset
from pdeflow.spec import (
    apply_overrides,
    build_problem,
    compile_expression,
    exact_from_file,
    load_spec,
    run_spec,
    spec_from_file,
    validate_spec,
)

KS_TOML = """
equation = "keller_segel"
[grid]
bounds = [[-8.0, 8.0], [-8.0, 8.0]]
cells = 32
[initial]
kind = "gaussian"
mean = [0.0, 0.0]
cov = 1.0
mass = 15.0
[parameters]
chi = 1.0
[run]
t_end = 0.05
snapshots = 3
[fv]
scheme = "explicit"
"""

# Small, short versions of each preset: (cells, t_end), a fraction of a second each.
SMALL = {
    "heat": (64, 0.1),
    "fokker-planck": (32, 0.2),
    "porous-medium": (32, 0.1),
    "keller-segel": (32, 0.1),
    "keller-segel-blowup": (48, 1.0),
    "mean-field": (24, 0.2),
    "fisher-rao": (60, 0.5),
    "wfr-network": (24, 0.2),
    "kramers": (32, 0.2),
}


def test_toml_spec_loads_with_defaults_filled(tmp_path):
    path = tmp_path / "ks.toml"
    path.write_text(KS_TOML)
    spec = load_spec(path)
    assert spec["equation"] == "keller_segel"
    assert spec["grid"] == {"bounds": [[-8.0, 8.0], [-8.0, 8.0]], "cells": 32, "periodic": False}
    assert spec["run"] == {"t_end": 0.05, "snapshots": 3, "methods": ["fv"]}
    assert spec["fv"] == {"scheme": "explicit"}
    assert load_spec(str(path)) == spec  # str and Path alike
    assert validate_spec(spec) == spec  # validation is idempotent
    problem = build_problem(spec)
    assert problem.grid.shape == (32, 32)
    assert problem.mass == pytest.approx(15.0, rel=1e-12)
    assert problem.parameters["chi"] == 1.0


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_runs_and_reads_back(name, tmp_path):
    cells, t_end = SMALL[name]
    spec = apply_overrides(load_spec(name), t_end=t_end, cells=cells)
    out = tmp_path / f"{name}.h5"
    runs = run_spec(spec, out, progress=False)
    assert list(runs) == spec["run"]["methods"]  # fv, and particles for mean-field
    back = pf.load(out)[spec["run"]["methods"][0]]  # fv, or the kinetic grid method
    expected = "blow-up" if name == "keller-segel-blowup" else "finished"
    assert back.status == expected
    assert back.grid.shape == (cells,) * back.grid.ndim
    mass = back.mass
    assert np.max(np.abs(mass - mass[0])) / mass[0] < 1e-12  # conservative fluxes
    assert spec_from_file(out) == spec  # the spec travels in the file (JSON round trip)
    if name == "keller-segel-blowup":
        # the whole-plane bound T* = 2π M₂(0) / (M (M − 8π)) = 0.625 for cov 0.5
        assert 0.1 < back.meta["blowup_time"] < 0.625
        assert len(back) < spec["run"]["snapshots"]
    else:
        assert len(back) == spec["run"]["snapshots"]
        assert back.times[-1] == pytest.approx(t_end, rel=1e-12)


def test_presets_accept_underscores_and_copy():
    spec = get_preset("keller_segel")
    assert spec["initial"]["mass"] == pytest.approx(0.6 * 8 * math.pi)
    spec["grid"]["cells"] = 8
    assert PRESETS["keller-segel"]["grid"]["cells"] == 128


def test_heat_preset_matches_exact_gaussian(tmp_path):
    spec = apply_overrides(load_spec("heat"), t_end=0.2, cells=400)
    traj = run_spec(spec, tmp_path / "heat.h5", progress=False)["fv"]
    exact = exact_from_file(tmp_path / "heat.h5")
    grid = traj.grid
    err = grid.integrate(np.abs(traj.density(-1) - exact(0.2)))
    # second-order SG scheme, dx = 0.05: the L1 error is C dx², measured 1.44e-4 (C = 0.058)
    assert err < 2e-4
    # variance 0.5 + 2 D t = 0.9, which the scheme keeps exactly: Σ x_i² (Δ_h ρ)_i = 2 Σ ρ_i away
    # from the walls (14σ out); measured to 9e-15
    assert traj.second_moment[-1] == pytest.approx(0.9, rel=1e-11)


def test_ornstein_uhlenbeck_exact_rebuilt_from_file(tmp_path):
    spec = apply_overrides(load_spec("fokker-planck"), t_end=0.5, cells=48)
    out = tmp_path / "ou.h5"
    run_spec(spec, out, progress=False)
    exact = exact_from_file(out)
    grid = pf.load(out)["fv"].grid
    x, y = grid.coords()
    rho = exact(0.5)
    # the mean relaxes as 2 e^{-t} towards the centre
    assert grid.integrate(x * rho) / grid.integrate(rho) == pytest.approx(2 * math.exp(-0.5), rel=1e-3)
    assert grid.integrate(y * rho) == pytest.approx(0.0, abs=1e-12)


def test_potential_expression_is_the_ou_potential():
    base = load_spec("fokker-planck")
    spec = copy.deepcopy(base)
    spec["equation"] = "fokker_planck"
    spec["parameters"] = {"D": 1.0, "V": "0.5*((x - 1.0)**2 + y**2)"}
    grid = build_problem(spec).grid
    V = build_problem(spec).energy.on(grid).V
    x, y = grid.coords()
    np.testing.assert_allclose(V, 0.5 * ((x - 1.0) ** 2 + y**2), rtol=0, atol=1e-14)
    f = compile_expression("exp(-x) + cos(pi*y)", 2)
    assert float(f(np.array(0.0), np.array(1.0))) == pytest.approx(1.0 - 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "uses Attribute"),
        ("__import__('os')", "unknown name(s) ['__import__']"),
        ("x.__class__", "uses Attribute"),
        ("[q.__class__ for q in x]", "uses Attribute, ListComp"),
        ("(lambda: 0)()", "uses Lambda"),
        ("open('f')", "unknown name(s) ['open']"),
        ("x +* 2", "is not a valid expression"),
        ("z", "unknown name(s) ['z']"),  # a 2D grid has no z
        (3.0, "must be a string expression"),
    ],
)
def test_potential_expression_rejects_anything_but_numpy_math(text, message):
    with pytest.raises(PdeflowError, match="parameters.V") as err:
        spec = load_spec("fokker-planck")
        spec["equation"] = "fokker_planck"
        spec["parameters"] = {"V": text}
        validate_spec(spec)
    assert message in str(err.value)


def _mutated(path, value):
    spec = copy.deepcopy(PRESETS["keller-segel"])
    *parents, last = path
    table = spec
    for key in parents:
        table = table[key]
    if value is KeyError:
        del table[last]
    else:
        table[last] = value
    return spec


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("equation",), "navier_stokes", "unknown equation 'navier_stokes'"),
        (("grid",), KeyError, "the spec is missing grid"),
        (("grid", "cells"), 1, "grid.cells must be an integer >= 2 (or a list, one per axis), got 1"),
        (("grid", "cells"), 2.5, "grid.cells must be an integer >= 2 (or a list, one per axis), got 2.5"),
        (("grid", "cells"), True, "grid.cells must be an integer >= 2 (or a list, one per axis), got True"),
        (("grid", "cells"), [32, 32, 32], "grid.cells has 3 entries but the grid has 2 axes"),
        (("grid", "bounds"), [[1.0, -1.0]], "low < high"),
        (("grid", "periodic"), "yes", "grid.periodic must be true or false (or a list"),
        (("grid", "spacing"), 0.1, "unknown key(s) ['spacing'] in [grid]"),
        (("initial", "kind"), "dirac", "initial.kind 'dirac' is unknown"),
        (("initial", "mass"), -15.0, "initial.mass must be > 0, got -15.0"),
        (("initial", "mass"), float("nan"), "initial.mass must be a finite number, got nan"),
        (("initial", "mean"), [0.0], "initial.mean has 1 entries but the grid has 2 axes"),
        (("initial", "cov"), [[1.0, 2.0], [2.0, 1.0]], "is not symmetric positive definite"),
        (("initial", "cov"), [[1.0, 0.0]], "initial.cov has 1 entries but the grid has 2 axes"),
        (("initial", "cov"), [1.0, 1.0], "initial.cov must be a variance or a 2x2 matrix"),
        (("initial", "cov"), -1.0, "initial.cov must be > 0, got -1.0"),
        (("equation",), ["heat"], "unknown equation ['heat']"),
        (("initial", "kind"), {"gaussian": 1}, "initial.kind {'gaussian': 1} is unknown"),
        (("initial", "t0"), 0.1, "unknown key(s) ['t0'] in [initial] of kind 'gaussian'"),
        (("parameters", "m"), 2.0, "unknown key(s) ['m'] in [parameters] of keller_segel"),
        (("parameters", "D"), 0.0, "parameters.D must be > 0, got 0.0"),
        (("parameters", "chi"), "strong", "parameters.chi must be a finite number, got 'strong'"),
        (("run", "t_end"), float("inf"), "run.t_end must be a finite number, got inf"),
        (("run", "t_end"), "1.0", "run.t_end must be a finite number, got '1.0'"),
        (("run", "snapshots"), 1, "run.snapshots must be an integer >= 2, got 1"),
        (("run", "methods"), ["fv", "magic"], "unknown or unavailable method 'magic'"),
        (("run", "methods"), [], "run.methods must be a non-empty list"),
        (("fv",), {"sheme": "implicit"}, "unknown fv option(s) ['sheme']"),
        (("fv",), "implicit", "'fv' must be a table"),
        (("output",), "x.h5", "unknown key(s) ['output'] in the spec"),
    ],
)
def test_invalid_spec_names_the_entry(path, value, message):
    with pytest.raises(PdeflowError) as err:
        validate_spec(_mutated(path, value), source="test.toml")
    assert str(err.value).startswith("test.toml: ")
    assert message in str(err.value)


def test_equation_specific_initial_data_is_checked():
    spec = copy.deepcopy(PRESETS["heat"])
    spec["initial"] = {"kind": "barenblatt", "t0": 0.1}
    with pytest.raises(PdeflowError, match="'barenblatt' needs equation 'porous_medium'"):
        validate_spec(spec)
    spec = copy.deepcopy(PRESETS["fokker-planck"])
    spec["initial"] = {"kind": "box", "low": -1.0, "high": 1.0}
    with pytest.raises(PdeflowError, match="ornstein_uhlenbeck starts from Gaussian data"):
        validate_spec(spec)
    spec["initial"] = {"kind": "box", "low": -1.0}
    with pytest.raises(PdeflowError, match="missing high"):
        validate_spec(spec)
    spec = copy.deepcopy(PRESETS["porous-medium"])
    spec["parameters"]["m"] = 1.0
    with pytest.raises(PdeflowError, match=r"parameters.m must be > 1, got 1.0"):
        validate_spec(spec)


def test_box_and_uniform_initial_data_build():
    spec = copy.deepcopy(PRESETS["porous-medium"])
    spec["grid"]["cells"] = 20
    spec["initial"] = {"kind": "box", "low": [-1.0, -1.0], "high": [1.0, 1.0], "mass": 2.0}
    problem = build_problem(spec)
    assert problem.mass == pytest.approx(2.0, rel=1e-12)
    assert problem.exact is None  # only the Barenblatt start has an exact solution
    assert np.count_nonzero(problem.rho0) == 6 * 6  # centres ±0.15, ±0.45, ±0.75 (dx = 0.3)
    spec["initial"] = {"kind": "uniform", "mass": 3.0}
    assert build_problem(spec).rho0.max() == pytest.approx(3.0 / 36.0, rel=1e-12)


def test_load_spec_errors(tmp_path):
    with pytest.raises(PdeflowError) as err:
        load_spec("no-such-preset")
    assert "unknown preset 'no-such-preset'" in str(err.value)
    assert "heat, fokker-planck, porous-medium, keller-segel, keller-segel-blowup" in str(err.value)
    with pytest.raises(PdeflowError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('equation = "heat"\n[grid]\ncells = = 3\n')
    with pytest.raises(PdeflowError, match=r"bad.toml: invalid TOML: .*line 3"):
        load_spec(bad)


def test_apply_overrides_returns_a_new_validated_spec():
    spec = load_spec("keller-segel")
    small = apply_overrides(spec, t_end=0.25, cells=[40, 50])
    assert (small["run"]["t_end"], small["grid"]["cells"]) == (0.25, [40, 50])
    assert (spec["run"]["t_end"], spec["grid"]["cells"]) == (1.0, 128)
    with pytest.raises(PdeflowError, match="run.t_end must be > 0, got -1.0"):
        apply_overrides(spec, t_end=-1.0)


def test_run_spec_checks_the_file_before_running(tmp_path):
    spec = apply_overrides(load_spec("heat"), t_end=0.01, cells=32)
    out = tmp_path / "run.h5"
    run_spec(spec, out, progress=False)
    created = pf.load(out)["fv"].meta["wall_time"]
    with pytest.raises(StorageError, match="already holds a run 'fv'"):
        run_spec(spec, out, progress=False)
    assert pf.load(out)["fv"].meta["wall_time"] == created  # untouched
    with pytest.raises(PdeflowError, match="options were given for 'jko'"):
        run_spec(spec, out, overwrite=True, method_options={"jko": {"tau": 0.1}})
    runs = run_spec(spec, out, overwrite=True, progress=False, method_options={"fv": {"cfl": 0.5}})
    assert runs["fv"].meta["options"]["cfl"] == 0.5
    assert pf.load(out)["fv"].meta["options"]["cfl"] == 0.5
