"""A problem: the free energy, where it lives, the initial density and the exact solution."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..energy import FreeEnergy
from ..grid import Grid
from ..initial import validate_density


@dataclass
class Problem:
    """What every solver takes: ``∂t rho = ∇·(rho ∇ δE/δrho)`` from ``rho0`` on ``grid``.

    Attributes
    ----------
    name : str
        The equation family ("heat", "fokker_planck", ...).
    grid : Grid
        The domain and its discretisation (a mesh for finite elements).
    rho0 : ndarray
        Initial density (cell averages), validated: finite, >= 0, positive mass.
    energy : FreeEnergy
        The free energy whose gradient flow this is.
    exact : callable or None
        ``exact(t)`` -> density on the grid at time t (t = 0 is rho0's time), when known.
    parameters : dict
        JSON-able description (equation parameters), stored in output files.
    observe : callable or None
        Observables recorded with every snapshot by every method: ``observe(frame) ->
        (fields, diagnostics)``, ``frame`` = ``{"density": ρ}`` (grid or mesh runs) or
        ``{"position": X, "weight": w}`` (particle runs). The mean-field network records its
        output f(x; ρ) and risk this way.
    """

    name: str
    grid: Grid
    rho0: np.ndarray
    energy: FreeEnergy
    exact: Callable[[float], np.ndarray] | None = None
    parameters: dict = field(default_factory=dict)
    observe: Callable[[dict], tuple[dict, dict]] | None = None

    def __post_init__(self) -> None:
        self.rho0 = validate_density(self.grid, self.rho0)

    @property
    def mass(self) -> float:
        return self.grid.integrate(self.rho0)

    def describe(self) -> dict:
        """JSON-able description: name, parameters, grid and energy terms."""
        return {
            "name": self.name,
            "parameters": self.parameters,
            "grid": self.grid.to_dict(),
            "energy": self.energy.to_dict(),
            "mass": self.mass,
        }
