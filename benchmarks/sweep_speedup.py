"""Speed-up of a Dask sweep on 2 workers over the serial fallback, measured in the same run.

    python benchmarks/sweep_speedup.py [--runs 8] [--workers 2] [--repeats 2]

The sweep: ``runs`` identical Keller–Segel runs (the ``keller-segel`` preset, 128² cells, to
t = 2: about 1.3 s each on one core), one task each (``mode="zip"`` allows repeated values).
Timed end to end, each into a fresh folder so that nothing is reused:

- serial: ``sweep(..., workers=0)`` in this process (its Numba kernels already loaded);
- dask, cold: ``sweep(..., workers=2)``, which starts its own ``LocalCluster``, loads the kernels
  in each worker and closes the cluster: what one ``pdeflow sweep`` call costs;
- dask, warm: ``sweep(..., client=client)`` on a cluster started and warmed beforehand: the
  steady state of a long sweep, where start-up is paid once.

The best of ``repeats`` is kept for each. The machine's parallel capacity is measured alongside:
the same pure-Python loop in 1 process and in ``workers`` processes at once; on a machine whose
cores are shared with other work the ceiling ``workers · t₁ / t_many`` falls below ``workers``,
and so does any speed-up. Results go to ``benchmarks/sweep_results.json`` with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def spin(n: int = 10_000_000) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - start


def capacity(workers: int) -> float:
    """``workers · t₁ / t_many`` for a CPU-bound loop: how many cores this machine gives now."""
    import multiprocessing

    one = spin()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(spin, [1000] * workers)  # started
        start = time.perf_counter()
        pool.map(spin, [10_000_000] * workers)
        many = time.perf_counter() - start
    return workers * one / many


def timed(**kwargs) -> float:
    from pdeflow.sweep import sweep

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        table = sweep("keller-segel", out_dir=out, progress=False, mode="zip", **kwargs)
        elapsed = time.perf_counter() - start
    assert (table.status == "finished").all(), table.status.values
    return elapsed


def machine() -> dict:
    import dask
    import numba
    import numpy as np

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "dask": dask.__version__,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "sweep_results.json")
    args = parser.parse_args(argv)
    from dask.distributed import Client

    from pdeflow.spec import load_spec
    from pdeflow.sweep import local_cluster, warm_up

    parameters = {"t_end": [2.0] * args.runs}
    timed(parameters={"t_end": [0.01]}, workers=0)  # Numba's kernels loaded in this process
    serial, cold, warm, ceiling, load = [], [], [], [], [os.getloadavg()[0]]
    for _ in range(args.repeats):
        ceiling.append(capacity(args.workers))
        serial.append(timed(parameters=parameters, workers=0))
        cold.append(timed(parameters=parameters, workers=args.workers))
        start = time.perf_counter()
        with local_cluster(args.workers) as cluster, Client(cluster) as client:
            warmed = client.run(warm_up, load_spec("keller-segel"))
            assert set(warmed.values()) == {"ok"}, warmed
            startup = time.perf_counter() - start
            warm.append(timed(parameters=parameters, client=client))
    load.append(os.getloadavg()[0])
    result = {
        "case": f"{args.runs} identical keller-segel preset runs (128x128 cells, t_end = 2)",
        "workers": args.workers,
        "serial_s": min(serial),
        "dask_cold_s": min(cold),
        "dask_warm_s": min(warm),
        "cluster_start_and_warm_up_s": startup,
        "speedup_cold": min(serial) / min(cold),
        "speedup_warm": min(serial) / min(warm),
        "parallel_capacity": max(ceiling),
        "parallel_capacity_all": ceiling,
        "load_average_1min": load,
        "all_times_s": {"serial": serial, "dask_cold": cold, "dask_warm": warm},
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.runs} runs: serial {result['serial_s']:.2f} s; {args.workers} workers "
          f"{result['dask_cold_s']:.2f} s with cluster start-up (speed-up {result['speedup_cold']:.2f}), "
          f"{result['dask_warm_s']:.2f} s on a warm cluster (speed-up {result['speedup_warm']:.2f}); "
          f"capacity {result['parallel_capacity']:.2f} of {args.workers}; wrote {args.out}")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
