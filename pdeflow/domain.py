"""Where a density lives: a :class:`~pdeflow.Grid` (cell averages) or a :class:`~pdeflow.Mesh`
(nodal values of P1 finite elements), told apart here and nowhere else.

Both satisfy :class:`Domain`: what storage, diagnostics, plotting and comparison need of a domain
without knowing which it is. Code that must know (a mesh is drawn as triangles, its moments use
the lumped measure) asks :func:`is_mesh`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .grid import Grid
from .mesh import Mesh


@runtime_checkable
class Domain(Protocol):
    """A discretised domain: ``shape`` of a density array on it, ``ndim`` axes, ``bounds`` (a
    bounding box), ``integrate(ρ) = ∫ρ``, ``coords()`` of the degrees of freedom, ``points()``
    (one row per degree of freedom), ``evaluate(f)`` and the JSON-able ``to_dict()``."""

    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def ndim(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def bounds(self) -> tuple[tuple[float, float], ...]: ...
    def integrate(self, field: np.ndarray) -> float: ...
    def coords(self) -> tuple[np.ndarray, ...]: ...
    def points(self) -> np.ndarray: ...
    def evaluate(self, f, name: str = "function") -> np.ndarray: ...
    def check_shape(self, array: np.ndarray, name: str = "array") -> None: ...
    def to_dict(self) -> dict: ...


def is_mesh(domain) -> bool:
    """Whether ``domain`` is a triangle mesh (nodal values), not a grid (cell averages)."""
    return isinstance(domain, Mesh)


def is_grid(domain) -> bool:
    """Whether ``domain`` is a :class:`~pdeflow.Grid`."""
    return isinstance(domain, Grid)
