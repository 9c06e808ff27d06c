"""Run every benchmark case against its baseline, interleaved, and record the results.

    python -m benchmarks [--quick] [--out benchmarks/results.json]

Each case times pdeflow and its baseline alternately (after a warm-up), takes the median of at
least 5 repeats, and reports the ratio. Results go to ``benchmarks/results.json`` (with the
machine, versions and thread count) and ``benchmarks/results.md`` (included in the README).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import scipy

import pdeflow as pf
from benchmarks import baselines
from pdeflow.solvers.fv import make_stepper

HERE = Path(__file__).parent


def interleaved(candidates: dict, repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """Median wall time of each callable, calls alternating so drift hits all alike."""
    for _ in range(warmup):
        for f in candidates.values():
            f()
    times = {k: [] for k in candidates}
    for _ in range(repeats):
        for name, f in candidates.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def fv_stepper(problem, **options):
    stepper = make_stepper(problem, t_end=1.0, **options)
    return stepper


def rhs_caller(stepper, evaluations):
    def call():
        for _ in range(evaluations):
            stepper.rhs(stepper.rho, stepper.k)
    return call


def rk3_caller(stepper, steps):
    def call():
        for _ in range(steps):
            stepper._explicit_step(np.inf)
    return call


def case_heat(shape, steps):
    d = len(shape)
    grid = pf.Grid([(-5.0, 5.0)] * d, shape)
    p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 1.0))
    stepper = fv_stepper(p)
    h = grid.dx[0]
    lam = 0.2 * h * h / h**2
    u = p.rho0.copy()
    out = np.empty_like(u)
    if d == 1:
        baseline = lambda: baselines.heat_euler_1d(u, out, lam, steps)  # noqa: E731
    else:
        baseline = lambda: baselines.heat_euler_2d(u, out, lam, steps)  # noqa: E731
    t = interleaved({"pdeflow_rhs": rhs_caller(stepper, steps), "numba_stencil": baseline})
    cells = grid.size * steps
    result = {
        "case": f"heat {d}D {'x'.join(map(str, shape))}, one flux evaluation (SG)",
        "pdeflow_s_per_eval": t["pdeflow_rhs"] / steps,
        "baseline": "hand-written Numba 5-point explicit Euler step",
        "baseline_s_per_step": t["numba_stencil"] / steps,
        "ratio": t["pdeflow_rhs"] / t["numba_stencil"],
        "pdeflow_mcups": cells / t["pdeflow_rhs"] / 1e6,
        "baseline_mcups": cells / t["numba_stencil"] / 1e6,
    }
    result.update(_pypde(shape, steps))
    return result


def _pypde(shape, steps):
    try:
        import pde  # py-pde, optional: pip install .[bench]
    except ImportError:
        return {"py_pde": "not installed (pip install '.[bench]')"}
    grid = pde.CartesianGrid([(-5.0, 5.0)] * len(shape), list(shape), periodic=True)
    state = pde.ScalarField.random_uniform(grid)
    eq = pde.DiffusionPDE(diffusivity=1.0)
    dt = 1e-6
    eq.solve(state, t_range=dt * 2, dt=dt, solver="explicit", tracker=None)  # compile
    t0 = time.perf_counter()
    eq.solve(state, t_range=dt * steps, dt=dt, solver="explicit", tracker=None)
    elapsed = time.perf_counter() - t0
    return {"py_pde_s_per_step": elapsed / steps, "py_pde_mcups": np.prod(shape) * steps / elapsed / 1e6}


def case_general_flux(n, steps):
    grid = pf.Grid([(-5.0, 5.0)] * 2, n)
    rho0 = pf.gaussian(grid, 0.0, 1.0, mass=10.0)
    heat = fv_stepper(pf.problems.heat(grid, rho0))
    cases = {
        "fokker_planck": fv_stepper(pf.problems.fokker_planck(grid, rho0, V=lambda x, y: x**2 + y**2)),
        "porous_medium": fv_stepper(pf.problems.porous_medium(grid, rho0, m=2.0)),
        "keller_segel": fv_stepper(pf.problems.keller_segel(grid, rho0)),
    }
    out = []
    for name, stepper in cases.items():
        t = interleaved({"case": rhs_caller(stepper, steps), "heat": rhs_caller(heat, steps)})
        out.append({
            "case": f"{name} 2D {n}x{n}, one flux evaluation",
            "pdeflow_s_per_eval": t["case"] / steps,
            "baseline": "pdeflow heat flux evaluation, same grid",
            "baseline_s_per_step": t["heat"] / steps,
            "ratio": t["case"] / t["heat"],
        })
    return out


def case_implicit_vs_explicit(n=256, t_end=0.05, target=2e-3):
    """Time to reach t_end with L1 error <= target: explicit SSP-RK3 against the largest
    implicit step (halving from t_end/2) that meets the same target."""
    grid = pf.Grid([(-6.0, 6.0)] * 2, n)
    p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), exact_gaussian=(0.0, 0.5, 1.0))
    exact = p.exact(t_end)

    def err(traj):
        return float(np.abs(traj.density(-1) - exact).sum() * grid.cell_volume)

    explicit_err = err(pf.solve(p, t_end, snapshots=2, progress=False))
    dt = t_end / 2
    for _ in range(12):
        implicit = pf.solve(p, t_end, snapshots=2, progress=False, scheme="implicit", dt=dt)
        if err(implicit) <= target:
            break
        dt /= 2
    t = interleaved({
        "implicit": lambda: pf.solve(p, t_end, snapshots=2, progress=False, scheme="implicit", dt=dt),
        "explicit": lambda: pf.solve(p, t_end, snapshots=2, progress=False),
    }, repeats=5)
    return {
        "case": f"heat 2D {n}x{n} to t={t_end}, L1 error <= {target:g}: implicit (dt={dt:.2e}) "
                "vs explicit SSP-RK3",
        "pdeflow_s_per_eval": t["implicit"],
        "baseline": "pdeflow explicit run",
        "baseline_s_per_step": t["explicit"],
        "ratio": t["implicit"] / t["explicit"],
        "l1_error_explicit": explicit_err,
        "l1_error_implicit": err(implicit),
    }


def case_cold_start():
    def run_cli():
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(
                [sys.executable, "-c", "import sys; from pdeflow.cli import main; sys.exit(main())",
                 "run", "heat", "--out", f"{d}/h.h5", "--no-plot", "--quiet"],
                check=True, capture_output=True,
            )

    def import_time():
        subprocess.run([sys.executable, "-c", "import pdeflow"], check=True)

    def python_start():
        subprocess.run([sys.executable, "-c", "pass"], check=True)

    t = interleaved({"cli": run_cli, "import": import_time, "python": python_start}, repeats=5)
    return [
        {"case": "cold start: `pdeflow run heat` end to end (new process, numba cache warm)",
         "pdeflow_s_per_eval": t["cli"], "baseline": "bare python start",
         "baseline_s_per_step": t["python"], "ratio": t["cli"] / t["python"]},
        {"case": "`import pdeflow`", "pdeflow_s_per_eval": t["import"], "baseline": "bare python start",
         "baseline_s_per_step": t["python"], "ratio": t["import"] / t["python"]},
    ]


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "pdeflow": pf.__version__,
        "numba_threads": numba.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }


def to_markdown(results: list[dict], info: dict) -> str:
    lines = [
        f"Measured {info['date']} on {info['cpus']} CPUs ({info['processor']}), Python {info['python']}, "
        f"numpy {info['numpy']}, numba {info['numba']} ({info['numba_threads']} threads).",
        "",
        "| case | pdeflow | baseline | baseline time | ratio (pdeflow / baseline) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        extra = ""
        if "pdeflow_mcups" in r:
            extra = f" ({r['pdeflow_mcups']:.0f} Mcell/s vs {r['baseline_mcups']:.0f})"
        lines.append(
            f"| {r['case']} | {r['pdeflow_s_per_eval']:.3g} s{extra} | {r['baseline']} | "
            f"{r['baseline_s_per_step']:.3g} s | {r['ratio']:.2f} |"
        )
        if "py_pde_s_per_step" in r:
            lines.append(f"| ↳ py-pde explicit step, same size | {r['py_pde_s_per_step']:.3g} s | | | "
                         f"{r['pdeflow_s_per_eval'] / r['py_pde_s_per_step']:.2f} |")
        elif "py_pde" in r:
            lines.append(f"| ↳ py-pde | {r['py_pde']} | | | |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args(argv)
    results = []
    sizes = [((4096,), 200), ((256, 256), 50)] + ([] if args.quick else [((1024, 1024), 5)])
    for shape, steps in sizes:
        results.append(case_heat(shape, steps))
        print(results[-1]["case"], f"ratio {results[-1]['ratio']:.2f}", flush=True)
    for r in case_general_flux(128 if args.quick else 256, 20):
        results.append(r)
        print(r["case"], f"ratio {r['ratio']:.2f}", flush=True)
    results.append(case_implicit_vs_explicit(64 if args.quick else 256))
    print(results[-1]["case"], f"ratio {results[-1]['ratio']:.2f}", flush=True)
    for r in case_cold_start():
        results.append(r)
        print(r["case"], f"{r['pdeflow_s_per_eval']:.2f} s", flush=True)
    info = machine()
    Path(args.out).write_text(json.dumps({"machine": info, "results": results}, indent=2))
    Path(args.out).with_suffix(".md").write_text(to_markdown(results, info))
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.md')}")


if __name__ == "__main__":
    main()
