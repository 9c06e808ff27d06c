"""Keller–Segel 2D: which masses blow up? A sweep across the critical mass 8π
==========================================================================

Ten masses M = f·8π (f = 0.5 … 1.5, rounded to 0.1) times two initial variances (0.5, 1.0), one
Dask task per run. The fraction of runs that end in blow-up jumps from 0 to 1 at M = 8π, whatever
the initial variance; the blow-up times sit below the bound T* = 4π v / (M − 8π) (v the initial
variance).

::

    python examples/sweep_keller_segel_mass.py [--workers N] [--out DIR]

Writes DIR/run_*.h5, DIR/sweep.nc, DIR/sweep.png and DIR/blowup_fraction.png. About a minute on
two cores; ``PDEFLOW_DOCS_SHORT=1`` (the documentation's gallery) sweeps four masses
(f = 0.8, 0.9, 1.1, 1.2) instead of ten, in a serial loop (``--workers 0``, no Dask cluster to start).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np

from pdeflow.spec import load_spec
from pdeflow.sweep import format_table, sweep

EIGHT_PI = 8.0 * math.pi
SHORT = os.environ.get("PDEFLOW_DOCS_SHORT") == "1"  # the documentation's short setting
FRACTIONS = [0.8, 0.9, 1.1, 1.2] if SHORT else [0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5]
# this folder: sphinx-gallery runs an example in its folder, without __file__
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
SPEC = HERE / "sweep_keller_segel_mass.toml"


def main(out_dir: str = "sweep-keller-segel-mass", workers: int | None = None):
    masses = [round(f * EIGHT_PI, 1) for f in FRACTIONS]
    table = sweep(SPEC, {"mass": masses, "cov": [0.5, 1.0]}, out_dir=out_dir, workers=workers,
                  figure=Path(out_dir) / "sweep.png")
    print(format_table(table))
    plot(table, Path(out_dir) / "blowup_fraction.png", workers)
    fraction = (table.status == "blow-up").mean("cov")
    print(f"blow-up fraction per mass: {dict(zip(FRACTIONS, fraction.values.tolist(), strict=True))}")
    return table


def plot(table, path: Path, workers: int | None = None) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    mass = table.mass.values
    left.plot(mass, (table.status == "blow-up").mean("cov"), "o-")
    left.set(xlabel="mass M", ylabel="fraction of runs that blow up", ylim=(-0.05, 1.05))
    for ax in (left, right):
        ax.axvline(EIGHT_PI, color="k", ls="--", label="8π")
    fine = np.linspace(1.02 * EIGHT_PI, mass.max(), 100)
    for v in table.cov.values:
        line = right.plot(mass, table.blowup_time.sel(cov=v), "o", label=f"blow-up time, v = {v}")
        right.plot(fine, 4 * math.pi * v / (fine - EIGHT_PI), color=line[0].get_color(), lw=0.8,
                   label=f"bound T*, v = {v}")
    right.set(xlabel="mass M", ylabel="blow-up time (threshold crossing)", ylim=(0, 8))
    right.legend(fontsize=8)
    left.legend()
    left.set_title("fraction of the two variances v = 0.5, 1.0", fontsize="medium")
    right.set_title("blow-up time and the bound T* = 4πv / (M − 8π)", fontsize="medium")
    cells = load_spec(SPEC)["grid"]["cells"]
    fig.suptitle("Keller–Segel ∂tρ = Δρ − ∇·(ρ∇c), −Δc = ρ, in 2D: finite volumes on "
                 f"{cells}² cells, up to t = {load_spec(SPEC)['run']['t_end']:g}, "
                 + ("one run after another" if workers == 0 else "one Dask task per run"),
                 fontsize="medium")
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--workers", type=int, default=0 if SHORT else None,
                        help="Dask workers (default 2; 0: serial, the default with PDEFLOW_DOCS_SHORT=1)")
    parser.add_argument("--out", default="sweep-keller-segel-mass", help="output folder")
    args = parser.parse_args()
    main(args.out, args.workers)
