"""Solvers: each method turns a :class:`~pdeflow.problems.Problem` into a stepper; one driver
runs them all. ``solve`` is the single entry point."""

from __future__ import annotations

import importlib
import os
import pkgutil
import warnings

import numpy as np

from ..domain import is_grid
from ..errors import PdeflowError
from ..storage import RunWriter, check_writable, has_run, read_group
from ..trajectory import BLOW_UP, FINISHED, INTERRUPTED, Trajectory
from . import driver
from .method import Method

_METHODS: dict[str, Method] = {}
_DISCOVERED: list[bool] = []


def register_method(method: Method, replace: bool = False) -> Method:
    """Make ``method`` available to :func:`solve`, specs, the command line and sweeps.

    The built-in methods need no call: every public module of this package that declares a
    ``METHOD`` is found (:func:`methods`). ``replace=True`` replaces a method of the same name.
    """
    _discover()
    if not isinstance(method, Method):
        raise PdeflowError(f"register_method takes a pdeflow.Method, got {type(method).__name__}")
    if method.name in _METHODS and _METHODS[method.name] is not method and not replace:
        raise PdeflowError(f"a method named {method.name!r} exists; pass replace=True to replace it")
    _METHODS[method.name] = method
    return method


def unregister_method(name: str) -> None:
    """Remove the method ``name`` (a built-in one comes back only with a new session)."""
    _discover()
    _METHODS.pop(name, None)


def methods() -> dict[str, Method]:
    """The declared methods, ``{name: Method}`` sorted by name."""
    _discover()
    return dict(sorted(_METHODS.items()))


def get_method(name: str) -> Method:
    """The method called ``name``; a :class:`PdeflowError` listing the others when unknown."""
    known = methods()
    if not isinstance(name, str) or name not in known:
        raise PdeflowError(f"unknown method {name!r}; available: {', '.join(known)}")
    return known[name]


def available_methods() -> list[str]:
    """The names of the declared methods, sorted."""
    return list(methods())


def _discover() -> None:
    """Import every public module of this package once and register the ``METHOD`` it declares."""
    if _DISCOVERED:
        return
    _DISCOVERED.append(True)
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            declared = getattr(importlib.import_module(f"{__name__}.{info.name}"), "METHOD", None)
            if isinstance(declared, Method):
                _METHODS.setdefault(declared.name, declared)


def unsupported(problem, method: str) -> str | None:
    """Why ``method`` cannot solve ``problem``, in words; None when it can.

    A method declares its own ``requires``; without one it solves the problems on a
    :class:`~pdeflow.Grid` (or without a grid: a network given by its neurons). Only the methods
    declared with ``reaction=True`` solve Fisher–Rao and Wasserstein–Fisher–Rao flows.
    """
    declared = get_method(method)
    if getattr(problem, "kinetic", False) != declared.kinetic:
        able = " or ".join(f"method={m!r}" for m, d in methods().items()
                           if d.kinetic == getattr(problem, "kinetic", False))
        what = ("a kinetic problem (a density f(θ, v) on phase space)"
                if declared.kinetic is False else "a gradient flow of ρ, not a kinetic problem")
        return f"method {method!r} cannot solve {what}; use {able}"
    grid = problem.grid
    if not declared.kinetic and is_grid(grid) and grid.ndim > 3:
        return (f"method {method!r} solves gradient flows on grids of 1 to 3 axes, this grid has "
                f"{grid.ndim}; 4 axes are the phase space (θ1, θ2, v1, v2) of a kinetic problem "
                "(pf.problems.kinetic_fokker_planck, method='kinetic')")
    metric = problem.metric
    if (metric.reaction or not metric.transport) and not declared.reaction:
        able = " or ".join(f"method={m!r}" for m, d in methods().items() if d.reaction)
        return (f"method {method!r} solves Wasserstein gradient flows; a "
                f"{type(metric).__name__} flow runs with {able}")
    if declared.requires is not None:
        return declared.requires(problem)
    if grid is not None and not is_grid(grid):
        others = [m for m, d in methods().items() if d.requires is not None
                  and d.requires(problem) is None]
        return (f"method={method!r} needs a problem on a pf.Grid, got {type(grid).__name__}; "
                f"use {' or '.join(f'method={m!r}' for m in others) or 'a grid'} on meshes")
    return None


def check_methods(problem, names) -> None:
    """Raise one :class:`PdeflowError` naming every method of ``names`` that cannot solve
    ``problem`` (and why), before the first one runs."""
    known = methods()
    unknown = [m for m in names if m not in known]
    if unknown:
        raise PdeflowError(f"unknown method(s) {unknown}; available: {', '.join(known)}")
    reasons = [f"{m}: {why}" for m in names if (why := unsupported(problem, m))]
    if reasons:
        usable = [m for m in known if unsupported(problem, m) is None]
        raise PdeflowError(f"{'; '.join(reasons)} (methods that solve this problem: "
                           f"{', '.join(usable)}); nothing was run")


def solve(
    problem,
    t_end: float,
    method: str = "fv",
    snapshots: int | np.ndarray = 11,
    store: str | os.PathLike | None = None,
    name: str | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    resume: bool = False,
    client=None,
    **options,
) -> Trajectory:
    """Solve the gradient flow ``∂t ρ = ∇·(ρ ∇ δE/δρ)`` of ``problem`` on ``[0, t_end]``.

    Parameters
    ----------
    problem : Problem
        Free energy, grid and initial density (``pf.problems.*``).
    t_end : float
        Final time (> 0).
    method : str
        A name of :func:`methods`: "fv" (finite volumes), "particles", "jko", "fem".
    snapshots : int or array
        Number of equally spaced snapshot times including 0 and ``t_end``, or the times.
    store : path, optional
        HDF5 file; every snapshot is appended and flushed as it is computed.
    name : str, optional
        Group name in the file (default: the method name).
    overwrite : bool
        Replace an existing run of the same name in ``store``.
    progress : bool, optional
        Progress bar (shown by default for runs longer than a second).
    resume : bool
        Continue the run ``name`` in ``store`` from its last complete snapshot, with its stored
        options (a finished run is returned as it is; a missing one is started). Deterministic
        methods then produce the snapshots an uninterrupted run would have, to round-off.
    **options
        Method options, declared by each method (``pf.methods()["fv"].options``, e.g.
        :class:`pdeflow.solvers.fv.FiniteVolumeOptions`). Unknown options raise, listing the
        valid ones with their defaults.
    client : dask.distributed.Client or str, optional
        Run ``method="particles"`` with its particles partitioned over the workers of this Dask
        cluster (or of the scheduler at this address): particle–mesh, Brownian noise, potentials
        (:mod:`pdeflow.solvers.particles_dask`; option ``partitions``, default one per worker).

    Returns
    -------
    Trajectory
        Status "finished", or "blow-up" with ``meta["blowup_time"]``.
    """
    declared = get_method(method)
    why = unsupported(problem, method)
    if why is not None:
        raise PdeflowError(why)
    t_end = float(t_end)
    if not np.isfinite(t_end) or t_end <= 0:
        raise PdeflowError(f"t_end must be a positive number, got {t_end}")
    times = _snapshot_times(snapshots, t_end)
    name = name or method
    if resume and store is None:
        raise PdeflowError("resume=True needs store=, the file of the run to continue")
    if client is None:
        return _solve(problem, t_end, method, times, store, name, overwrite, progress, resume,
                      declared.build, options)
    from .particles_dask import DaskRun

    with DaskRun(client, method) as dask_run:
        return _solve(problem, t_end, method, times, store, name, overwrite, progress, resume,
                      dask_run.build, options)


def _solve(problem, t_end, method, times, store, name, overwrite, progress, resume, build,
           options) -> Trajectory:
    """:func:`solve` once the times are known; ``build(problem, t_end, options)`` makes the
    stepper (the method's own, or its distributed variant)."""
    declared = get_method(method)
    if resume and has_run(store, name):
        return _resume(problem, t_end, method, times, store, name, progress, options, build)
    if store is not None:
        check_writable(store, name, overwrite)
    requested = declared.options.from_dict(options)
    stepper = build(problem, t_end, requested)
    trajectory = Trajectory(method=method, grid=problem.grid)
    trajectory.meta["options"] = dict(stepper.options if stepper.options is not None
                                      else requested.to_dict())
    trajectory.meta["problem"] = problem.describe()
    writer = None
    if store is not None:
        writer = RunWriter(
            store, name, method=method, grid=trajectory.grid, problem=problem.describe(),
            options=trajectory.meta["options"], overwrite=overwrite,
            axis_names=problem.axis_names if problem.kinetic else None,
            field_axes=problem.field_axes,
        )
        trajectory.frame_store = writer.frames  # frames stay on disk, read back when asked for
    else:
        check_memory(stepper, len(times))
    return driver.run(stepper, trajectory, times, writer=writer, progress=progress,
                      observe=problem.observe)


def _resume(problem, t_end, method, times, store, name, progress, options, build) -> Trajectory:
    writer = RunWriter.reopen(store, name)
    try:
        previous = read_group(writer.group)
        for frames in previous.frames.values():
            frames.live = writer.open_group  # read through the writer's handle while it is open
        previous.status = writer.previous_status  # reopen marked it running
        n = writer.n
        if previous.method != method:
            raise PdeflowError(f"run '{name}' in {store} is a {previous.method} run, not {method}")
        if previous.status in (FINISHED, BLOW_UP):
            writer.close(previous.status)
            return previous
        if len(times) < n or not np.allclose(times[:n], previous.times[:n], rtol=0, atol=1e-12):
            raise PdeflowError(
                f"run '{name}' in {store} has snapshots at {previous.times[:n].tolist()}, which are "
                "not the first snapshot times of this call; pass the same t_end and snapshots"
            )
        stored = dict(previous.meta.get("options") or {})
        if options and any(stored.get(k) != v for k, v in options.items()):
            raise PdeflowError(
                f"resume uses the stored options {stored}; got different ones {options}"
            )
        declared = get_method(method)
        stepper = build(problem, t_end, declared.options.from_dict(stored))
        checkpoint = writer.checkpoint
        if checkpoint is not None and checkpoint.get("frame") != n - 1:
            checkpoint = None  # it belongs to a later snapshot, cut from the file since
        # restore returns False when it cannot continue without the snapshot's checkpoint
        restored = n > 0 and stepper.restore(
            float(previous.times[n - 1]),
            {key: frames[n - 1] for key, frames in previous.frames.items()},
            checkpoint,
        ) is not False
    except BaseException:
        writer.close(INTERRUPTED)
        raise
    if not restored:  # nothing to continue from: start again
        writer.close(previous.status)
        why = (f"run '{name}' in {store} has no complete snapshot; it" if n == 0 else
               f"method {method!r} cannot continue from a snapshot; run '{name}' in {store}")
        warnings.warn(f"{why} starts again from t = 0", UserWarning, stacklevel=3)
        return _solve(problem, t_end, method, times, store, name, True, progress, False, build,
                      stored)
    trajectory = Trajectory(
        method=method, grid=previous.grid, times=previous.times[:n],
        frames={k: v[:n] for k, v in previous.frames.items()}, frame_store=writer.frames,
        diagnostics={k: v[:n] for k, v in previous.diagnostics.items()},
        meta={**previous.meta, "resumed_from": float(previous.times[n - 1])},
        weights=previous.weights,
    )
    return driver.run(stepper, trajectory, times[n - 1:], writer=writer, progress=progress,
                      resumed=True, observe=problem.observe)


def check_memory(stepper, snapshots: int, available: int | None = None) -> None:
    """Refuse, before the run, one without a store whose frames would not fit in memory: the
    stepper's fields at t = 0 times ``snapshots``, against 80 % of the available memory."""
    frame = sum(np.asarray(v).nbytes for v in stepper.fields().values())
    available = _available_memory() if available is None else available
    need = frame * snapshots
    if available is not None and need > 0.8 * available:
        raise PdeflowError(
            f"{snapshots} snapshots of {frame / 2**20:.4g} MiB would hold {need / 2**30:.3g} GiB in "
            f"memory, more than the {available / 2**30:.3g} GiB available; pass store='run.h5' to "
            "keep the frames on disk (read back one at a time), or take fewer snapshots"
        )


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _snapshot_times(snapshots, t_end: float) -> np.ndarray:
    if np.ndim(snapshots) == 0:
        n = int(snapshots)
        if n < 2:
            raise PdeflowError(f"snapshots must be >= 2 (initial and final), got {snapshots}")
        return np.linspace(0.0, t_end, n)
    times = np.asarray(snapshots, dtype=float)
    if times.ndim != 1 or times[0] != 0 or np.any(np.diff(times) <= 0) or times[-1] > t_end:
        raise PdeflowError(
            "snapshot times must be increasing, start at 0 and end at or before t_end"
        )
    return times
