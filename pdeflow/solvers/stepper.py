"""What a stepper is, and the one time loop that advances every stepper to a snapshot time.

A *stepper* holds the state of one run of one method and takes single time steps; it knows
nothing of snapshots, files or progress bars (those are the :mod:`~pdeflow.solvers.driver`'s).
It satisfies :class:`Stepper`, most simply by subclassing :class:`StepperBase`, whose
:meth:`~StepperBase.advance` is the scaffold every method shares:

- the ``max_steps`` guard (before each step);
- ``step(remaining)``: the method's own step, at most ``remaining``; a step that would end
  within :data:`LANDING` of its length short of the target takes the rest (:func:`land`);
- the time update, landing exactly on the target, and the step statistics (``dt_min``,
  ``dt_max``, ``steps``);
- the finiteness and blow-up checks on ``peak_density()``: a non-finite peak is an error, a
  peak at or above ``blowup_density`` raises :class:`BlowUp` (the driver records the state and
  closes the run with status ``blow-up``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import PdeflowError

LANDING = 1e-9
"""A step that ends within this fraction of its length short of a snapshot time lands on it."""
MAX_STEPS = 10_000_000
"""The default ``max_steps`` of every method (a fixed step of t_end / 10⁷ is a mistake)."""
MAX_STEPS_LIMIT = 10**9
"""The largest ``max_steps`` a method accepts."""
BLOWUP_FRACTION = 0.1
"""Default blow-up threshold: this fraction of the mass in the smallest cell."""


class BlowUp(Exception):
    """Raised by a stepper when the density concentrates (finite-time blow-up)."""

    def __init__(self, t: float, reason: str):
        super().__init__(reason)
        self.t = t
        self.reason = reason


def land(dt: float, remaining: float) -> float:
    """The step to take: ``remaining`` when ``dt`` would stop within :data:`LANDING` · dt of it
    (or beyond it), else ``dt``."""
    return remaining if remaining - dt < LANDING * dt else dt


def default_blowup_density(mass: float, smallest_cell: float) -> float:
    """``0.1 · M / |cell|``: a tenth of the mass in one cell, concentration at the grid scale."""
    return BLOWUP_FRACTION * mass / smallest_cell


@runtime_checkable
class Stepper(Protocol):
    """The contract between a method and the driver (see the module docstring).

    Attributes ``t`` (current time) and ``steps`` (steps taken) are kept by :meth:`advance`.
    ``fields()`` returns the snapshot arrays (``{"density": ρ}`` or ``{"position": X}``),
    ``diagnostics()`` the per-snapshot scalars (mass, energy, ...), ``static()`` per-run arrays
    (particle weights), ``summary()`` run attributes for the file, ``checkpoint()`` the JSON-able
    state beyond the frame (a random generator's state) stored with every snapshot, and
    ``restore(t, fields, checkpoint)`` puts the stepper back at a stored snapshot (for resume),
    returning False when it cannot continue from it.
    """

    t: float
    steps: int
    options: dict | None

    def advance(self, t_target: float) -> None: ...
    def step(self, remaining: float) -> float: ...
    def fields(self) -> dict: ...
    def diagnostics(self) -> dict: ...
    def static(self) -> dict: ...
    def summary(self) -> dict: ...
    def checkpoint(self) -> dict | None: ...
    def restore(self, t: float, fields: dict, checkpoint: dict | None) -> bool | None: ...
    def step_statistics(self) -> dict: ...


class StepperBase:
    """A stepper's shared scaffold and no-op hooks; a method implements ``step``, ``fields`` and
    ``diagnostics`` (and ``restore`` to be resumable).

    Attributes
    ----------
    method : str
        The method's name, in messages.
    t, steps : float, int
        Current time and steps taken.
    dt_min, dt_max : float
        The smallest and largest step taken.
    max_steps : int
        Steps allowed in the whole run.
    max_steps_hint : str
        What to do when ``max_steps`` is reached (the method's words).
    blowup_density : float
        ``peak_density() >= blowup_density`` is blow-up (inf: never).
    peak_label : str
        What ``peak_density`` measures, in the blow-up reason.
    options : dict or None
        The options as the method resolved them (stored with the run; a resumed run is built
        from them); None: as requested.
    """

    method = "method"
    max_steps = MAX_STEPS
    max_steps_hint = "raise max_steps"
    blowup_density = np.inf
    peak_label = "max density"
    options: dict | None = None

    t: float = 0.0
    steps: int = 0
    dt_min: float = np.inf
    dt_max: float = 0.0

    def advance(self, t_target: float) -> None:
        """Step until ``t == t_target`` exactly (see the module docstring)."""
        self.begin(t_target)
        while self.t < t_target:
            if self.steps >= self.max_steps:
                raise PdeflowError(
                    f"{self.method} reached max_steps={self.max_steps} at t={self.t:.4g} before "
                    f"t={t_target:.4g}; {self.max_steps_hint}"
                )
            dt = self.step(t_target - self.t)
            end = self.t + dt
            self.t = t_target if t_target - end <= LANDING * dt else end
            self.steps += 1
            self.dt_min, self.dt_max = min(self.dt_min, dt), max(self.dt_max, dt)
            peak = self.peak_density()
            if peak is not None:
                if peak >= self.blowup_density:
                    raise BlowUp(self.t, f"{self.peak_label} {peak:.4g} >= {self.blowup_density:.4g}")
                if not np.isfinite(peak):
                    raise PdeflowError(f"{self.method} produced non-finite values at t={self.t:.4g}")
        self.end(t_target)

    # -- the method's part ---------------------------------------------------------------------
    def step(self, remaining: float) -> float:
        """Take one step of at most ``remaining``; return its length."""
        raise NotImplementedError

    def fields(self) -> dict:
        raise NotImplementedError

    def diagnostics(self) -> dict:
        raise NotImplementedError

    # -- hooks (no-ops) ----------------------------------------------------------------------
    def begin(self, t_target: float) -> None:
        """Before the steps to ``t_target``."""

    def end(self, t_target: float) -> None:
        """After the step that landed on ``t_target``."""

    def peak_density(self) -> float | None:
        """The largest density after a step, to check; None: nothing to check after this one."""
        return None

    def static(self) -> dict:
        return {}

    def summary(self) -> dict:
        return {}

    def checkpoint(self) -> dict | None:
        return None

    def restore(self, t: float, fields: dict, checkpoint: dict | None = None) -> bool | None:
        """Continue from a stored snapshot; False: this stepper cannot (the run starts again)."""
        return False

    def step_statistics(self) -> dict:
        """``dt_min`` and ``dt_max`` of the steps taken (inf and 0 before the first)."""
        return {"dt_min": float(self.dt_min), "dt_max": float(self.dt_max)}
