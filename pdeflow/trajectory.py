"""Trajectory: what a solver returns and what :func:`pdeflow.load` reads back.

Every method fills the same object: snapshot times, one frame per time (a density on the grid,
or particle positions), per-snapshot diagnostics (mass, energy, ...), a status and metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import PdeflowError
from .grid import Grid

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
    frames : dict[str, list[ndarray]]
        "density" for grid runs (each of ``grid.shape``); "position" for particle runs (N, d).
    diagnostics : dict[str, ndarray]
        Per-snapshot scalars: "mass", "energy", "dissipation", "second_moment", ...
    status : str
        "finished", "blow-up", "interrupted", "failed" or "running" (file of a run that did
        not close: still being written, or its process died).
    meta : dict
        Options, wall time, step counts, the problem description, blow-up time, ...
    weights : ndarray or None
        Particle weights (particle runs).
    """

    method: str
    grid: Grid | None
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)
    status: str = RUNNING
    meta: dict = field(default_factory=dict)
    weights: np.ndarray | None = None

    # -- building ------------------------------------------------------------------------------
    def append(self, t: float, fields: dict[str, np.ndarray], diagnostics: dict[str, float]):
        self.times = np.append(self.times, t)
        for name, value in fields.items():
            self.frames.setdefault(name, []).append(np.array(value, copy=True))
        for name, value in diagnostics.items():
            self.diagnostics[name] = np.append(self.diagnostics.get(name, np.zeros(0)), value)

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

            return particles_to_density(self.positions(i), self.weights, self.grid, **options)
        raise PdeflowError(f"this {self.method} trajectory holds no frames")

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
