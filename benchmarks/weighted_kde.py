"""The weighted-particle step with the entropy (log ρ by a KDE) against the plain weighted step.

    python -m benchmarks.weighted_kde [--out benchmarks/weighted_kde_results.md]

Fokker–Planck of KL(ρ | N(0, I)) from N(1.5, 0.5²) with the WFR metric (α = 2) and N particles:
the time per :meth:`Particles.step` (medians of 5 alternated rounds of 20 steps, after a warm-up
that compiles the kernels; no snapshots) of

- W: the Wasserstein flow (Euler–Maruyama, the transport alone),
- WFR, V only: the energy ∫V ρ without the entropy (the plain weighted step: ξ = V at the particles),
- WFR, KDE: the full energy, ξ = log ρ_h + 1 + V, ρ_h binned (1D/2D above 2000) or direct.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np

import pdeflow as pf
from pdeflow.solvers.particles import make_stepper

HERE = Path(__file__).parent


def problem(d: int, kind: str):
    grid = pf.Grid([(-8.0, 8.0)] * d, {1: 200, 2: 64, 3: 32}[d])
    rho0 = pf.gaussian(grid, 1.5 if d == 1 else (1.5,) * d, 0.25)
    metric = pf.Wasserstein() if kind == "W" else pf.WassersteinFisherRao(2.0)
    if kind == "WFR, V only":
        energy = pf.FreeEnergy(pf.Potential(lambda *x: 0.5 * sum(c**2 for c in x)))
        return pf.problems.aggregation_diffusion(grid, rho0, energy, metric=metric)
    return pf.problems.ornstein_uhlenbeck(grid, mean=1.5 if d == 1 else (1.5,) * d, cov=0.25,
                                          metric=metric)


def seconds_per_step(stepper, steps: int = 20) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        stepper.step(1.0)
    return (time.perf_counter() - start) / steps


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "weighted_kde_results.md"))
    args = parser.parse_args(argv)
    kinds = ("W", "WFR, V only", "WFR, KDE")
    rows = []
    for d, n in ((1, 2_000), (1, 20_000), (1, 200_000), (2, 20_000), (2, 200_000), (3, 2_000)):
        steppers = [make_stepper(problem(d, k), 1.0, n_particles=n, seed=0, dt=1e-3) for k in kinds]
        for s in steppers:
            seconds_per_step(s, 2)  # compile, allocate
        rounds = np.array([[seconds_per_step(s) for s in steppers] for _ in range(5)])
        times = np.median(rounds, axis=0)
        mode = steppers[2].reaction.density.mode
        rows.append((d, n, mode, *times))
        print(f"{d}D N = {n:>8,}: " + ", ".join(f"{k} {t * 1e3:.3g} ms" for k, t in
                                                 zip(kinds, times, strict=True)) + f" ({mode})")
    lines = ["# Weighted-particle step with the entropy (KDE) against the plain weighted step", "",
             "`python -m benchmarks.weighted_kde`: WFR (α = 2) of KL(ρ | N(0, I)), dt = 1e-3; "
             "time per step, medians of 5 alternated rounds of 20 steps (no snapshots).", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cpus, python "
             f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__} "
             f"({numba.get_num_threads()} threads), pdeflow {pf.__version__}, load average "
             f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}", "",
             "| d | N | KDE | W | WFR, V only | WFR, KDE | KDE / V only |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {d} | {n:,} | {m} | {a * 1e3:.3g} ms | {b * 1e3:.3g} ms | {c * 1e3:.3g} ms | "
              f"{c / b:.2f} |" for d, n, m, a, b, c in rows]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
