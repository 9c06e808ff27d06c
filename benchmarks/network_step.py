"""One step of the mean-field network, two views, each against plain NumPy in the same run.

    python -m benchmarks.network_step [--repeats 7] [--out benchmarks/network_results.json]

- particles: one full-batch gradient-descent step of m = 10⁴ neurons (a, w) on n = 50 data points,
  ``Particles.advance`` (two Numba passes over neurons × data: the outputs f(x_k), then ∇Ψ at every
  neuron; then the Euler update), against the same step vectorised in NumPy (the (n, m)
  preactivation matrix, two matrix products); the two are checked to agree to 1e-12;
- grid: one SSP-RK3 step of the finite-volume view on a 128² (a, w) grid (three stages, each
  ξ = V + (1/n) Σ_k φ_k ⟨φ_k, ρ⟩ by two products with the (50, 128²) feature matrix, then the
  Carrillo–Chertock–Huang flux with minmod reconstruction), against a NumPy SSP-RK3 step of the
  first-order upwind flux with the same ξ (less work per face: no reconstruction).

Medians of ``--repeats`` (≥ 5) interleaved repeats after a warm-up; the machine, versions and
Numba thread count go with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np

import pdeflow as pf
from benchmarks import interleaved
from pdeflow.solvers import fv, particles

HERE = Path(__file__).parent
M, N_DATA, CELLS, DT = 10_000, 50, 128, 0.01


def problem():
    x = np.linspace(-2.0, 2.0, N_DATA)
    y = np.maximum(x, 0.0) - 0.5 * np.maximum(-x, 0.0)
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], CELLS)
    return pf.problems.mean_field_network(x, y, "relu", grid=grid,
                                          rho0=pf.gaussian(grid, (0.0, 0.0), 0.3)), x, y


def numpy_gd_step(theta, x, y, dt):
    """θ_i ← θ_i − dt ∇Ψ(θ_i), Ψ = (1/n) Σ_k (f(x_k) − y_k) a relu(w x_k), in NumPy."""
    a, w = theta[:, 0], theta[:, 1]
    z = np.outer(x, w)                               # (n, m)
    s = np.maximum(z, 0.0)
    r = (s @ a / len(a) - y) / len(y)                # (f(x_k) − y_k) / n
    grad = np.column_stack([s.T @ r, ((z > 0) * x[:, None]).T @ r * a])
    theta -= dt * grad
    return theta


def numpy_upwind_rk3(rho, V, phi, scale, h, cell, dt):
    """SSP-RK3 of the first-order upwind finite volume, ξ = V + scale Σ_k φ_k ⟨φ_k, ρ⟩, walls."""
    def L(r):
        xi = V + scale * (phi.T @ (phi @ r.ravel() * cell)).reshape(r.shape)
        out = np.zeros_like(r)
        for axis in (0, 1):
            u = -np.diff(xi, axis=axis) / h                  # face velocities, interior faces
            left = r[:-1] if axis == 0 else r[:, :-1]
            right = r[1:] if axis == 0 else r[:, 1:]
            flux = np.maximum(u, 0.0) * left + np.minimum(u, 0.0) * right
            pad = [(1, 1), (0, 0)] if axis == 0 else [(0, 0), (1, 1)]
            out -= np.diff(np.pad(flux, pad), axis=axis) / h  # zero flux through the walls
        return out

    s1 = rho + dt * L(rho)
    s2 = 0.75 * rho + 0.25 * (s1 + dt * L(s1))
    return rho / 3.0 + 2.0 / 3.0 * (s2 + dt * L(s2))


def run(repeats: int = 7) -> list[dict]:
    """Both views against their NumPy baselines: one result dict per view."""
    repeats = max(5, repeats)
    p, x, y = problem()

    # -- particles: one full-batch step of m neurons -------------------------------------------
    stepper = particles.make_stepper(p, t_end=1.0, n_particles=M, seed=0, dt=DT)
    theta = stepper.X.copy()
    stepper.advance(stepper.t + DT)
    expected = numpy_gd_step(theta.copy(), x, y, DT)
    agree = float(np.abs(stepper.X - expected).max())
    assert agree < 1e-12, agree
    numpy_theta = theta.copy()
    t_p = interleaved({"pdeflow": lambda: stepper.advance(stepper.t + DT),
                       "numpy": lambda: numpy_gd_step(numpy_theta, x, y, DT)}, repeats)

    # -- grid: one SSP-RK3 step on 128² cells ----------------------------------------------------
    grid = p.grid
    fv_stepper = fv.make_stepper(p, t_end=1.0)
    dt_fv = fv_stepper.cfl * fv_stepper.prepare(fv_stepper.rho)
    energy = p.energy.on(grid)
    (scale, phi), = energy.low_rank
    rho_np = p.rho0.copy()
    t_g = interleaved({
        "pdeflow": lambda: fv_stepper._explicit_step(dt_fv),
        "numpy": lambda: numpy_upwind_rk3(rho_np, energy.V, phi, scale, grid.dx[0],
                                          grid.cell_volume, dt_fv),
    }, repeats)

    return [
        {"case": f"particles: one full-batch GD step, m = {M} neurons (a, w), n = {N_DATA} points",
         "pdeflow_s": t_p["pdeflow"], "numpy_s": t_p["numpy"],
         "speedup": t_p["numpy"] / t_p["pdeflow"],
         "pdeflow_ns_per_neuron_datum": t_p["pdeflow"] / (M * N_DATA) * 1e9,
         "max_difference": agree,
         "numpy_baseline": "vectorised NumPy GD step ((n, m) preactivations, two products)"},
        {"case": f"grid: one SSP-RK3 step, {CELLS}x{CELLS} cells (a, w), n = {N_DATA} features",
         "pdeflow_s": t_g["pdeflow"], "numpy_s": t_g["numpy"],
         "speedup": t_g["numpy"] / t_g["pdeflow"],
         "pdeflow_mcups": grid.size / t_g["pdeflow"] / 1e6,
         "numpy_baseline": "NumPy SSP-RK3, first-order upwind flux, same low-rank ξ"},
    ]


def to_markdown(results: list[dict]) -> str:
    """The section of ``benchmarks/results.md`` (ratio = pdeflow / NumPy: below 1 is faster)."""
    lines = [
        "**Mean-field network**, one step of each view (module docstring of "
        "`benchmarks/network_step.py`), against plain NumPy; same machine and run.",
        "",
        "| case | pdeflow | NumPy baseline | NumPy | ratio |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['case']} | {r['pdeflow_s']:.3g} s | {r['numpy_baseline']} | "
                     f"{r['numpy_s']:.3g} s | {r['pdeflow_s'] / r['numpy_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "network_results.json")
    args = parser.parse_args()
    repeats = max(5, args.repeats)
    results = run(repeats)
    machine = {
        "platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(), "pdeflow": pf.__version__,
        "load_average": list(os.getloadavg()), "repeats": repeats,
        "date": time.strftime("%Y-%m-%d"),
    }
    for r in results:
        print(f"{r['case']}\n  pdeflow {r['pdeflow_s'] * 1e3:8.3f} ms   numpy {r['numpy_s'] * 1e3:8.3f} ms"
              f"   speed-up {r['speedup']:.1f}x")
    args.out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
