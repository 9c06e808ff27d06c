"""Run every benchmark case against its baselines, interleaved, and record the results.

    python -m benchmarks [--quick] [--out benchmarks/results.json]

Each case times pdeflow and its baselines alternately (after a warm-up), takes the median of at
least 5 repeats, and reports the ratios. Baselines: a hand-written Numba stencil (the practical
speed limit) and, where installed (``pip install '.[bench]'``), py-pde's explicit Euler stepper on
the same grid. The particle, JKO and finite-element solvers are measured against plain NumPy,
scikit-fem and POT baselines in :mod:`benchmarks.methods`. Results go to
``benchmarks/results.json`` (with the machine, versions, thread counts and load average) and
``benchmarks/results.md`` (included in the documentation, ``docs/guide/performance.md``).
``python -m benchmarks.check_kernels`` checks the solver's fused kernels against the one-axis
references.
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
from benchmarks import baselines, interleaved, methods, network_step, targets
from pdeflow.solvers.fv import make_stepper

HERE = Path(__file__).parent


def fv_stepper(problem, **options):
    stepper = make_stepper(problem, t_end=1.0, **options)
    return stepper


def rhs_caller(stepper, evaluations):
    out = np.empty_like(stepper.rho)

    def call():
        for _ in range(evaluations):
            stepper.rhs(stepper.rho, out)
    return call


def euler_caller(stepper, steps, dt):
    """Forward-Euler steps ρ + dt L(ρ): one fused SSP-RK3 stage (like-for-like with the
    stencil and py-pde baselines)."""
    out = np.empty_like(stepper.rho)

    def call():
        for _ in range(steps):
            stepper.prepare(stepper.rho, limit=False)
            stepper._stage(0.0, stepper.rho, 1.0, stepper.rho, dt, out)
    return call


def rk3_caller(stepper, steps):
    def call():
        for _ in range(steps):
            stepper._explicit_step(np.inf)
    return call


def case_heat(shape, steps):
    """Heat equation, walls: pdeflow's flux evaluation, forward-Euler stage and SSP-RK3 step
    against a hand-written Numba Euler step and py-pde's Euler step (Neumann walls)."""
    d = len(shape)
    grid = pf.Grid([(-5.0, 5.0)] * d, shape)
    p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 1.0))
    stepper = fv_stepper(p)
    h = grid.dx[0]
    lam = 0.2  # dt D / h²
    dt = lam * h * h
    u = p.rho0.copy()
    out = np.empty_like(u)
    if d == 1:
        baseline = lambda: baselines.heat_euler_1d(u, out, lam, steps)  # noqa: E731
    else:
        baseline = lambda: baselines.heat_euler_2d(u, out, lam, steps)  # noqa: E731
    candidates = {
        "pdeflow_rhs": rhs_caller(stepper, steps),
        "pdeflow_euler": euler_caller(stepper, steps, dt),
        "pdeflow_rk3": rk3_caller(fv_stepper(p), steps),
        "numba_stencil": baseline,
    }
    pypde = _pypde_stepper(shape, steps, dt)
    if callable(pypde):
        candidates["py_pde"] = pypde
    t = {k: v / steps for k, v in interleaved(candidates).items()}
    cells = grid.size
    result = {
        "key": f"heat_{d}d_{'x'.join(map(str, shape))}",
        "case": f"heat {d}D {'x'.join(map(str, shape))}, one flux evaluation (SG)",
        "cells": cells,
        "pdeflow_s_per_eval": t["pdeflow_rhs"],
        "baseline": "hand-written Numba 5-point explicit Euler step",
        "baseline_s_per_step": t["numba_stencil"],
        "ratio": t["pdeflow_rhs"] / t["numba_stencil"],
        "pdeflow_mcups": cells / t["pdeflow_rhs"] / 1e6,
        "baseline_mcups": cells / t["numba_stencil"] / 1e6,
        "pdeflow_euler_s_per_step": t["pdeflow_euler"],
        "pdeflow_euler_mcups": cells / t["pdeflow_euler"] / 1e6,
        "ratio_euler": t["pdeflow_euler"] / t["numba_stencil"],
        "pdeflow_rk3_s_per_step": t["pdeflow_rk3"],
        "pdeflow_rk3_mcups": cells / t["pdeflow_rk3"] / 1e6,
    }
    if "py_pde" in t:
        result.update({
            "py_pde_s_per_step": t["py_pde"],
            "py_pde_mcups": cells / t["py_pde"] / 1e6,
            "ratio_euler_vs_py_pde": t["pdeflow_euler"] / t["py_pde"],
            "ratio_rhs_vs_py_pde": t["pdeflow_rhs"] / t["py_pde"],
        })
    else:
        result["py_pde"] = pypde
    return result


def _pypde_stepper(shape, steps, dt):
    """py-pde's compiled explicit Euler stepper for u_t = Δu on the same grid (no-flux walls):
    a callable doing ``steps`` steps, or why there is none. Built (and compiled) here, outside
    the timing; py-pde runs its steps in one compiled loop, without a Python call per step.

    One thread, as pdeflow's kernels: py-pde's default threads grids of 65536 cells and more,
    and its idle threads would spin on the cores the other candidates are timed on. Its Numba
    code is compiled with fastmath (its default).
    """
    try:
        import pde  # py-pde, optional: pip install '.[bench]'
    except ImportError:
        return "not installed (pip install '.[bench]')"
    pde.config["backend.numba.multithreading"] = "never"
    grid = pde.CartesianGrid([(-5.0, 5.0)] * len(shape), list(shape), periodic=False)
    state = pde.ScalarField.random_uniform(grid, rng=np.random.default_rng(0))
    eq = pde.DiffusionPDE(diffusivity=1.0)  # bc "auto_periodic_neumann": Neumann at walls
    solver = pde.EulerSolver(eq, backend="numba")
    stepper = solver.make_stepper(state, dt=dt)
    stepper(state, 0.0, dt)  # warm-up (compiled in make_stepper)
    before = solver.info["steps"]
    stepper(state, 0.0, steps * dt)
    if solver.info["steps"] - before != steps:
        return f"py-pde took {solver.info['steps'] - before} steps for {steps}; not timed"
    return lambda: stepper(state, 0.0, steps * dt)


def convolution_caller(stepper, evaluations):
    """The Keller–Segel flux's FFT convolution ``W * ρ`` alone (the rest is an SG flux)."""
    grid_energy = stepper.energy
    out = np.empty_like(stepper.rho)

    def call():
        for _ in range(evaluations):
            grid_energy.interaction_potential(stepper.rho, out)
    return call


def weights_caller(stepper, evaluations):
    """The Scharfetter–Gummel face weights B(±Δφ/D) recomputed from a given potential: what a
    flux whose potential changes (Keller–Segel) adds to the heat flux besides W * ρ."""
    from pdeflow.solvers._fv_kernels import scharfetter_gummel_weights

    phi = stepper.energy.drift_potential(stepper.rho)
    args = (phi, stepper.entropy_D, stepper.coef, stepper.periodic, stepper.weights)

    def call():
        for _ in range(evaluations):
            scharfetter_gummel_weights(*args)
    return call


def case_general_flux(n, steps):
    """One flux evaluation of Fokker–Planck, porous medium and Keller–Segel against the heat
    flux on the same grid; Keller–Segel also on a periodic grid (an unpadded FFT), and its FFT
    convolution alone (the floor of any Keller–Segel flux that solves for the potential by FFT)."""
    out = []
    for periodic in (False, True):
        grid = pf.Grid([(-5.0, 5.0)] * 2, n, periodic=periodic)
        rho0 = pf.gaussian(grid, 0.0, 1.0, mass=10.0)
        heat = fv_stepper(pf.problems.heat(grid, rho0))
        keller_segel = fv_stepper(pf.problems.keller_segel(grid, rho0))
        where = "periodic" if periodic else "walls"
        ks_fft = f"{n}² periodic FFT" if periodic else f"zero-padded {2 * n}² FFT"
        cases = {} if periodic else {
            "fokker_planck": rhs_caller(
                fv_stepper(pf.problems.fokker_planck(grid, rho0, V=lambda x, y: x**2 + y**2)), steps),
            "porous_medium": rhs_caller(fv_stepper(pf.problems.porous_medium(grid, rho0, m=2.0)), steps),
        }
        cases["keller_segel"] = rhs_caller(keller_segel, steps)
        cases["keller_segel_convolution"] = convolution_caller(keller_segel, steps)
        cases["keller_segel_weights"] = weights_caller(keller_segel, steps)
        t = interleaved({**cases, "heat": rhs_caller(heat, steps)})
        for name in cases:
            label = {
                "keller_segel_convolution": f"↳ of which W∗ρ ({ks_fft}, allocation-free)",
                "keller_segel_weights": "↳ of which the SG face weights B(±Δφ/D) from the new Φ",
            }.get(name, f"{name} 2D {n}x{n}, {where}, one flux evaluation")
            out.append({
                "key": f"{name}_{where}",
                "case": label,
                "pdeflow_s_per_eval": t[name] / steps,
                "baseline": f"pdeflow heat flux evaluation, same grid ({where})",
                "baseline_s_per_step": t["heat"] / steps,
                "ratio": t[name] / t["heat"],
            })
    return out


def case_relaxation(n=256, t_end=10.0, dt=1.0):
    """Where the explicit step limit binds: Ornstein–Uhlenbeck 2D relaxing to its Gibbs state
    (t_end = 10 relaxation times), implicit Euler at dt = 1 against explicit SSP-RK3; both runs'
    L1 errors to the exact solution are recorded."""
    grid = pf.Grid([(-6.0, 6.0)] * 2, n)
    p = pf.problems.ornstein_uhlenbeck(grid, mean=1.0, cov=0.5)
    exact = p.exact(t_end)
    runs = {}

    def explicit():
        runs["explicit"] = pf.solve(p, t_end, snapshots=2, progress=False)

    def implicit():
        runs["implicit"] = pf.solve(p, t_end, snapshots=2, progress=False, scheme="implicit", dt=dt)

    t = interleaved({"implicit": implicit, "explicit": explicit}, repeats=5)
    errors = {k: float(np.abs(v.density(-1) - exact).sum() * grid.cell_volume)
              for k, v in runs.items()}
    return {
        "key": "relaxation",
        "case": f"Ornstein-Uhlenbeck 2D {n}x{n} relaxing to t={t_end:g} (explicit limit binds): "
                f"implicit dt={dt:g} (L1 {errors['implicit']:.1e}) vs explicit SSP-RK3 "
                f"(L1 {errors['explicit']:.1e}, {runs['explicit'].meta['steps']} steps)",
        "pdeflow_s_per_eval": t["implicit"],
        "baseline": "pdeflow explicit run",
        "baseline_s_per_step": t["explicit"],
        "ratio": t["implicit"] / t["explicit"],
        "l1_error_explicit": errors["explicit"],
        "l1_error_implicit": errors["implicit"],
    }


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
        "key": "implicit_accuracy_bound",
        "case": f"heat 2D {n}x{n} to t={t_end}, L1 error <= {target:g}: implicit (dt={dt:.2e}) "
                "vs explicit SSP-RK3",
        "pdeflow_s_per_eval": t["implicit"],
        "baseline": "pdeflow explicit run",
        "baseline_s_per_step": t["explicit"],
        "ratio": t["implicit"] / t["explicit"],
        "l1_error_explicit": explicit_err,
        "l1_error_implicit": err(implicit),
    }


PYPDE_COLD = """
import time
t0 = time.perf_counter()
import numpy as np
import pde
t1 = time.perf_counter()
grid = pde.CartesianGrid([(-10.0, 10.0)], [200], periodic=False)
x = grid.axes_coords[0]
state = pde.ScalarField(grid, np.exp(-x**2 / (2 * 0.5)) / np.sqrt(2 * np.pi * 0.5))
storage = pde.MemoryStorage()
h = 20.0 / 200
pde.DiffusionPDE(diffusivity=1.0).solve(state, t_range=1.0, dt=0.45 * h * h, solver="euler",
                                        tracker=storage.tracker(0.1))
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, len(storage))
"""


def case_cold_start(pypde_repeats: int = 3):
    """A new process, end to end: `pdeflow run heat` (its Numba cache warm from a first run)
    against py-pde solving the same problem in a new process (py-pde caches no compiled code)."""
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
    results = [
        {"key": "cold_start",
         "case": "cold start: `pdeflow run heat` end to end (new process, numba cache warm)",
         "pdeflow_s_per_eval": t["cli"], "baseline": "bare python start",
         "baseline_s_per_step": t["python"], "ratio": t["cli"] / t["python"]},
        {"key": "import", "case": "`import pdeflow`", "pdeflow_s_per_eval": t["import"],
         "baseline": "bare python start",
         "baseline_s_per_step": t["python"], "ratio": t["import"] / t["python"]},
    ]
    try:
        import pde  # noqa: F401
    except ImportError:
        return results
    cli, total, solve = [], [], []
    for _ in range(pypde_repeats):  # alternating, each py-pde run a fresh process
        t0 = time.perf_counter()
        run_cli()
        cli.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PYPDE_COLD], check=True, capture_output=True,
                              text=True, cwd=tempfile.gettempdir())
        total.append(time.perf_counter() - t0)
        solve.append(float(done.stdout.split()[1]))
    cli_s, pypde_s = statistics.median(cli), statistics.median(total)
    results.append({
        "key": "cold_start_vs_py_pde",
        "case": "cold start: 1D heat, 200 cells, to t = 1 with 11 snapshots, new process: "
                "`pdeflow run heat` (numba cache warm; SSP-RK3, HDF5 output)",
        "pdeflow_s_per_eval": cli_s,
        "baseline": "py-pde first solve in a new process (explicit Euler, in-memory storage)",
        "baseline_s_per_step": pypde_s,
        "ratio": cli_s / pypde_s,
        "py_pde_solve_s": statistics.median(solve),
        "repeats": pypde_repeats,
    })
    return results


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
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "OpenBLAS default"),
        "py_pde": _pypde_version(),
        "pot": methods.ot.__version__,
        "scikit_fem": methods.skfem.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d"),
    }


def _pypde_version() -> str | None:
    try:
        import pde
    except ImportError:
        return None
    return pde.__version__


def _timed(seconds: float, mcups: float | None = None) -> str:
    return f"{seconds:.3g} s" + ("" if mcups is None else f" ({mcups:.0f} Mcell/s)")


def to_markdown(results: list[dict], info: dict) -> str:
    versions = f"numpy {info['numpy']}, numba {info['numba']} ({info['numba_threads']} threads)"
    if info.get("py_pde"):
        versions += f", py-pde {info['py_pde']}"
    lines = [
        f"Measured {info['date']} on {info['cpus']} CPUs ({info['processor']}), Python "
        f"{info['python']}, {versions}. Medians of interleaved repeats; pdeflow's kernels run on "
        "one thread.",
        "",
        "**Targets**, decided from this run's numbers (ratio = pdeflow time / baseline time):",
        "",
        targets.to_markdown(results),
        "Heat equation, walls, per step or evaluation. *L(ρ)*: one flux evaluation (`rhs`). "
        "*Euler step*: ρ + dt L(ρ), one fused SSP-RK3 stage, like-for-like with the baselines. "
        "*SSP-RK3 step*: three stages and the step control. Baselines: a hand-written Numba "
        "5-point Euler step and py-pde's compiled Euler stepper (`EulerSolver`, numba backend, "
        "one thread, fastmath, Neumann walls; its loop over steps runs compiled, pdeflow's is a "
        "Python loop).",
        "",
        "| grid | pdeflow L(ρ) | pdeflow Euler step | pdeflow SSP-RK3 step | Numba stencil | py-pde "
        "| Euler step / stencil | Euler step / py-pde | L(ρ) / py-pde |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    heat = [r for r in results if "pdeflow_euler_s_per_step" in r]
    for r in heat:
        grid = r["case"].split(",")[0].removeprefix("heat ")
        if "py_pde_s_per_step" in r:
            pypde = _timed(r["py_pde_s_per_step"], r["py_pde_mcups"])
            vs_pypde = f"{r['ratio_euler_vs_py_pde']:.2f} | {r['ratio_rhs_vs_py_pde']:.2f}"
        else:
            pypde, vs_pypde = r.get("py_pde", ""), " | "
        lines.append(
            f"| {grid} | {_timed(r['pdeflow_s_per_eval'], r['pdeflow_mcups'])} "
            f"| {_timed(r['pdeflow_euler_s_per_step'], r['pdeflow_euler_mcups'])} "
            f"| {_timed(r['pdeflow_rk3_s_per_step'], r['pdeflow_rk3_mcups'])} "
            f"| {_timed(r['baseline_s_per_step'], r['baseline_mcups'])} | {pypde} "
            f"| {r['ratio_euler']:.2f} | {vs_pypde} |"
        )
    lines += [
        "",
        "| case | pdeflow | baseline | baseline time | ratio (pdeflow / baseline) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        if r in heat:
            continue
        lines.append(
            f"| {r['case']} | {r['pdeflow_s_per_eval']:.3g} s | {r['baseline']} | "
            f"{r['baseline_s_per_step']:.3g} s | {r['ratio']:.2f} |"
        )
        if "py_pde_solve_s" in r:
            lines.append(f"| ↳ of which py-pde's `solve` (compiling, then stepping) | | | "
                         f"{r['py_pde_solve_s']:.3g} s | |")
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
        r = results[-1]
        print(r["case"], f"ratio {r['ratio']:.2f}, Euler step / stencil {r['ratio_euler']:.2f}",
              f"/ py-pde {r['ratio_euler_vs_py_pde']:.2f}" if "ratio_euler_vs_py_pde" in r else "",
              flush=True)
    for r in case_general_flux(128 if args.quick else 256, 20):
        results.append(r)
        print(r["case"], f"ratio {r['ratio']:.2f}", flush=True)
    results.append(case_implicit_vs_explicit(64 if args.quick else 256))
    print(results[-1]["case"], f"ratio {results[-1]['ratio']:.2f}", flush=True)
    results.append(case_relaxation(64 if args.quick else 256))
    print(results[-1]["case"], f"ratio {results[-1]['ratio']:.3f}", flush=True)
    for r in case_cold_start(pypde_repeats=1 if args.quick else 3):
        results.append(r)
        print(r["case"], f"{r['pdeflow_s_per_eval']:.2f} s vs {r['baseline_s_per_step']:.2f} s",
              flush=True)
    other_methods = methods.run(quick=args.quick, log=lambda *a: print(*a, flush=True))
    network = network_step.run()
    for r in network:
        print(r["case"], f"ratio {r['pdeflow_s'] / r['numpy_s']:.2f}", flush=True)
    info = machine()
    Path(args.out).write_text(json.dumps({"machine": info, "results": results,
                                          "methods": other_methods, "network": network}, indent=2))
    Path(args.out).with_suffix(".md").write_text(
        to_markdown(results, info) + "\n" + methods.to_markdown(other_methods) + "\n"
        + network_step.to_markdown(network))
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.md')}")
    if update_readme(Path(args.out).with_suffix(".md").read_text()):
        print("updated the benchmark tables in README.md")


def update_readme(table: str, readme: Path = HERE.parent / "README.md") -> bool:
    """Put ``table`` between README's ``<!-- benchmarks -->`` markers (if the markers are there)."""
    if not readme.exists():
        return False
    text = readme.read_text()
    start, end = "<!-- benchmarks -->\n", "<!-- /benchmarks -->"
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    readme.write_text(head + start + table.rstrip() + "\n" + end + rest.split(end, 1)[1])
    return True


if __name__ == "__main__":
    main()
