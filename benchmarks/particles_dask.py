"""The particle–mesh step on Dask (2 process workers, 1 thread each) against the single-process step.

    python benchmarks/particles_dask.py [--n 10000000] [--steps 5] [--workers 2]

The problem: 2D Keller–Segel (M = 2π, D = χ = 1) on a 128² grid over [−6, 6]², particle–mesh
on the grid refined twice (n = 256² mesh cells, FFT on the zero-padded 512²), Brownian noise,
the blow-up check on the grid (its deposit every step), a fixed dt = 1e-4. Timed: ``steps``
steps of the stepper (``advance``), after one warm-up step, for

- the single-process stepper (:class:`pdeflow.solvers.particles.Particles`), in this process;
- the distributed stepper (:mod:`pdeflow.solvers.particles_dask`) on a ``LocalCluster`` of
  ``workers`` processes (:func:`pdeflow.sweep.local_cluster`), one partition each;
- the distributed stepper with 10⁴ particles per worker: the cost of a step that is all
  scheduling, communication and the field solve (the per-step overhead).

Scaling model, per step and worker: it computes its N/P particles (noise, push, two CIC deposits,
one CIC interpolation) and sends a mesh deposit (n cells) and a grid deposit (n/4 cells) and
receives the field ∇(W * ρ) (d·n cells), 8 bytes each; the driver gathers P + 1 floats. The
machine's parallel capacity (``workers · t₁ / t_many`` of a CPU-bound loop, as in
``sweep_speedup.py``) is measured alongside: on shared cores it falls below ``workers``, and so
does any speed-up. Results: ``benchmarks/particles_dask_results.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # one core per process, as the workers


def problem():
    import numpy as np

    import pdeflow as pf

    grid = pf.Grid([(-6.0, 6.0), (-6.0, 6.0)], 128)
    return pf.problems.keller_segel(grid, pf.gaussian(grid, 0.0, 0.5, mass=2 * np.pi))


def options(n: int) -> dict:
    return {"n_particles": n, "seed": 0, "interaction": "mesh", "dt": 1e-4}


def time_steps(stepper, steps: int) -> float:
    """Seconds per step over ``steps`` steps, after one warm-up step."""
    stepper.advance(stepper.t + stepper.dt)
    start = time.perf_counter()
    stepper.advance(stepper.t + steps * stepper.dt * (1 - 1e-12))
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import dask
    import distributed
    import numba
    import numpy as np

    import pdeflow as pf
    from pdeflow.solvers.particles import ParticlesOptions, make_stepper
    from pdeflow.solvers.particles_dask import DaskRun
    from pdeflow.sweep import local_cluster

    sys.path.insert(0, str(HERE))
    from sweep_speedup import capacity

    p, P = problem(), args.workers
    cores = capacity(P)
    start = time.perf_counter()
    single = make_stepper(p, 1.0, **options(args.n))
    setup_single = time.perf_counter() - start
    t_single = time_steps(single, args.steps)
    del single
    cluster = local_cluster(P)
    with distributed.Client(cluster) as client, DaskRun(client, "particles") as run:
        run.build(p, 1.0, ParticlesOptions.from_dict(options(100 * P)))  # kernels loaded
        start = time.perf_counter()
        dist = run.build(p, 1.0, ParticlesOptions.from_dict(options(args.n)))
        setup_dist = time.perf_counter() - start
        t_dist = time_steps(dist, args.steps)
        dist.close()
        small = run.build(p, 1.0, ParticlesOptions.from_dict(options(10_000 * P)))
        t_small = time_steps(small, 4 * args.steps)
    cluster.close()

    grid_cells = p.grid.size
    mesh_cells = grid_cells * 4
    d = p.grid.ndim
    sent, received = 8 * (mesh_cells + grid_cells), 8 * d * mesh_cells
    per_worker = args.n // P
    rows = [
        f"# Particle–mesh step on Dask: {args.n:.0e} particles, {P} workers",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (parallel capacity now "
        f"{cores:.2f} of {P}: the cores are shared), {platform.platform()}; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__}, Dask "
        f"{dask.__version__}, distributed {distributed.__version__}, pdeflow {pf.__version__}. "
        f"Produced by `python benchmarks/particles_dask.py --n {args.n} --steps {args.steps}`.",
        "",
        "Problem: 2D Keller–Segel, 128² grid, particle–mesh on 256² cells (FFT on 512²), Brownian "
        "noise, blow-up check every step, dt = 1e-4; seconds per step, after one warm-up step.",
        "",
        "| run | s / step | speed-up |",
        "|---|---|---|",
        f"| single process | {t_single:.3f} | 1 |",
        f"| Dask, {P} process workers × 1 thread | {t_dist:.3f} | {t_single / t_dist:.2f} |",
        f"| Dask, {10_000 * P:.0e} particles (overhead of a step) | {t_small:.4f} | |",
        "",
        f"Set-up (sampling the particles, the first field): single {setup_single:.1f} s, Dask "
        f"{setup_dist:.1f} s.",
        "",
        "Scaling model, per step and worker: it computes its N/P = "
        f"{per_worker:.2e} particles, sends a mesh deposit of n = {mesh_cells} cells and a grid "
        f"deposit of {grid_cells} cells ({sent / 2**20:.2f} MiB) and receives the field of "
        f"d·n = {d * mesh_cells} cells ({received / 2**20:.2f} MiB), 8 bytes each: "
        f"{(sent + received) / per_worker:.3f} bytes moved per particle computed "
        f"(against {8 * 4 * d} bytes of positions, velocities and noise each particle touches). "
        f"Measured: a step of {P}×10⁴ particles, nearly all scheduling, these transfers and the "
        f"field solve (which is not divided), takes {t_small * 1e3:.1f} ms, "
        f"{100 * t_small / t_dist:.1f} % of the {args.n:.0e}-particle step; the rest is the "
        "workers' particle work, divided by P.",
    ]
    text = "\n".join(rows) + "\n"
    (HERE / "particles_dask_results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
