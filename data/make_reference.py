"""Compute the reference solutions of ``data/`` at high resolution with pdeflow.

::

    python data/make_reference.py            # writes both files below (about 20 s)

- ``aggregation_steady_1d.csv``: the steady state of 1D aggregation–diffusion in a confining
  potential, ∂t ρ = D ∂xx ρ + ∂x(ρ ∂x(V + W * ρ)), V = x²/2, W(x) = −exp(−x²/2) (an attraction),
  D = 0.25, mass 1, on [−4, 4] with no-flux walls, from N(1, 1): finite volumes
  (Scharfetter–Gummel) on 2048 cells with RKL2 super-time-stepping (the discrete steady state is
  the spatial scheme's, whatever the time scheme), run to t = 30, where the free energy's
  dissipation has fallen to round-off (it decays like e^{−2t}). No closed form: the state solves
  ρ = M e^{−Φ/D} / ∫e^{−Φ/D}, Φ = V + W*ρ (a self-consistent Gibbs state), whose relative
  residual the file's header records.
- ``keller_segel_blowup.json``: the blow-up time estimates of the preset ``keller-segel-blowup``
  (2D Keller–Segel, M = 1.4·8π, N(0, ½I)) on 256² cells: the crossing of the default threshold
  (grid-dependent), the extrapolation of 1/max ρ and that of the second moment
  (:mod:`pdeflow.blowup`), against the bound T₂ = 0.625 of the second-moment identity.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

import pdeflow as pf
from pdeflow.spec import build_problem, load_spec

HERE = Path(__file__).resolve().parent
AGGREGATION = {"bounds": (-4.0, 4.0), "D": 0.25, "sigma": 1.0, "t_end": 30.0, "start": 1.0}


def aggregation_problem(cells: int):
    """The 1D aggregation–diffusion problem of ``aggregation_steady_1d.csv`` on ``cells`` cells."""
    grid = pf.Grid([AGGREGATION["bounds"]], cells)
    energy = pf.FreeEnergy(pf.Entropy(AGGREGATION["D"]), pf.Potential(lambda x: 0.5 * x**2),
                           pf.Interaction(pf.GaussianKernel(AGGREGATION["sigma"]), strength=-1.0))
    return pf.problems.aggregation_diffusion(grid, pf.gaussian(grid, AGGREGATION["start"], 1.0), energy)


def steady_aggregation(cells: int = 2048) -> dict:
    problem = aggregation_problem(cells)
    traj = pf.solve(problem, AGGREGATION["t_end"], snapshots=11, progress=False, scheme="rkl2", stages=40)
    rho = traj.density(-1)
    grid = problem.grid
    phi = problem.energy.on(grid).drift_potential(rho, out=np.empty_like(rho))
    gibbs = np.exp(-(phi - phi.min()) / AGGREGATION["D"])
    gibbs *= grid.integrate(rho) / grid.integrate(gibbs)
    return {"x": grid.axes[0], "rho": rho, "dissipation": float(traj.diagnostics["dissipation"][-1]),
            "wall_s": traj.meta["wall_time"],
            "fixed_point_residual": float(np.abs(rho - gibbs).max() / rho.max()),
            "mass_drift": float(traj.mass[-1] / traj.mass[0] - 1), "steps": traj.meta["steps"]}


def blowup_times(cells: int = 256) -> dict:
    spec = load_spec("keller-segel-blowup")
    spec["grid"]["cells"] = cells
    traj = pf.solve(build_problem(spec), 1.0, snapshots=21, progress=False)
    return {"cells": cells, "status": traj.status,
            "threshold_crossing": traj.meta["blowup_time"],
            "threshold": traj.meta["blowup_threshold"],
            "max_density_extrapolation": traj.meta["blowup_time_max_density"],
            "second_moment_extrapolation": traj.meta["blowup_time_second_moment"],
            "second_moment_bound": 1.0 / (1.4 * 8 * np.pi / (2 * np.pi) - 4.0),  # M₂(0) = M
            "wall_s": traj.meta["wall_time"]}


def main() -> None:
    made = f"pdeflow {pf.__version__}, numpy {np.__version__}, python {platform.python_version()}"
    steady = steady_aggregation()
    header = (f"steady state of 1D aggregation-diffusion (data/make_reference.py): D = "
              f"{AGGREGATION['D']}, V = x^2/2, W = -exp(-x^2/2), mass 1, from N(1, 1), walls on "
              f"{list(AGGREGATION['bounds'])}, fv on {steady['x'].size} cells, rkl2, to t = "
              f"{AGGREGATION['t_end']:g} ({steady['steps']} steps); "
              f"final dissipation {steady['dissipation']:.2e}, Gibbs fixed-point residual "
              f"{steady['fixed_point_residual']:.2e}, mass drift {steady['mass_drift']:.1e}; {made}\n"
              "x (cell centre),rho")
    np.savetxt(HERE / "aggregation_steady_1d.csv", np.c_[steady["x"], steady["rho"]], delimiter=",",
               header=header, fmt="%.17g")
    print({k: v for k, v in steady.items() if k not in ("x", "rho")})
    times = blowup_times()
    times["made_with"] = made
    (HERE / "keller_segel_blowup.json").write_text(json.dumps(times, indent=1) + "\n")
    print(times)


if __name__ == "__main__":
    main()
