"""The mean-field limit as a sweep: widths × seeds of the `mean-field` preset on Dask
==================================================================================

::

    python examples/sweep_mean_field_widths.py [--workers 2] [--out sweep-mean-field]

Every (width m, seed) pair is one task training a width-m network by gradient descent in
mean-field scaling; one grid (fv) run of the same preset is the PDE reference. The metric is
the final risk; the table gives its gap to the PDE's final risk, averaged over seeds, against m
with the fitted log-log slope (the mean-field limit predicts m^(-1/2)), and a figure.
About 20 s on two cores; ``PDEFLOW_DOCS_SHORT=1`` (the documentation's gallery) makes it a
serial loop (``--workers 0``, no Dask cluster to start). The sweep's summary figure
(``widths/sweep.png``) is redrawn with a logarithmic width axis.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

import pdeflow as pf
from pdeflow.plot_sweep import plot_sweep
from pdeflow.spec import load_spec, run_spec


def final_risk(traj) -> float:
    """Sweep metric: the risk at the last snapshot."""
    return float(traj.diagnostics["risk"][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    short = os.environ.get("PDEFLOW_DOCS_SHORT") == "1"  # the documentation's short setting
    parser.add_argument("--workers", type=int, default=0 if short else 2,
                        help="Dask workers (0: serial, the default with PDEFLOW_DOCS_SHORT=1)")
    parser.add_argument("--out", default="sweep-mean-field")
    parser.add_argument("--widths", default="10,100,1000,10000")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]

    spec = load_spec("mean-field")
    reference_spec = {**spec, "run": {**spec["run"], "methods": ["fv"]}}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    pde = run_spec(reference_spec, Path(args.out) / "pde.h5", overwrite=True, progress=False)["fv"]
    pde_risk = final_risk(pde)

    particle_spec = {**spec, "run": {**spec["run"], "methods": ["particles"]}}
    table = pf.sweep(particle_spec, {"n_particles": widths}, seeds=args.seeds,
                     workers=args.workers, out_dir=Path(args.out) / "widths",
                     metrics={"final_risk": final_risk})
    summary = plot_sweep(table)  # the sweep's own figure, with the widths on a log axis
    for axis in summary.axes:
        axis.set_xscale("log")
        axis.minorticks_off()
    summary.savefig(Path(args.out) / "widths" / "sweep.png", dpi=100)
    risks = np.asarray(table["final_risk"].values, dtype=float).reshape(len(widths), -1)
    gaps = np.abs(risks - pde_risk).mean(axis=1)
    slope = float(np.polyfit(np.log(widths), np.log(gaps), 1)[0])
    print(f"PDE final risk {pde_risk:.5g}")
    for m, gap, row in zip(widths, gaps, risks, strict=True):
        print(f"m = {m:>6}: final risk {row.mean():.5g} ± {row.std():.2g}, |gap| {gap:.3g}")
    print(f"fitted slope of |risk gap| against m: {slope:.2f} (mean-field limit: -0.5)")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.loglog(widths, gaps, "o-", label=f"|risk(m) − risk(PDE)|, slope {slope:.2f}")
    ax.loglog(widths, gaps[0] * (np.asarray(widths) / widths[0]) ** -0.5, "k--", label="m^(-1/2)")
    ax.set_xlabel("width m")
    ax.set_ylabel(f"|R_m(T) − R(T)|, mean over {args.seeds} seeds")
    ax.set_title(f"Mean-field limit of ∂tρ = ∇·(ρ∇Ψ), risk at T = {pde.times[-1]:g}:\n"
                 "width-m GD (particles) vs the PDE (fv), "
                 + ("one run after another" if args.workers == 0 else "on Dask"), fontsize="medium")
    ax.legend()
    out = Path(args.out)
    fig.savefig(out / "mean_field_widths.png", dpi=110)
    (out / "mean_field_widths.json").write_text(json.dumps({
        "widths": widths, "seeds": args.seeds, "pde_risk": pde_risk,
        "risk_gap": gaps.tolist(), "slope": slope,
    }, indent=2))
    print(f"wrote {out / 'mean_field_widths.png'}")


if __name__ == "__main__":
    main()
