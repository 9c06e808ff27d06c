"""Trajectory: what a solver returns and what :func:`pdeflow.load` reads back.

Every method fills the same object: snapshot times, one frame per time (a density on the grid,
or particle positions), per-snapshot diagnostics (mass, energy, ...), a status and metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import PdeflowError
from .grid import Grid
from .stored_frames import StoredFrames

FINISHED, RUNNING, BLOW_UP, INTERRUPTED, FAILED = (
    "finished", "running", "blow-up", "interrupted", "failed",
)


@dataclass
class Trajectory:
    """Snapshots of one run.

    Attributes
    ----------
    method : str
        "fv", "particles", "jko", "fem", ...
    grid : Grid or None
        The grid densities live on (particle runs: the problem's grid, used by ``density``).
    times : ndarray (n_snap,)
    frames : dict[str, sequence of ndarray]
        "density" for grid runs (each of ``grid.shape``); "position" for particle runs (N, d).
        A run with a store (and a loaded file) keeps them on disk: each is a
        :class:`~pdeflow.stored_frames.StoredFrames` that reads frame i when indexed, so memory
        does not grow with the number of snapshots; without a store, a list in memory.
    diagnostics : dict[str, ndarray]
        Per-snapshot scalars: "mass", "energy", "dissipation", "second_moment", ...
    status : str
        "finished", "blow-up", "interrupted", "failed" or "running" (file of a run that did
        not close: still being written, or its process died).
    meta : dict
        Options, wall time, step counts, the problem description, blow-up time, ...
    weights : ndarray or None
        Particle weights (particle runs).
    frame_store : callable, optional
        ``frame_store(name) -> StoredFrames`` for a run streamed to a file: frames appended from
        then on are counted, not copied (the run's writer stores them).
    """

    method: str
    grid: Grid | None
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)
    status: str = RUNNING
    meta: dict = field(default_factory=dict)
    weights: np.ndarray | None = None
    frame_store: Callable | None = field(default=None, repr=False, compare=False)

    # -- building ------------------------------------------------------------------------------
    def append(self, t: float, fields: dict[str, np.ndarray], diagnostics: dict[str, float]):
        self.times = np.append(self.times, t)
        for name, value in fields.items():
            if name not in self.frames:
                self.frames[name] = [] if self.frame_store is None else self.frame_store(name)
            frames = self.frames[name]
            frames.append(value if isinstance(frames, StoredFrames) else np.array(value, copy=True))
        for name, value in diagnostics.items():
            self.diagnostics[name] = np.append(self.diagnostics.get(name, np.zeros(0)), value)

    def in_memory(self) -> Trajectory:
        """A copy whose frames are read into memory (independent of the file from then on:
        a run kept on disk reads its frames from the file, and overwriting that run there makes
        them unreadable)."""
        return replace(self, frames={k: [np.array(f) for f in v] for k, v in self.frames.items()},
                       diagnostics=dict(self.diagnostics), meta=dict(self.meta), frame_store=None)

    # -- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.times)

    @property
    def finished(self) -> bool:
        return self.status == FINISHED

    def density(self, i: int = -1, **options) -> np.ndarray:
        """Density on ``self.grid`` at snapshot ``i``.

        Particle runs deposit their weighted positions on the grid
        (see :func:`pdeflow.particles_to_density` for ``options``).
        """
        if "density" in self.frames:
            return self.frames["density"][i]
        if "position" in self.frames:
            from .deposit import particles_to_density

            return particles_to_density(self.positions(i), self.weights_at(i), self.grid, **options)
        raise PdeflowError(f"this {self.method} trajectory holds no frames")

    def weights_at(self, i: int = -1) -> np.ndarray | None:
        """Particle weights at snapshot ``i``: the ``weight`` frame of a run whose weights change
        (Fisher–Rao parts), else the run's fixed weights."""
        if "weight" in self.frames:
            return np.asarray(self.frames["weight"][i])
        return self.weights

    def positions(self, i: int = -1) -> np.ndarray:
        """Particle positions ``(N, d)`` at snapshot ``i`` (particle runs only)."""
        if "position" not in self.frames:
            raise PdeflowError(f"a {self.method} run has no particle positions; use density(i)")
        return self.frames["position"][i]

    def _diag(self, name: str) -> np.ndarray:
        if name not in self.diagnostics:
            raise PdeflowError(
                f"this trajectory records no '{name}'; it has {sorted(self.diagnostics)}"
            )
        return self.diagnostics[name]

    @property
    def mass(self) -> np.ndarray:
        return self._diag("mass")

    @property
    def energy(self) -> np.ndarray:
        return self._diag("energy")

    @property
    def dissipation(self) -> np.ndarray:
        return self._diag("dissipation")

    @property
    def second_moment(self) -> np.ndarray:
        return self._diag("second_moment")

    @property
    def wall_time(self) -> float:
        return float(self.meta.get("wall_time", np.nan))

    def __repr__(self) -> str:
        span = f"t in [{self.times[0]:g}, {self.times[-1]:g}]" if len(self.times) else "empty"
        return f"<Trajectory {self.method}: {len(self)} snapshots, {span}, status {self.status}>"
