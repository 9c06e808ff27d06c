"""One 2D JKO step: back-and-forth against entropic, at 64², 128², 256², at equal W2 error.

    python -m benchmarks.jko_bfm [--sizes 64,128,256] [--repeats 3] [--out benchmarks/jko_bfm_results.json]

The step: heat (D = 1) on [−5, 5]² with walls, from N(0, ½I), τ = 0.05. Its exact JKO solution is
N(0, s'²I), s' = (s + √(s² + 4τD))/2 (the discrete recursion), so each solver's error is measured
against it: W2 between the Gaussians with the computed and the exact moments (Gelbrich's bound,
the W2 itself when the computed density is Gaussian; both centred and isotropic here, so it is
√2 |s_computed − s'|, s the standard deviation per axis).

- back-and-forth (``solver="bfm"``) at its default tolerance 1e-4 and at 1e-5;
- entropic (``solver="entropic"``) at ε = dx², dx²/2, dx²/4, dx²/8 (marginal tolerance 1e-9),
  each run only while one step takes under ``--entropic-cap`` seconds (the cap is checked after
  a step: one step that runs for minutes is not stopped; the rows are written as they come).

"At equal W2 error" takes, per grid, the cheapest entropic ε whose error is at most the
back-and-forth step's (default tolerance); where none is, the table says so. Times are medians
of ``--repeats`` steps from the same start, after a warm-up step (Numba compiled and cached),
on one core (BLAS, FFT and Numba threads pinned to 1 before NumPy loads).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import pdeflow as pf  # noqa: E402
from pdeflow.solvers._jko_bfm import BackAndForthJKO  # noqa: E402
from pdeflow.solvers._jko_entropic import EntropicJKO  # noqa: E402

TAU, D, VAR0 = 0.05, 1.0, 0.5


def _problem(cells: int):
    grid = pf.Grid([(-5.0, 5.0), (-5.0, 5.0)], cells)
    return pf.problems.heat(grid, pf.gaussian(grid, (0.0, 0.0), VAR0), D=D)


def _error(grid, rho) -> tuple[float, float]:
    """(W2 error against the exact JKO step, relative error of the variance increment)."""
    x, y = grid.coords()
    mass = grid.integrate(rho)
    sd = [np.sqrt(grid.integrate(c**2 * rho) / mass) for c in (x, y)]
    s = np.sqrt(VAR0)
    exact = (s + np.sqrt(s**2 + 4 * TAU * D)) / 2
    w2 = float(np.sqrt(sum((v - exact) ** 2 for v in sd)))
    increment = float(np.mean([(v**2 - s**2) / (exact**2 - s**2) - 1 for v in sd]))
    return w2, increment


def _time_steps(make_engine, repeats: int):
    """Median wall time of one step from the start, and the engine after its last step."""
    engine = make_engine()
    engine.step(TAU, 0.0)  # warm-up (compilation, caches)
    times = []
    for _ in range(repeats):
        engine = make_engine()
        start = time.perf_counter()
        iterations, _ = engine.step(TAU, 0.0)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), iterations, engine


def run(sizes, repeats: int, entropic_cap: float, out: Path, meta: dict) -> list[dict]:
    rows = []

    def record(row):  # written as it comes: a stopped run keeps what it measured
        rows.append(row)
        print(row, flush=True)
        out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))

    for cells in sizes:
        problem = _problem(cells)
        grid = problem.grid
        for tol in (1e-4, 1e-5):
            seconds, iterations, engine = _time_steps(
                lambda tol=tol, problem=problem: BackAndForthJKO(problem, tol, 1000), repeats
            )
            w2, increment = _error(grid, engine.density())
            record({"cells": cells, "solver": "bfm", "tol": tol, "seconds": seconds,
                    "iterations": iterations, "w2_error": w2, "increment_error": increment})
        for factor in (1.0, 0.5, 0.25, 0.125):
            eps = factor * grid.dx[0] ** 2
            start = time.perf_counter()
            engine = EntropicJKO(problem, eps, 1e-9, 200_000)
            iterations, _ = engine.step(TAU, 0.0)
            seconds = time.perf_counter() - start  # one cold step (its kernels are NumPy/BLAS)
            w2, increment = _error(grid, engine.density())
            record({"cells": cells, "solver": "entropic", "epsilon_over_dx2": factor,
                    "seconds": seconds, "iterations": iterations, "w2_error": w2,
                    "increment_error": increment, "domain": engine.last_domain})
            if seconds > entropic_cap:
                break
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| grid | solver | setting | iterations | time per step (s) | W2 error "
             "| variance-increment error |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        setting = f"tol {r['tol']:.0e}" if r["solver"] == "bfm" else f"ε = {r['epsilon_over_dx2']:g} dx²"
        lines.append(f"| {r['cells']}² | {r['solver']} | {setting} | {r['iterations']} | "
                     f"{r['seconds']:.3g} | {r['w2_error']:.2e} | {100 * r['increment_error']:+.2f} % |")
    lines += ["", "| grid | back-and-forth (tol 1e-4) | cheapest entropic at ≤ its W2 error |",
              "|---|---|---|"]
    for cells in sorted({r["cells"] for r in rows}):
        bfm = next(r for r in rows if r["cells"] == cells and r["solver"] == "bfm" and r["tol"] == 1e-4)
        match = [r for r in rows if r["cells"] == cells and r["solver"] == "entropic"
                 and r["w2_error"] <= bfm["w2_error"]]
        best = min(match, key=lambda r: r["seconds"]) if match else None
        other = (f"ε = {best['epsilon_over_dx2']:g} dx²: {best['seconds']:.3g} s "
                 f"(W2 error {best['w2_error']:.2e})" if best else "none of the ε tried")
        lines.append(f"| {cells}² | {bfm['seconds']:.3g} s (W2 error {bfm['w2_error']:.2e}) | {other} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,128,256")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--entropic-cap", type=float, default=60.0)
    parser.add_argument("--out", default="benchmarks/jko_bfm_results.json")
    args = parser.parse_args()
    meta = {"machine": platform.machine(), "processor": platform.processor(),
            "python": platform.python_version(), "numpy": np.__version__, "pdeflow": pf.__version__,
            "threads": 1}
    rows = run([int(n) for n in args.sizes.split(",")], args.repeats, args.entropic_cap,
               Path(args.out), meta)
    print(table(rows))


if __name__ == "__main__":
    main()
