"""Methods as declared objects: a new method is one declaration, and every entry point takes it.

The toy method below is written here, in the test, and registered with ``pf.register_method``:
``solve``, the spec validator, the command line and ``sweep`` accept it with no edit elsewhere. It
is forward Euler on the three-point Laplacian, ρ' = ρ + (D dt/h²) Δ_h ρ with no-flux walls
(conservative by construction: the face fluxes cancel in pairs), so its result is checked against
the exact heat solution, not only for running.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.cli import main
from pdeflow.solvers.stepper import Stepper, land
from pdeflow.spec import load_spec, validate_spec
from pdeflow.spec_reference import spec_reference


@dataclass(frozen=True)
class ToyOptions(pf.Options):
    method: ClassVar[str] = "toy"
    courant: float = pf.option(0.4, "D dt / h², at most 1/2", "fraction")
    steps_per_unit: int | None = pf.option(None, "an unused count, to test counts", "count", low=1)


class ToyStepper(pf.StepperBase):
    method = "toy"

    def __init__(self, problem, options: ToyOptions):
        grid = problem.grid
        self.D = problem.energy.internal.D
        self.h = grid.dx[0]
        self.dt = options.courant * self.h**2 / self.D
        self.rho = problem.rho0.copy()
        self.grid = grid

    def step(self, remaining: float) -> float:
        dt = land(min(self.dt, remaining), remaining)
        flux = self.D * np.diff(self.rho) / self.h  # D ∂xρ on the interior faces; walls: 0
        change = np.zeros_like(self.rho)
        change[:-1] += flux
        change[1:] -= flux
        self.rho = self.rho + dt / self.h * change
        return dt

    def fields(self) -> dict:
        return {"density": self.rho}

    def diagnostics(self) -> dict:
        x = self.grid.coords()[0]
        return {"mass": self.grid.integrate(self.rho), "energy": np.nan,
                "second_moment": self.grid.integrate(x**2 * self.rho)}


TOY = pf.Method(name="toy", options=ToyOptions, build=lambda p, t_end, o: ToyStepper(p, o),
                summary="forward Euler, three-point Laplacian (a test method)")


@pytest.fixture
def toy():
    pf.register_method(TOY)
    yield TOY
    pf.unregister_method("toy")


def _heat(cells=200):
    grid = pf.Grid([(-10.0, 10.0)], cells)
    return pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), D=1.0, exact_gaussian=(0.0, 0.5, 1.0))


def test_solve_runs_a_method_declared_in_a_test(toy):
    problem = _heat()
    traj = pf.solve(problem, 0.5, method="toy", snapshots=3, progress=False)
    assert isinstance(ToyStepper(problem, ToyOptions()), Stepper)
    assert traj.status == "finished" and traj.times[-1] == 0.5
    # conservative by construction: the face fluxes cancel in pairs
    assert abs(traj.mass[-1] - traj.mass[0]) < 1e-13
    # first order in time, second in space: at h = 0.1, dt = 0.004 the error to N(0, 1.5) is
    # O(h²/12 + D dt) ≈ 2e-3 in the peak's relative size; measured 3.3e-4 in L1
    error = problem.grid.integrate(np.abs(traj.density(-1) - problem.exact(0.5)))
    assert error < 2e-3
    assert traj.meta["options"] == {"courant": 0.4, "steps_per_unit": None}
    assert traj.meta["dt_max"] == pytest.approx(0.4 * 0.1**2)  # the scaffold's statistics
    with pytest.raises(pf.PdeflowError, match=r"courant must be in \(0, 1\], got 2"):
        pf.solve(problem, 0.5, method="toy", courant=2, progress=False)
    with pytest.raises(pf.PdeflowError, match=r"unknown toy option\(s\) \['cfl'\]; known: "
                                              r"\['courant', 'steps_per_unit'\] \(defaults: "
                                              r"courant=0.4, steps_per_unit=None"):
        pf.solve(problem, 0.5, method="toy", cfl=0.5, progress=False)


def test_spec_cli_and_sweep_take_the_declared_method(toy, tmp_path, capsys):
    spec = {**load_spec("heat"), "toy": {"courant": 0.25}}
    spec["run"] = {**spec["run"], "methods": ["fv", "toy"], "t_end": 0.1}
    assert validate_spec(spec)["toy"] == {"courant": 0.25}
    with pytest.raises(pf.PdeflowError, match=r"toy.courant must be a finite number, got 'x'"):
        validate_spec({**spec, "toy": {"courant": "x"}})
    with pytest.raises(pf.PdeflowError, match=r"toy.steps_per_unit must be a whole number, got 1.5"):
        validate_spec({**spec, "toy": {"steps_per_unit": 1.5}})
    assert "| [toy] | `courant` | number in (0, 1] | 0.4 |" in spec_reference()

    out = tmp_path / "toy.h5"
    assert main(["run", "heat", "--methods", "fv,toy", "--option", "toy.courant=0.3",
                 "--t-end", "0.1", "--out", str(out), "--no-plot", "--quiet"]) == 0
    runs = pf.load(out)
    assert runs["toy"].meta["options"]["courant"] == 0.3
    fv, toy_density = runs["fv"].density(-1), runs["toy"].density(-1)
    grid = runs["toy"].grid
    # two second-order-in-space schemes on h = 0.1 agree to about their own errors (1e-4)
    assert grid.integrate(np.abs(fv - toy_density)) < 1e-3
    capsys.readouterr()
    main(["run", "--help"])
    assert "toy: courant=0.4, steps_per_unit=unset" in capsys.readouterr().out

    table = pf.sweep(spec, {"toy.courant": [0.2, 0.4]}, workers=0, out_dir=tmp_path / "sweep",
                     progress=False)
    assert list(table["solver"].values) == ["fv", "toy"] and table["status"].shape == (2, 2)
    assert set(np.asarray(table["status"]).ravel()) == {"finished"}
    assert np.all(table["mass_drift"].sel(solver="toy").values < 1e-13)  # conservative
    wide, narrow = table["final_second_moment"].sel(solver="toy").values
    # M2(t) = 0.5 + 2t exactly for the heat equation; both steps land within O(dt) of it
    assert abs(wide - 0.7) < 2e-3 and abs(narrow - 0.7) < 2e-3


def test_every_method_declares_typed_options_that_round_trip():
    declared = pf.methods()
    assert set(declared) == {"fv", "particles", "jko", "fem", "kinetic", "kinetic_particles"}
    assert declared["particles"].stochastic and not declared["fv"].stochastic
    assert [m for m, d in declared.items() if d.reaction] == ["fv", "particles"]
    for method in declared.values():
        options = method.options()
        assert type(options).from_json(options.to_json()) == options
        for item in method.options.describe():
            assert item["doc"] and item["kind"]
    fv = declared["fv"].options.from_dict({"max_steps": 10.0, "cfl": 1})
    assert fv.max_steps == 10 and isinstance(fv.max_steps, int) and fv.cfl == 1.0
    with pytest.raises(pf.PdeflowError,
                       match="scheme must be one of 'explicit', 'rkl2', 'split', 'implicit', 'bdf2', 'auto'"):
        declared["fv"].options.from_dict({"scheme": "crank"})
    with pytest.raises(pf.PdeflowError, match=r"n_particles = 1000000000.0 is more than the 1e\+08"):
        declared["particles"].options.from_dict({"n_particles": 1e9})
    with pytest.raises(pf.PdeflowError, match="seed must be >= 0"):
        declared["particles"].options.from_dict({"seed": -1})
    with pytest.raises(pf.PdeflowError, match=r"theta must be in \[0.5, 1\] \(1 implicit"):
        declared["fem"].options.from_dict({"theta": 0.2})
    inf = declared["fv"].options.from_dict({"blowup_density": float("inf")})
    assert inf.blowup_density == float("inf")
    with pytest.raises(pf.PdeflowError, match="a method named 'fv' exists"):
        pf.register_method(pf.Method("fv", ToyOptions, TOY.build, "another fv"))
