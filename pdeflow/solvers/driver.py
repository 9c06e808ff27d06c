"""The run every method shares: snapshots, diagnostics, storage, progress and events.

A method provides a stepper (:class:`~pdeflow.solvers.stepper.Stepper`; the time loop between
two snapshots is :meth:`StepperBase.advance <pdeflow.solvers.stepper.StepperBase.advance>`).
The driver records the initial state, advances to each snapshot time, streams each snapshot to
the :class:`~pdeflow.storage.RunWriter` and the :class:`~pdeflow.trajectory.Trajectory`, and
closes the run with its status: ``finished``, ``blow-up``, ``interrupted`` (Ctrl-C, re-raised
after the file is closed) or ``failed``.
"""

from __future__ import annotations

import time as _time

import numpy as np
from tqdm.auto import tqdm

from ..blowup import blowup_estimates
from ..errors import PdeflowError, StorageError
from ..trajectory import BLOW_UP, FAILED, FINISHED, INTERRUPTED, Trajectory
from .stepper import BlowUp, Stepper


def run(stepper: Stepper, trajectory: Trajectory, times: np.ndarray, writer=None, progress=None,
        resumed: bool = False, observe=None):
    """Advance ``stepper`` through ``times`` (times[0] is its current time), recording snapshots.

    ``resumed``: the first time's snapshot is already in ``trajectory`` and the file.
    ``observe``: the problem's observables, ``observe(frame) -> (fields, diagnostics)`` with
    ``frame`` the stepper's fields and static arrays (``{"density": ρ}`` or
    ``{"position": X, "weight": w}``); what it returns is recorded with every snapshot.
    """
    recorder = _Observed(stepper, observe) if observe is not None else stepper
    start = _time.perf_counter()
    t_end = float(times[-1])
    show = progress if progress is not None else True
    bar = tqdm(
        total=t_end - float(times[0]), disable=not show, unit="t", leave=False,
        bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}]",
        mininterval=0.5, delay=1.0,
    )
    status = FAILED
    try:
        if not resumed:
            static = stepper.static()
            if "weight" in static:
                trajectory.weights = np.array(static["weight"], copy=True)
            if writer is not None:
                for name, value in static.items():
                    writer.set_static(name, value)
            _record(recorder, trajectory, writer)
        for t in times[1:]:
            stepper.advance(float(t))
            bar.update(float(t) - bar.n)
            _record(recorder, trajectory, writer)
        status = FINISHED
    except BlowUp as event:
        status = BLOW_UP
        trajectory.meta["blowup_time"] = event.t
        trajectory.meta["blowup_reason"] = event.reason
        _record(recorder, trajectory, writer)  # the concentrated state at the blow-up time
        threshold = stepper.blowup_density
        if np.isfinite(threshold):
            trajectory.meta["blowup_threshold"] = float(threshold)  # max ρ that stopped the run
        d = trajectory.diagnostics
        trajectory.meta.update(blowup_estimates(trajectory.times, d.get("second_moment"),
                                                d.get("max_density")))
    except (ArithmeticError, np.linalg.LinAlgError, RuntimeError) as err:
        if isinstance(err, NotImplementedError | RecursionError):
            raise
        # a step broke down numerically (overflow, a singular matrix, ...): say so, with the cause
        message = " ".join(str(err).split())[:200] or "no message"
        raise PdeflowError(
            f"{trajectory.method} stopped at t={stepper.t:.4g}: the step failed numerically "
            f"({type(err).__name__}: {message}); check the magnitudes of the parameters (mass, D, "
            "chi, V, the grid) or take smaller steps"
        ) from err
    except KeyboardInterrupt:
        status = INTERRUPTED
        raise
    finally:
        bar.close()
        trajectory.status = status
        trajectory.meta["wall_time"] = _time.perf_counter() - start
        trajectory.meta["steps"] = int(stepper.steps)
        trajectory.meta.update(stepper.step_statistics())
        trajectory.meta.update(stepper.summary())
        if writer is not None:
            extra = {k: v for k, v in trajectory.meta.items() if k not in ("problem", "options")}
            try:
                writer.close(status, **extra)
            except StorageError:
                if status not in (FAILED, INTERRUPTED):
                    raise
                # the run's own error (a failed write, Ctrl-C, ...) is on its way: it says more
    return trajectory


class _Observed:
    """What is recorded of a stepper whose snapshots also carry the problem's observables."""

    def __init__(self, stepper, observe):
        self._stepper = stepper
        self._observe = observe
        self._static = stepper.static()
        self._cache: tuple | None = None

    @property
    def t(self) -> float:
        return self._stepper.t

    def checkpoint(self):
        return self._stepper.checkpoint()

    def _observed(self):
        key = (self._stepper.t, self._stepper.steps)
        if self._cache is None or self._cache[0] != key:
            fields = self._stepper.fields()
            self._cache = (key, fields, *self._observe({**fields, **self._static}))
        return self._cache[1:]

    def fields(self):
        fields, extra, _ = self._observed()
        return {**fields, **extra}

    def diagnostics(self):
        _, _, extra = self._observed()
        return {**self._stepper.diagnostics(), **extra}


def _record(stepper, trajectory: Trajectory, writer) -> None:
    """One snapshot: into the file first, then into the trajectory (which, for a run with a
    store, only counts the frame: it reads frames back from the file)."""
    fields = stepper.fields()
    diagnostics = stepper.diagnostics()
    if writer is not None:
        checkpoint = stepper.checkpoint()
        writer.append(stepper.t, fields, diagnostics, checkpoint=checkpoint)
    trajectory.append(stepper.t, fields, diagnostics)
