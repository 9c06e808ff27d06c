"""The weighted-particle step (Wasserstein–Fisher–Rao) against the plain particle step (Wasserstein).

    python -m benchmarks.weighted_particles [--out benchmarks/weighted_particles_results.md]

A relu network (a, w, b) in mean-field scaling fitting 32 points, N neurons, ``dt = 0.01``: the
time per step of ``method="particles"`` with ``metric=pf.Wasserstein()`` (the transport: moments
of the n features and ∇Ψ at every neuron) and with ``pf.WassersteinFisherRao(2)`` (the same, then
Ψ at every neuron and the exact weight update), measured in alternation in the same process
(medians of 5 pairs, 20 steps each, after a warm-up that compiles the kernels). The reaction adds
one more pass over the features (moments, then values): about the cost of the moments, a fraction
of the transport's two passes.
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

HERE = Path(__file__).parent


def problem(n_particles: int, metric):
    x = np.linspace(-2.0, 2.0, 32)
    y = 2.0 * np.maximum(x - 1.2, 0.0) - np.maximum(-x - 1.2, 0.0)
    rng = np.random.default_rng(0)
    theta0 = rng.normal(0.0, 0.5, (n_particles, 3))
    return pf.problems.mean_field_network(x, y, "relu", ("a", "w", "b"), theta0=theta0, metric=metric)


def seconds_per_step(p, steps: int = 20) -> float:
    start = time.perf_counter()
    pf.solve(p, steps * 0.01, method="particles", dt=0.01, seed=0, snapshots=2, progress=False)
    return (time.perf_counter() - start) / steps


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "weighted_particles_results.md"))
    args = parser.parse_args(argv)
    rows = []
    for n in (10_000, 100_000, 1_000_000):
        plain, weighted = problem(n, pf.Wasserstein()), problem(n, pf.WassersteinFisherRao(2.0))
        seconds_per_step(plain, 2), seconds_per_step(weighted, 2)  # compile, allocate
        pairs = [(seconds_per_step(plain), seconds_per_step(weighted)) for _ in range(5)]
        t_plain = float(np.median([a for a, _ in pairs]))
        t_weighted = float(np.median([b for _, b in pairs]))
        ratio = float(np.median([b / a for a, b in pairs]))
        rows.append((n, t_plain, t_weighted, ratio))
        print(f"N = {n:>9,}: W {t_plain * 1e3:8.2f} ms/step, WFR {t_weighted * 1e3:8.2f} ms/step, "
              f"ratio {ratio:.2f}")
    lines = ["# Weighted-particle step (WFR) against the plain particle step (W)", "",
             "`python -m benchmarks.weighted_particles`: relu network (a, w, b), 32 data points, "
             "dt = 0.01; medians of 5 alternated pairs of 20-step runs (each run's set-up and two "
             "snapshots included).", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cpus, python "
             f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__} "
             f"({numba.get_num_threads()} threads), pdeflow {pf.__version__}, load average "
             f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}", "",
             "| neurons N | W: time per step | WFR: time per step | WFR / W |", "|---|---|---|---|"]
    lines += [f"| {n:,} | {a * 1e3:.3g} ms | {b * 1e3:.3g} ms | {r:.2f} |" for n, a, b, r in rows]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
