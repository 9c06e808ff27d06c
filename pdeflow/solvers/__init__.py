"""Solvers: each method turns a :class:`~pdeflow.problems.Problem` into a stepper; one driver
runs them all. ``solve`` is the single entry point."""

from __future__ import annotations

import os
import warnings

import numpy as np

from ..errors import PdeflowError
from ..storage import RunWriter, check_writable, has_run, read_group
from ..trajectory import BLOW_UP, FINISHED, INTERRUPTED, Trajectory
from . import driver

_METHODS: dict = {}


def register(name: str):
    """Register a stepper factory ``factory(problem, **options) -> stepper`` under ``name``."""

    def decorate(factory):
        _METHODS[name] = factory
        return factory

    return decorate


_REQUIREMENTS: dict = {}


def requirement(name: str):
    """Register ``check(problem) -> str | None`` for method ``name``: why the method cannot solve
    ``problem`` (None: it can). :func:`check_methods` asks it before any run starts."""

    def decorate(check):
        _REQUIREMENTS[name] = check
        return check

    return decorate


def low_rank_refusal(problem, method: str) -> str | None:
    """The words for a method without low-rank interactions (the mean-field network), or None."""
    if problem.energy.low_rank:
        return (f"method={method!r} does not support low-rank interactions (the mean-field "
                "network); use method='fv' or method='particles'")
    return None


def unsupported(problem, method: str) -> str | None:
    """Why ``method`` cannot solve ``problem``, in words; None when it can.

    A method that registers no :func:`requirement` solves the problems on a :class:`~pdeflow.Grid`
    (fv, particles), and decides itself about a problem without one (a network given by its
    neurons: particles only).
    """
    from ..grid import Grid

    _load_all()
    metric = getattr(problem, "metric", None)
    if method != "fv" and metric is not None and (metric.reaction or not metric.transport):
        return (f"method {method!r} solves Wasserstein gradient flows; a "
                f"{type(metric).__name__} flow runs with method='fv'")
    check = _REQUIREMENTS.get(method)
    if check is not None:
        return check(problem)
    grid = getattr(problem, "grid", None)
    if grid is not None and not isinstance(grid, Grid):
        return (f"method={method!r} needs a problem on a pf.Grid, got {type(grid).__name__}; "
                "use method='fem' on meshes")
    return None


def check_methods(problem, methods) -> None:
    """Raise one :class:`PdeflowError` naming every method of ``methods`` that cannot solve
    ``problem`` (and why), before the first one runs."""
    _load_all()
    unknown = [m for m in methods if m not in _METHODS]
    if unknown:
        raise PdeflowError(f"unknown method(s) {unknown}; available: {', '.join(sorted(_METHODS))}")
    reasons = [f"{m}: {why}" for m in methods if (why := unsupported(problem, m))]
    if reasons:
        usable = [m for m in sorted(_METHODS) if unsupported(problem, m) is None]
        raise PdeflowError(f"{'; '.join(reasons)} (methods that solve this problem: "
                           f"{', '.join(usable)}); nothing was run")


def method_options(method: str) -> dict:
    """The options ``method`` accepts, ``{name: default}`` (None: chosen by the method at run
    time), read from the method module's ``DEFAULTS`` (or its ``KNOWN`` names)."""
    import importlib

    _load_all()
    if method not in _METHODS:
        raise PdeflowError(f"unknown method '{method}'; available: {', '.join(sorted(_METHODS))}")
    module = importlib.import_module(_METHODS[method].__module__)
    known = getattr(module, "DEFAULTS", None)
    if isinstance(known, dict):
        return dict(known)
    return dict.fromkeys(getattr(module, "KNOWN", ()))


def available_methods() -> list[str]:
    _load_all()
    return sorted(_METHODS)


def _load_all() -> None:
    from . import fv  # noqa: F401

    for optional in ("particles", "jko", "fem"):
        try:
            __import__(f"{__name__}.{optional}")
        except ModuleNotFoundError as err:
            if not err.name or not err.name.endswith(optional):
                raise


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
        "fv" (finite volume), and, where installed, "particles", "jko", "fem".
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
        Method options (see each method's stepper, e.g. :class:`pdeflow.solvers.fv.FiniteVolume`).
        Unknown options raise.

    Returns
    -------
    Trajectory
        Status "finished", or "blow-up" with ``meta["blowup_time"]``.
    """
    _load_all()
    if method not in _METHODS:
        raise PdeflowError(
            f"unknown method '{method}'; available: {', '.join(sorted(_METHODS))}"
        )
    why = unsupported(problem, method)
    if why is not None:
        raise PdeflowError(why)
    t_end = float(t_end)
    if not np.isfinite(t_end) or t_end <= 0:
        raise PdeflowError(f"t_end must be a positive number, got {t_end}")
    times = _snapshot_times(snapshots, t_end)
    name = name or method
    if resume:
        if store is None:
            raise PdeflowError("resume=True needs store=, the file of the run to continue")
        if has_run(store, name):
            return _resume(problem, t_end, method, times, store, name, progress, options)
    if store is not None:
        check_writable(store, name, overwrite)
    stepper = _METHODS[method](problem, t_end=t_end, **options)
    trajectory = Trajectory(method=method, grid=getattr(problem, "grid", None))
    trajectory.meta["options"] = dict(getattr(stepper, "options", options))
    trajectory.meta["problem"] = problem.describe()
    writer = None
    if store is not None:
        writer = RunWriter(
            store, name, method=method, grid=trajectory.grid, problem=problem.describe(),
            options=trajectory.meta["options"], overwrite=overwrite,
        )
        trajectory.frame_store = writer.frames  # frames stay on disk, read back when asked for
    else:
        check_memory(stepper, len(times))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return driver.run(stepper, trajectory, times, writer=writer, progress=progress,
                          observe=getattr(problem, "observe", None))


def _resume(problem, t_end, method, times, store, name, progress, options) -> Trajectory:
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
        stepper = _METHODS[method](problem, t_end=t_end, **stored)
        checkpoint = writer.checkpoint
        if checkpoint is not None and checkpoint.get("frame") != n - 1:
            checkpoint = None  # it belongs to a later snapshot, cut from the file since
        # restore returns False when it cannot continue without the snapshot's checkpoint
        restored = n > 0 and hasattr(stepper, "restore") and stepper.restore(
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
        return solve(problem, t_end, method=method, snapshots=times, store=store, name=name,
                     overwrite=True, progress=progress, **stored)
    trajectory = Trajectory(
        method=method, grid=previous.grid, times=previous.times[:n],
        frames={k: v[:n] for k, v in previous.frames.items()}, frame_store=writer.frames,
        diagnostics={k: v[:n] for k, v in previous.diagnostics.items()},
        meta={**previous.meta, "resumed_from": float(previous.times[n - 1])},
        weights=previous.weights,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return driver.run(stepper, trajectory, times[n - 1:], writer=writer, progress=progress,
                          resumed=True, observe=getattr(problem, "observe", None))


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
