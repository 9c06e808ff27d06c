"""pdeflow's performance suite: ``python -m benchmarks`` (see benchmarks/README.md)."""

from __future__ import annotations

import os
import statistics
import sys
import time

# BLAS on one thread, as pdeflow's kernels and the NumPy baselines (set only when nothing has
# loaded NumPy yet, i.e. under ``python -m benchmarks``; OPENBLAS_NUM_THREADS overrides): on a
# shared 2-CPU machine, two OpenBLAS threads made every BLAS-bound candidate 2-10x slower.
if "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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
