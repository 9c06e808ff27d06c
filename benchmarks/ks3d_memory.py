"""Peak memory of a 3D Keller–Segel run with many snapshots: the frames go to disk, not to RAM.

    python -m benchmarks.ks3d_memory [--cells 256] [--snapshots 51] [--t-end 0.0125]

3D Keller–Segel (χ = D = 1, Newtonian kernel, walls) on [−8, 8]³ from N(0, I) of mass 20 (below
the 3D concentration scale at this time), solved by the default ``pf.solve`` (``method="fv"``,
``scheme="auto"``) into an HDF5 store with every snapshot, then read back lazily. Reports the
peak resident memory of the whole process (``ru_maxrss``), the bytes per cell it means, the wall
time, the steps, and the mass drift, and writes ``benchmarks/ks3d_memory_results.md``. The target
of the scale issue: 256³ with 51 snapshots under 8 GiB on a 24 GiB machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

import pdeflow as pf

HERE = Path(__file__).parent


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=256)
    parser.add_argument("--snapshots", type=int, default=51)
    parser.add_argument("--t-end", type=float, default=0.0125)
    parser.add_argument("--out", default=str(HERE / "ks3d_memory_results.md"))
    args = parser.parse_args(argv)
    n = args.cells
    grid = pf.Grid([(-8.0, 8.0)] * 3, n)
    problem = pf.problems.keller_segel(grid, pf.gaussian(grid, (0.0, 0.0, 0.0), 1.0, mass=20.0))
    with tempfile.TemporaryDirectory(dir=os.environ.get("PDEFLOW_BENCH_DIR")) as tmp:
        store = Path(tmp) / "ks3d.h5"
        start = time.perf_counter()
        traj = pf.solve(problem, args.t_end, snapshots=args.snapshots, store=store, progress=True)
        wall = time.perf_counter() - start
        last = pf.load(store)["fv"].density(args.snapshots - 1)  # lazily, one frame
        size = store.stat().st_size
        drift = float(abs(traj.mass[-1] / traj.mass[0] - 1))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    cells = n**3
    result = {"cells": n, "snapshots": args.snapshots, "t_end": args.t_end, "status": traj.status,
              "steps": traj.meta["steps"], "scheme": traj.meta.get("scheme_choice", ""),
              "wall_s": wall, "peak_rss_gib": peak / 2**30, "bytes_per_cell": peak / cells,
              "file_gib": size / 2**30, "mass_drift": drift, "max_density": float(last.max())}
    print(result)
    lines = ["# 3D Keller–Segel: peak memory with many snapshots (`python -m benchmarks.ks3d_memory`)",
             "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cpus, "
             f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB, python "
             f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__} "
             f"({numba.get_num_threads()} threads), pdeflow {pf.__version__}", "",
             "| grid | snapshots | t_end | status | steps | scheme | wall | peak RSS | bytes per cell "
             "| file | mass drift |", "|---|---|---|---|---|---|---|---|---|---|---|",
             f"| {n}³ | {args.snapshots} | {args.t_end:g} | {traj.status} | {result['steps']} | "
             f"{result['scheme'].split(':')[0]} | {wall:.0f} s | {result['peak_rss_gib']:.2f} GiB | "
             f"{result['bytes_per_cell']:.0f} | {result['file_gib']:.2f} GiB | {drift:.1e} |", "",
             "Peak RSS is the whole process (Python, NumPy, SciPy, Numba, h5py and the run); the "
             "frames are on disk (the store) and read back one at a time."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
