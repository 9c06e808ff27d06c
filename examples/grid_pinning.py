"""Grid pinning: two compact bumps under a weak attraction, by grid, particles and 1D JKO
======================================================================================

The flow, in 1D, with degenerate diffusion (m = 3)::

    ∂t ρ = ∂x(ρ ∂x ξ),   ξ = (3/2) ρ² + W_s * ρ + V,
    W_s(x) = −3 exp(−x² / (2·0.3²))   (a short-range attraction that holds each bump together),
    V(x) = ε x² / 2                    (a weak long-range pull, ε = 0.005).

V is the interaction ε|x − y|²/2 of the unit mass with itself: ∫ ε(x − y) ρ(y) dy = ε(x − x̄)
and the centre of mass x̄ = 0 is conserved. Two bumps of mass ½ at ±2 stay compact and apart,
and the centre of mass of each moves exactly as

::

    c(t) = c(0) e^{−ε t}

(the pressure and the self-attraction integrate to zero over a bump; the bumps are too far apart
for W_s to couple them). Each method starts from bumps relaxed with ε = 0 on its grid (3 time
units of fv), so that the motion measured is the drift alone.

What to expect (measured; the user guide's "What to expect: grid pinning with degenerate diffusion",
docs/guide/finite_volumes.md): the
finite-volume bumps move a fraction of a cell and then stop for good on coarse grids (a
discrete steady state: the edge cells' pressure is held by the empty neighbour's higher ξ), and
drift at close to the exact speed once the cells are fine enough; particles and the 1D JKO
(Lagrangian, translation invariant) follow c(t).

::

    python examples/grid_pinning.py [--out grid_pinning.png] [--short]

``--short`` (15 s of CPU, under a minute on two busy cores): fv on 50 and 100 cells, t ≤ 8; the
default when ``PDEFLOW_DOCS_SHORT=1`` is set (the documentation's gallery). Without it: 200 cells
too, and t ≤ 16 (a few minutes).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from matplotlib.figure import Figure

import pdeflow as pf

M_EXP, SIGMA, STRENGTH, CENTRE, HALF_WIDTH, BOX = 3.0, 0.3, 3.0, 2.0, 4.0, 4.0


def energy(eps: float, m: float = M_EXP) -> pf.FreeEnergy:
    """E = ∫ ρ^m/(m−1) + ½ ∬ W_s ρ ρ + ∫ ε x²/2 ρ."""
    return pf.FreeEnergy(
        pf.PowerLaw(m), pf.Interaction(pf.GaussianKernel(SIGMA), -STRENGTH),
        pf.Potential(lambda x: 0.5 * eps * x**2, gradient=lambda x: (eps * x,), name="weak"),
    )


def relaxed_bumps(n: int, m: float = M_EXP, t_relax: float = 3.0) -> tuple[pf.Grid, np.ndarray]:
    """Two bumps of mass ½ at ±CENTRE relaxed with ε = 0 (symmetric: they do not move) on n cells."""
    grid = pf.Grid([(-BOX, BOX)], n)
    x = grid.coords()[0]
    rho = sum(np.maximum(1 - ((x - c) / 0.5) ** 2, 0.0) ** (1 / (m - 1)) for c in (-CENTRE, CENTRE))
    rho = rho / grid.integrate(rho)
    p = pf.problems.aggregation_diffusion(grid, rho, energy(0.0, m))
    traj = pf.solve(p, t_relax, method="fv", snapshots=2, progress=False, blowup_density=10.0)
    return grid, traj.density(1)


def right_centre(grid: pf.Grid, rho: np.ndarray) -> float:
    """Centre of mass of the bump on x > 0."""
    x = grid.coords()[0]
    right = x > 0
    return float(np.sum(x[right] * rho[right]) / np.sum(rho[right]))


def centres(method: str, grid: pf.Grid, rho0: np.ndarray, eps: float, t_end: float,
            snapshots, m: float = M_EXP, **options) -> tuple[np.ndarray, np.ndarray]:
    """Times and centre c(t) of the right bump under ``method`` from ``rho0``."""
    p = pf.problems.aggregation_diffusion(grid, rho0, energy(eps, m))
    if method in ("fv", "particles"):  # the default, a tenth of the mass in one cell, is ~0.6
        options.setdefault("blowup_density", 10.0)
    traj = pf.solve(p, t_end, method=method, snapshots=snapshots, progress=False, **options)
    if method == "particles":
        xs = [traj.positions(i)[:, 0] for i in range(len(traj.times))]
        c = np.array([np.mean(x[x > 0]) for x in xs])
    else:
        c = np.array([right_centre(grid, traj.density(i)) for i in range(len(traj.times))])
    return np.asarray(traj.times), c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", default="grid_pinning.png")
    parser.add_argument("--short", action="store_true", default=os.environ.get("PDEFLOW_DOCS_SHORT") == "1",
                        help="coarse grids, t <= 8 (15 s of CPU; default with PDEFLOW_DOCS_SHORT=1)")
    args = parser.parse_args()
    eps = 0.005
    t_end, cells = (8.0, (50, 100)) if args.short else (16.0, (50, 100, 200))
    snapshots = 9
    runs = {}
    for n in cells:
        start = time.perf_counter()
        grid, rho = relaxed_bumps(n)
        runs[f"fv (CCH), {n} cells, h = {grid.dx[0]:.3g}"] = (
            *centres("fv", grid, rho, eps, t_end, snapshots), time.perf_counter() - start)
    # the Lagrangian runs start from the finest fv bumps, on a grid 8x finer (the same piecewise-
    # constant density): their centres are measured from the grid density, and a 0.05-wide cell
    # would bias c(t) by ~1e-3 as the bump's √ edges cross cells
    grid, rho = relaxed_bumps(cells[-1])
    grid, rho = pf.Grid([(-BOX, BOX)], 8 * cells[-1]), np.repeat(rho, 8)
    start = time.perf_counter()
    runs["particles (blob), N = 300"] = (
        *centres("particles", grid, rho, eps, t_end, snapshots, n_particles=300, seed=0,
                 blob_width=0.1),
        time.perf_counter() - start)
    start = time.perf_counter()
    runs["1D JKO (Lagrangian), τ = 0.2"] = (
        *centres("jko", grid, rho, eps, t_end, snapshots, tau=0.2, n_quantiles=200),
        time.perf_counter() - start)

    times = np.linspace(0.0, t_end, 200)
    exact = CENTRE * (np.exp(-eps * times) - 1)
    print(f"right bump: c(t) − c(0) at t = {t_end:g}, and the speed over the second half of the run,"
          " against the exact c(0)(exp(−εt) − 1) from each run's own c(0)")
    fig = Figure(figsize=(7.0, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(times, exact, "k-", lw=2, label="exact c(0)(exp(−εt) − 1), c(0) = 2")
    for k, (name, (t, c, wall)) in enumerate(runs.items()):
        d, d_exact = c - c[0], c[0] * (np.exp(-eps * t) - 1)
        half = len(t) // 2
        speed = (d[-1] - d[half]) / (t[-1] - t[half])
        speed_exact = (d_exact[-1] - d_exact[half]) / (t[-1] - t[half])
        print(f"  {name:38s} {d[-1]:+.4e} (exact {d_exact[-1]:+.4e})   speed {speed:+.3e} "
              f"({speed / speed_exact:.2f} of exact)   [{wall:.1f} s]")
        ax.plot(t, d, marker="o", ms=4, color=f"C{k}", label=name)
    ax.set_xlabel("t")
    ax.set_ylabel("displacement of the right bump's centre, c(t) − c(0)")
    ax.set_title(f"∂tρ = ∂x(ρ ∂x(3ρ²/2 + W_s*ρ + εx²/2)), ε = {eps}: grid pinning of fv\n"
                 f"fv (CCH) vs particles (blob) vs 1D JKO, 0 ≤ t ≤ {t_end:g}", fontsize=10)
    ax.legend(fontsize=8)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
