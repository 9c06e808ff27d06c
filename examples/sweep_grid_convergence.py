"""Grid convergence of the finite-volume scheme, as a sweep over ``grid.cells`` with a metric
==========================================================================================

The 1D Ornstein–Uhlenbeck flow ∂t ρ = ∂x(x ρ) + ∂²x ρ from N(1, 0.5) stays Gaussian:
N(e^{-t}, 0.5 e^{-2t} + 1 − e^{-2t}). The metric ``l1_error`` measures ‖ρ_h(T) − ρ(T)‖_L¹ at the final
time of each run; the fitted slope of log(error) against log(h) is the observed order
(Scharfetter–Gummel on smooth data: 2).

::

    python examples/sweep_grid_convergence.py [--workers N] [--out DIR]

Writes DIR/run_*.h5, DIR/sweep.nc, DIR/sweep.png and DIR/convergence.png. ``PDEFLOW_DOCS_SHORT=1``
(the documentation's gallery) stops at 200 cells instead of 400 and runs the sweep as a
serial loop (``--workers 0``, no Dask cluster to start).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from pdeflow.spec import build_problem
from pdeflow.sweep import format_table, sweep

SPEC = {
    "equation": "ornstein_uhlenbeck",
    "description": "1D Ornstein-Uhlenbeck from N(1, 0.5); exact Gaussian",
    "grid": {"bounds": [[-6.0, 6.0]], "cells": 100},
    "initial": {"kind": "gaussian", "mean": 1.0, "cov": 0.5, "mass": 1.0},
    "parameters": {"D": 1.0, "gamma": 1.0, "center": 0.0},
    "run": {"t_end": 1.0, "snapshots": 5, "methods": ["fv"]},
}
SHORT = os.environ.get("PDEFLOW_DOCS_SHORT") == "1"  # the documentation's short setting
CELLS = [25, 50, 100, 200] + ([] if SHORT else [400])


def l1_error(traj) -> float:
    """∫ |ρ_h(T) − ρ(T)| dx at the last snapshot, against the exact solution of the stored spec."""
    exact = build_problem(traj.meta["problem"]["parameters"]["spec"]).exact
    t = float(traj.times[-1])
    return float(np.sum(np.abs(traj.density(-1) - exact(t))) * traj.grid.cell_volume)


def main(out_dir: str = "sweep-grid-convergence", workers: int | None = None):
    table = sweep(SPEC, {"cells": CELLS}, metrics={"l1_error": l1_error}, out_dir=out_dir,
                  workers=workers, figure=Path(out_dir) / "sweep.png")
    print(format_table(table))
    h = 12.0 / np.asarray(CELLS)
    order, log_c = np.polyfit(np.log(h), np.log(table.l1_error.values), 1)
    print(f"fitted order {order:.3f} (L1 error ≈ {np.exp(log_c):.3g} h^{order:.2f})")
    plot(h, table.l1_error.values, order, np.exp(log_c), Path(out_dir) / "convergence.png")
    return table, order


def plot(h, error, order, constant, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.loglog(h, error, "o", label="L1 error at T = 1")
    ax.loglog(h, constant * h**order, "-", label=f"fit: {constant:.2g} h^{order:.2f}")
    ax.set(xlabel="cell width h", ylabel="‖ρ_h(T) − ρ(T)‖₁ (exact Gaussian ρ)")
    ax.set_title("Ornstein–Uhlenbeck ∂tρ = ∂x(xρ) + ∂²xρ, 1D:\nfinite volumes (Scharfetter–Gummel, "
                 "SSP-RK3), T = 1", fontsize="medium")
    ax.minorticks_off()
    ax.set_xticks(h, [f"{v:.3g}" for v in h], fontsize="small")
    ax.legend()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--workers", type=int, default=0 if SHORT else None,
                        help="Dask workers (default 2; 0: serial, the default with PDEFLOW_DOCS_SHORT=1)")
    parser.add_argument("--out", default="sweep-grid-convergence", help="output folder")
    args = parser.parse_args()
    main(args.out, args.workers)
