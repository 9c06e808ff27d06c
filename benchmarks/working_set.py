"""The working set of each finite-volume scheme: peak memory per cell, in 1D, 2D and 3D.

    python -m benchmarks.working_set [--cells3d 96] [--out benchmarks/working_set_results.md]

Each (scheme, dimension) runs in a fresh subprocess: it imports pdeflow, compiles the kernels on a
small grid, builds the problem (Ornstein–Uhlenbeck, D = 1, walls; heat for ``split``), records
its resident memory, then solves to t_end = 50 explicit step limits with two snapshots into a
store and records the peak (``ru_maxrss``). The working set per cell is (peak − before) / cells:
the arrays the scheme holds and the temporaries it makes, without the initial density and the
problem (allocated before). The target of the scale issue: ≤ 100 bytes per cell for
heat/Fokker–Planck explicit in 3D.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

CHILD = r"""
import json, resource, sys, tempfile
import numpy as np
import pdeflow as pf
scheme, d, n, t_end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def problem(cells):
    grid = pf.Grid([(-6.0, 6.0)] * d, cells)
    if scheme == "split":
        return pf.problems.heat(grid, pf.gaussian(grid, (0.0,) * d, 1.0))
    return pf.problems.ornstein_uhlenbeck(grid, mean=(0.5,) * d, cov=0.5, gamma=1.0, D=1.0)
options = {"scheme": scheme} if scheme != "implicit" else {"scheme": scheme, "dt": t_end / 4}
pf.solve(problem(8), t_end, snapshots=2, progress=False, **options)  # compile
p = problem(n)
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) * 1024
before = rss()
with tempfile.TemporaryDirectory() as tmp:
    pf.solve(p, t_end, snapshots=2, store=f"{tmp}/run.h5", progress=False, **options)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "peak": peak, "cells": n ** d}))
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells3d", type=int, default=96)
    parser.add_argument("--out", default=str(HERE / "working_set_results.md"))
    args = parser.parse_args(argv)
    sizes = {1: 100_000, 2: 512, 3: args.cells3d}
    rows = []
    for scheme in ("explicit", "rkl2", "split", "implicit"):
        for d in (1, 2, 3):
            if scheme == "implicit" and d == 3:
                n = 32  # a sparse LU of a 3D operator: its fill-in grows like n^(4/3) per cell
            elif scheme == "split" and d == 1:
                n = 4096  # the split scheme's dense factors: at most 4096 cells per axis
            else:
                n = sizes[d]
            h = 12.0 / n
            t_end = 50 * h * h / (2 * d)  # 50 explicit steps at D = 1
            out = subprocess.run([sys.executable, "-c", CHILD, scheme, str(d), str(n), repr(t_end)],
                                 capture_output=True, text=True, check=True)
            m = json.loads(out.stdout.strip().splitlines()[-1])
            per_cell = (m["peak"] - m["before"]) / m["cells"]
            rows.append({"scheme": scheme, "dim": d, "cells": m["cells"], "bytes_per_cell": per_cell})
            print(f"{scheme:9s} {d}D {m['cells']:>9,} cells: {per_cell:8.1f} bytes per cell")
    lines = ["# Working set per cell of each fv scheme (`python -m benchmarks.working_set`)", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cpus, python "
             f"{platform.python_version()}. Peak RSS during the solve minus RSS before it, over the "
             "cells (Ornstein–Uhlenbeck, heat for split; two snapshots into a store).", "",
             "| scheme | dimension | cells | bytes per cell |", "|---|---|---|---|"]
    lines += [f"| {r['scheme']} | {r['dim']}D | {r['cells']:,} | {r['bytes_per_cell']:.0f} |"
              for r in rows]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
