"""Parameter sweeps and ensembles: one spec, many runs, one table (an xarray Dataset).

>>> table = sweep("keller-segel-blowup", {"mass": [15.0, 35.0]}, workers=0)  # doctest: +SKIP
>>> table.status.values.tolist()                                              # doctest: +SKIP
['finished', 'blow-up']

A swept parameter is a dotted path into the spec (:mod:`pdeflow.spec`): ``"initial.mass"``,
``"grid.cells"``, ``"parameters.chi"``, ``"run.t_end"``, ``"particles.n_particles"``, ... The short
names of :data:`SHORT_NAMES` stand for paths: mass, cov → ``initial.*``; cells → ``grid.cells``;
chi, D, m, gamma → ``parameters.*``; t_end, snapshots → ``run.*``; n_particles →
``particles.n_particles``. A table dimension is named by the last part of the path (``mass``),
or by the whole path when two parameters share it.

Each run is one task (on a Dask ``LocalCluster``, a given client or scheduler address, or, with
``workers=0``, in this process without Dask) that writes ``<out_dir>/run_<k>_<param=value...>.h5``
(root attributes ``sweep_parameters``, ``sweep_spec``: JSON). The summaries gather into
``<out_dir>/sweep.nc`` (h5netcdf), and into a figure where ``figure=`` asks for one
(:mod:`pdeflow.plot_sweep`; ``pdeflow sweep`` writes ``<out_dir>/sweep.png``). Run again into the
same ``out_dir``, a sweep reads the complete runs (finished or blow-up) instead of running them.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._version import __version__
from .errors import PdeflowError, StorageError

SHORT_NAMES = {
    "mass": "initial.mass", "cov": "initial.cov", "cells": "grid.cells", "chi": "parameters.chi",
    "D": "parameters.D", "m": "parameters.m", "gamma": "parameters.gamma", "t_end": "run.t_end",
    "snapshots": "run.snapshots", "n_particles": "particles.n_particles",
}
COMPLETE = ("finished", "blow-up")
SUMMARIES = ("final_time", "mass_drift", "final_energy", "final_second_moment", "blowup_time",
             "blowup_threshold", "blowup_time_max_density", "blowup_time_second_moment", "wall_time")
INSTALL = "pip install '.[dask]'  (or: pip install 'dask[distributed]' xarray h5netcdf)"


class SweepWarning(RuntimeWarning):
    """A run of a sweep failed (twice); the others go on."""


def sweep(
    spec,
    parameters: dict[str, list],
    seeds: int | list[int] | None = None,
    client=None,
    mode: str = "product",
    out_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    metrics: dict[str, Callable] | None = None,
    progress: bool = True,
    resume: bool = True,
    overwrite: bool = False,
    figure: str | os.PathLike | None = None,
):
    """Run ``spec`` for every combination of ``parameters`` (and seed); one summary row per run.

    Parameters
    ----------
    spec : str, path or dict
        A preset name, a ``.toml`` spec or a spec dict (:func:`pdeflow.spec.load_spec`).
    parameters : dict
        ``{name: values}``, a name short or a dotted path (module docstring); may be empty with
        ``seeds``.
    seeds : int or list of int, optional
        An ensemble: ``N`` means seeds ``0..N-1``, set as the ``seed`` option of every
        stochastic method of the spec (``particles``); adds a ``seed`` dimension.
    client : dask.distributed.Client or str, optional
        An existing client, or a scheduler address (``"tcp://host:8786"``).
    mode : "product" or "zip"
        Every combination (one dimension per parameter), or the i-th values together
        (equal lengths; one dimension ``run`` with the parameters as coordinates).
    out_dir : path, optional
        Folder of the run files and the table (default ``./sweep-<spec name>``).
    workers : int, optional
        Workers of the ``LocalCluster`` (default 2, one thread each); ``0`` runs serially here.
    metrics : dict, optional
        ``{name: f}``, ``f(trajectory) -> float``, evaluated after each run (picklable).
    progress : bool
        A progress bar over finished runs.
    resume, overwrite : bool
        Continue unfinished runs of an earlier sweep from their last snapshot (``resume=False``:
        restart them); run everything again, replacing the files (``overwrite=True``).
    figure : path, optional
        Also draw the table (:func:`pdeflow.plot_sweep.plot_sweep`) into this PNG; ``pdeflow
        sweep`` writes ``<out_dir>/sweep.png``.

    Returns
    -------
    xarray.Dataset
        ``status``, ``error``, ``file``, ``reused`` and the float summaries ``final_time``,
        ``mass_drift`` (``max |M(t) − M(0)| / M(0)``), ``final_energy``, ``final_second_moment``,
        ``blowup_time`` (NaN when none), ``wall_time`` and each metric, over the swept
        parameters (and ``seed``, and ``solver``, the method, when the spec runs several; not
        named ``method``, a keyword of ``Dataset.sel``). A run that raises is tried once more;
        failing again, it is a ``failed`` row with its ``error`` and a :class:`SweepWarning`.
    """
    from .spec import load_spec
    from .storage import write_table

    if not parameters and (seeds is None or mode == "zip"):
        raise PdeflowError("give parameters={name: values, ...} (or only seeds=, for an ensemble)")
    if mode not in ("product", "zip"):
        raise PdeflowError(f"mode must be 'product' or 'zip', got {mode!r}")
    if client is not None and workers is not None:
        raise PdeflowError("give either client= (an existing cluster) or workers=, not both")
    xr = _require("xarray", "h5netcdf")
    base = load_spec(spec)
    dims, paths, values = _resolve(base, parameters, mode)
    points, seed_list = _points(base, dims, values, mode, seeds)
    name = Path(str(spec)).stem if isinstance(spec, str | os.PathLike) else "spec"
    out = Path(out_dir if out_dir is not None else f"sweep-{name}").absolute()
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for k, point in enumerate(points):
        run = _with_values(base, {paths[d]: v for d, v in point.items() if d != "seed"},
                           point.get("seed"))
        label = "_".join(f"{d}={_fmt(v)}" for d, v in point.items())
        path = out / re.sub(r"[^A-Za-z0-9.+=_-]", "-", f"run_{k:03d}_{label}.h5")
        if not overwrite and _stored_spec(path) not in (None, json.dumps(run, sort_keys=True)):
            raise PdeflowError(f"{path} holds a run of another spec; pass overwrite=True or "
                               "another out_dir=")
        jobs.append((run, point, str(path)))
    rows = _execute(jobs, client, workers, resume, overwrite, metrics or {}, progress, base)
    for (_, point, _), row in zip(jobs, rows, strict=True):
        if (first := row[base["run"]["methods"][0]])["status"] == "failed":
            params = ", ".join(f"{d}={v}" for d, v in point.items())
            warnings.warn(f"run ({params}) failed twice: {first['error']}", SweepWarning, stacklevel=2)
    table = _table(xr, base, dims, paths, values, seed_list, mode, jobs, rows, metrics or {})
    write_table(table, out / "sweep.nc")
    if figure is not None:
        from .plot_sweep import plot_sweep

        plot_sweep(table, figure)
    return table


# -- the grid of runs ----------------------------------------------------------------------------
def _resolve(base: dict, parameters: dict, mode: str):
    from .spec import validate_spec

    if not isinstance(parameters, dict):
        raise PdeflowError(f"parameters must be a dict {{name: values}}, got {parameters!r}")
    paths = [SHORT_NAMES.get(n, n) for n in parameters]
    last = [p.rsplit(".", 1)[-1] for p in paths]
    dims = [t if last.count(t) == 1 and t not in ("seed", "solver", "run") else p
            for t, p in zip(last, paths, strict=True)]
    values = []
    for given, path in zip(parameters, paths, strict=True):
        vals = parameters[given]
        if not isinstance(vals, list | tuple | range | np.ndarray) or len(vals) == 0:
            raise PdeflowError(f"parameter {given!r} needs a non-empty list of values, got {vals!r}")
        vals = [getattr(v, "tolist", lambda v=v: v)() for v in vals]  # NumPy values as Python's
        head = path.split(".")[0]
        if "." not in path or head in ("equation", "description"):
            raise PdeflowError(f"parameter {given!r} is neither a short name ({', '.join(SHORT_NAMES)}) "
                               "nor a dotted path into the spec such as 'initial.mass'")
        if not isinstance(base.get(head), dict) and head not in base["run"]["methods"]:
            raise PdeflowError(f"parameter {given!r} sets [{head}], which is not a table of this "
                               f"spec nor one of its methods {base['run']['methods']}")
        if mode == "product" and len({json.dumps(v) for v in vals}) < len(vals):
            raise PdeflowError(f"parameter {given!r} lists a value twice: {vals}")
        errors = []
        for v in vals:  # a name that fails for every value is a wrong name, not a wrong value
            try:
                validate_spec(_with_values(base, {path: v}))
            except PdeflowError as err:
                errors.append(str(err))
        if len(errors) == len(vals):
            raise PdeflowError(f"parameter {given!r} fails for every value: {errors[0]}")
        values.append(vals)
    if mode == "zip" and len({len(v) for v in values}) > 1:
        raise PdeflowError("mode='zip' needs equally many values per parameter, got "
                           + ", ".join(f"{d}: {len(v)}" for d, v in zip(dims, values, strict=True)))
    return dims, dict(zip(dims, paths, strict=True)), values


def _stochastic(names: list[str]) -> list[str]:
    """The methods declared ``stochastic`` (they take a ``seed``)."""
    from .solvers import methods

    declared = methods()
    return [m for m in names if m in declared and declared[m].stochastic]


def _points(base: dict, dims, values, mode, seeds) -> tuple[list[dict], list | None]:
    """Every run's ``{dim: value}`` (product or zip; the seed varies fastest) and the seeds."""
    combos = zip(*values, strict=True) if mode == "zip" else itertools.product(*values)
    points = [dict(zip(dims, c, strict=True)) for c in combos]
    if seeds is None:
        return points, None
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds or not _stochastic(base["run"]["methods"]):
        raise PdeflowError(f"seeds={seeds!r} needs a positive count and a stochastic method "
                           f"(particles); this spec runs {base['run']['methods']}")
    return [{**p, "seed": s} for p in points for s in seeds], seeds


def _with_values(base: dict, values: dict, seed: int | None = None) -> dict:
    """A copy of ``base`` with each dotted path set (and ``seed`` for the stochastic methods)."""
    import copy

    spec = copy.deepcopy(base)
    for path, value in values.items():
        *tables, key = path.split(".")
        node = spec
        for t in tables:
            node = node.setdefault(t, {})
            if not isinstance(node, dict):
                raise PdeflowError(f"parameter {path!r}: {t} is a value in the spec, not a table")
        node[key] = value
    for m in _stochastic(spec["run"]["methods"]) if seed is not None else ():
        spec.setdefault(m, {})["seed"] = seed
    return spec


def _fmt(value) -> str:
    """A value in a file name: 6 digits for floats, ``32x64`` for lists."""
    return f"{value:.6g}" if isinstance(value, float) else "x".join(map(_fmt, value)) if isinstance(
        value, list) else str(value)


def _stored_spec(path: Path) -> str | None:
    """The ``sweep_spec`` attribute of a run file; None when there is no readable file."""
    from .storage import root_attributes

    try:
        return root_attributes(path).get("sweep_spec")
    except StorageError:
        return None


# -- running -------------------------------------------------------------------------------------
def _execute(jobs, client, workers, resume, overwrite, metrics, progress, base) -> list[dict]:
    from tqdm.auto import tqdm

    rows: list = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc="sweep", unit="run", disable=not progress)

    def record(k: int, result: dict | None, error: Exception | None = None) -> None:
        if error is not None:
            text = f"{type(error).__name__}: {error}"
            result = {m: {"status": "failed", "error": text} for m in base["run"]["methods"]}
        rows[k] = result
        bar.update()

    try:
        if client is None and workers == 0:
            for k, (spec, point, path) in enumerate(jobs):
                for attempt in (0, 1):  # one retry, as for the Dask tasks
                    try:
                        record(k, run_one(spec, point, path, resume, overwrite, metrics))
                        break
                    except Exception as err:
                        if attempt:
                            record(k, None, err)
        else:
            _execute_dask(jobs, client, workers, resume, overwrite, metrics, base, record)
    finally:
        bar.close()
    return rows


def _execute_dask(jobs, client, workers, resume, overwrite, metrics, base, record) -> None:
    distributed = _require("dask.distributed")
    owned = []  # what this call starts, it closes
    if client is None or isinstance(client, str):
        cluster = client or local_cluster(2 if workers is None else workers)
        client = distributed.Client(cluster)
        owned = [client, *([] if isinstance(cluster, str) else [cluster])]
    futures = {}
    try:
        client.run(warm_up, base)
        for k, (spec, point, path) in enumerate(jobs):
            future = client.submit(run_one, spec, point, path, resume, overwrite, metrics,
                                   retries=1, pure=False)
            futures[future] = k
        for future in distributed.as_completed(list(futures)):
            if future.status == "finished":
                record(futures[future], future.result())
            else:  # "error" (raised twice, or its worker died twice) or "cancelled"
                error = future.exception() if future.status == "error" else None
                record(futures[future], None, error or RuntimeError(f"task {future.status}"))
            future.release()
    finally:
        for f in futures:
            f.cancel()
        for obj in owned:
            obj.close()


def local_cluster(workers: int = 2):
    """The ``LocalCluster`` of :func:`sweep`: ``workers`` processes of one (Numba) thread each.

    Without Dask's ``MALLOC_TRIM_THRESHOLD_ = 65536``, which freezes glibc's mmap threshold (every
    array of 128 KiB or more is then mmap-ed, page-faulted and unmapped: a 128² Keller–Segel run
    takes twice as long); this process's environ, which the nanny writes into, is put back."""
    import logging

    import dask

    distributed = _require("dask.distributed")
    environ = dict(os.environ)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), \
                warnings.catch_warnings():  # its HTTP server (health checks) takes any free port
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            return distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.CRITICAL, env={"NUMBA_NUM_THREADS": "1"})
    finally:
        os.environ.clear()
        os.environ.update(environ)


def warm_up(spec: dict) -> str:
    """Compile (or load from Numba's cache) the kernels of ``spec``'s methods: a short run on the
    spec's own grid (a coarser one may trip the blow-up check), with 256 particles at most."""
    from .solvers import solve
    from .spec import build_problem

    try:
        problem = build_problem(spec)
        for m in spec["run"]["methods"]:
            options = dict(spec.get(m, {}))
            if m == "particles":
                options["n_particles"] = min(256, options.get("n_particles", 256))
            solve(problem, 1e-3 * spec["run"]["t_end"], method=m, snapshots=2, progress=False,
                  **options)
        return "ok"
    except Exception as err:  # the runs themselves report real problems
        return f"warm-up failed: {err}"


def run_one(spec: dict, point: dict, path: str, resume: bool = True, overwrite: bool = False,
            metrics: dict | None = None) -> dict[str, dict]:
    """One run of a sweep (a task): run ``spec`` into ``path`` unless it is complete there.

    Returns ``{method: summary}`` (see :func:`summarize`) with ``reused``: whether the file was
    complete and only read. Raises what the run raises (the caller records and retries it).
    """
    from .spec import run_spec, validate_spec
    from .storage import create_file, load

    stamp = json.dumps(spec, sort_keys=True)
    spec = validate_spec(spec, source=f"run {Path(path).name}")
    methods, path_ = spec["run"]["methods"], Path(path)
    runs, reused = {}, False
    if path_.exists() and not overwrite:
        try:
            runs = load(path_)
        except PdeflowError:
            runs = {}
    if runs and all(m in runs and runs[m].status in COMPLETE for m in methods):
        reused = True
    else:
        resumable = resume and runs and all(len(t) > 0 for t in runs.values())
        if not resumable:
            path_.unlink(missing_ok=True)
            path_.with_suffix(".xmf").unlink(missing_ok=True)
            create_file(path_, {"sweep_parameters": json.dumps(point), "sweep_spec": stamp})
        runs = run_spec(spec, path_, progress=False, resume=bool(resumable))
    return {m: {**summarize(runs[m], metrics), "reused": reused} for m in methods}


def summarize(traj, metrics: dict[str, Callable] | None = None) -> dict:
    """One run's summary (see :func:`sweep`; ``wall_time``: the solver's, of its last session);
    a metric that raises gives NaN and an ``error``."""
    nan = math.nan
    last = {k: float(v[-1]) if len(v) else nan for k, v in traj.diagnostics.items()}
    mass = np.asarray(traj.diagnostics.get("mass", [nan]), dtype=float)
    row = {
        "status": traj.status, "error": "", "final_time": float(traj.times[-1]) if len(traj) else nan,
        "mass_drift": float(np.max(np.abs(mass - mass[0])) / abs(mass[0])) if len(mass) else nan,
        "final_energy": last.get("energy", nan), "final_second_moment": last.get("second_moment", nan),
        "blowup_time": float(traj.meta.get("blowup_time", nan)), "wall_time": float(traj.wall_time),
        "blowup_threshold": float(traj.meta.get("blowup_threshold", nan)),
        "blowup_time_max_density": float(traj.meta.get("blowup_time_max_density", nan)),
        "blowup_time_second_moment": float(traj.meta.get("blowup_time_second_moment", nan)),
    }
    for name, metric in (metrics or {}).items():
        try:
            row[name] = float(metric(traj))
        except Exception as err:
            row[name] = nan
            row["error"] += f"metric {name!r} failed: {type(err).__name__}: {err}; "
    return row


# -- the table -----------------------------------------------------------------------------------
def _table(xr, base, dims, paths, values, seeds, mode, jobs, rows, metrics):
    methods = base["run"]["methods"]
    names = ["run"] if mode == "zip" else list(dims)
    shape = [len(values[0])] if mode == "zip" else [len(v) for v in values]  # C order of jobs
    coords = {"run": np.arange(shape[0])} if mode == "zip" else {}
    for d, vals in zip(dims, values, strict=True):
        if not all(isinstance(v, int | float | str) and not isinstance(v, bool) for v in vals):
            vals = [json.dumps(v) for v in vals]  # lists (cells per axis, ...) as their JSON
        coords[d] = ("run", vals) if mode == "zip" else vals
    if seeds is not None:
        names, shape, coords["seed"] = [*names, "seed"], [*shape, len(seeds)], seeds
    files = np.asarray([Path(path).name for _, _, path in jobs], dtype=str).reshape(shape)
    data = {"file": (list(names), files)}
    if len(methods) > 1:
        names, shape, coords["solver"] = [*names, "solver"], [*shape, len(methods)], methods
    for key in ("status", "error", "reused", *SUMMARIES, *metrics):
        blank = {"status": "failed", "error": "", "reused": False}.get(key, math.nan)
        flat = [row[m].get(key, blank) for row in rows for m in methods]
        dtype = str if key in ("status", "error") else bool if key == "reused" else float
        data[key] = (names, np.asarray(flat, dtype=dtype).reshape(shape))
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(spec=json.dumps(base, sort_keys=True), mode=mode, parameters=json.dumps(paths),
                    methods=json.dumps(methods), pdeflow_version=__version__,
                    mass_drift="max |M(t) - M(0)| / M(0)",
                    blowup_time="when max density crossed blowup_threshold (grid-dependent); NaN: no "
                                "blow-up",
                    blowup_time_max_density="1/max density extrapolated to 0 (pdeflow.blowup)",
                    blowup_time_second_moment="second moment extrapolated to 0: an upper bound")
    return ds


# -- reading the table ---------------------------------------------------------------------------
def format_table(ds) -> str:
    """The sweep table as text: one line per run (and method), a failed run with its error."""
    frame = ds.drop_vars(["reused", "file"]).to_dataframe().reset_index()
    columns = sorted((c for c in frame.columns if c != "error"), key=lambda c: c not in ds.coords)
    columns += ["error"] if any(frame["error"]) else []
    return frame[columns].to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.6g}")


def _require(*modules: str):
    """Import ``modules``; the first, or a :class:`PdeflowError` saying what to install."""
    import importlib

    try:
        return [importlib.import_module(m) for m in modules][0]
    except ImportError as err:
        raise PdeflowError(f"pdeflow.sweep needs {err.name or modules[0]}, which is not installed; "
                           f"{INSTALL}") from err
