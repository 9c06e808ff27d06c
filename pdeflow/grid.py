"""Uniform Cartesian grids in 1 to 4 dimensions, cell-centred, periodic or walled per axis.

A density on a grid is an array of ``grid.shape`` holding cell averages, indexed ``"ij"``: axis 0
is x, axis 1 is y, axis 2 is z. Walls are no-flux boundaries. Gradient flows live on 1 to 3
axes; a fourth axis is for phase space, (θ1, θ2, v1, v2) of a kinetic problem
(:mod:`pdeflow.problems.kinetic`), whose axes carry the problem's names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import PdeflowError

AXIS_NAMES = ("x", "y", "z", "w")
MAX_AXES = 4


@dataclass(frozen=True)
class Grid:
    """A uniform cell-centred grid on a box ``∏_k [a_k, b_k]``.

    Parameters
    ----------
    bounds : sequence of (low, high)
        One pair per axis; 1 to 4 axes (4: a kinetic problem's phase space).
    shape : int or sequence of int
        Cells per axis (an int is used for every axis).
    periodic : bool or sequence of bool
        Per axis: periodic, or no-flux walls (the default).

    Examples
    --------
    >>> import pdeflow as pf
    >>> grid = pf.Grid(bounds=[(-1.0, 1.0)], shape=100)
    >>> grid.dx, grid.integrate(grid.ones())
    ((0.02,), 2.0)
    """

    bounds: tuple[tuple[float, float], ...]
    shape: tuple[int, ...]
    periodic: tuple[bool, ...] = field(default=False)

    def __init__(
        self,
        bounds: Sequence[Sequence[float]],
        shape: int | Sequence[int],
        periodic: bool | Sequence[bool] = False,
    ) -> None:
        bounds = _as_bounds(bounds)
        ndim = len(bounds)
        if isinstance(shape, int | np.integer):
            shape = (int(shape),) * ndim
        shape = tuple(int(n) for n in shape)
        if len(shape) != ndim:
            raise PdeflowError(
                f"grid shape {shape} has {len(shape)} axes but bounds give {ndim}; "
                "pass one cell count per axis"
            )
        if any(n < 2 for n in shape):
            raise PdeflowError(f"grid shape {shape} needs at least 2 cells per axis")
        if isinstance(periodic, bool | np.bool_):
            periodic = (bool(periodic),) * ndim
        periodic = tuple(bool(p) for p in periodic)
        if len(periodic) != ndim:
            raise PdeflowError(
                f"periodic={periodic} has {len(periodic)} entries but the grid has {ndim} axes"
            )
        object.__setattr__(self, "bounds", bounds)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "periodic", periodic)

    # -- geometry -------------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def dx(self) -> tuple[float, ...]:
        """Cell widths per axis."""
        return tuple((b - a) / n for (a, b), n in zip(self.bounds, self.shape, strict=True))

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.dx))

    @property
    def lengths(self) -> tuple[float, ...]:
        return tuple(b - a for a, b in self.bounds)

    @property
    def axes(self) -> tuple[np.ndarray, ...]:
        """Cell centres per axis, 1D arrays."""
        return tuple(
            a + (np.arange(n) + 0.5) * h
            for (a, _), n, h in zip(self.bounds, self.shape, self.dx, strict=True)
        )

    @property
    def axis_names(self) -> tuple[str, ...]:
        return AXIS_NAMES[: self.ndim]

    def coords(self, sparse: bool = True) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates broadcast over the grid (``"ij"`` indexing)."""
        return tuple(np.meshgrid(*self.axes, indexing="ij", sparse=sparse))

    def points(self) -> np.ndarray:
        """Cell centres as an array of shape ``(size, ndim)``."""
        return np.stack([c.ravel() for c in self.coords(sparse=False)], axis=1)

    def ones(self) -> np.ndarray:
        return np.ones(self.shape)

    def integrate(self, field: np.ndarray) -> float:
        """Midpoint rule ``∫ f dx ≈ Σ_i f_i |cell|``."""
        return float(np.sum(field) * self.cell_volume)

    def evaluate(self, f, name: str = "function") -> np.ndarray:
        """Evaluate a callable of one coordinate array per axis, or check an array, on the grid."""
        return evaluate_on(self, f, name, "grid")

    def check_shape(self, array: np.ndarray, name: str = "array") -> None:
        if array.shape != self.shape:
            raise PdeflowError(
                f"{name} has shape {array.shape} but the grid has shape {self.shape}; "
                "give one value per cell, indexed 'ij'"
            )

    def to_dict(self) -> dict:
        return {
            "bounds": [list(b) for b in self.bounds],
            "shape": list(self.shape),
            "periodic": list(self.periodic),
        }

    @classmethod
    def from_dict(cls, spec: dict) -> Grid:
        return cls(spec["bounds"], spec["shape"], spec.get("periodic", False))

    def __repr__(self) -> str:
        kinds = ["periodic" if p else "walls" for p in self.periodic]
        return f"Grid(bounds={list(self.bounds)}, shape={self.shape}, {kinds})"


def evaluate_on(space, f, name: str, where: str) -> np.ndarray:
    """``f`` on a grid or mesh (``space``: coords(), shape, check_shape): a callable of the
    coordinates evaluated there, a number broadcast, or an array checked; finite values only."""
    if callable(f):
        values = np.asarray(f(*space.coords()), dtype=float)
        values = np.broadcast_to(values, space.shape).copy()
    else:
        values = np.asarray(f, dtype=float)
        if values.ndim == 0:
            values = np.full(space.shape, float(values))
        space.check_shape(values, name)
    if not np.all(np.isfinite(values)):
        bad = int(np.sum(~np.isfinite(values)))
        raise PdeflowError(f"{name} has {bad} non-finite values on the {where}; it must be finite")
    return values


def _as_bounds(bounds) -> tuple[tuple[float, float], ...]:
    try:
        arr = np.asarray(bounds, dtype=float)
    except (TypeError, ValueError) as err:
        raise PdeflowError(
            f"grid bounds {bounds!r} are not numbers; give [(low, high), ...] per axis"
        ) from err
    if arr.ndim == 1 and arr.size == 2:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2 or not 1 <= arr.shape[0] <= MAX_AXES:
        raise PdeflowError(
            f"grid bounds {bounds!r} must be 1 to {MAX_AXES} pairs (low, high), e.g. "
            "[(-5, 5), (-5, 5)]"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr[:, 1] <= arr[:, 0]):
        raise PdeflowError(f"grid bounds {arr.tolist()} need finite low < high on every axis")
    return tuple((float(a), float(b)) for a, b in arr)
