"""A problem: the free energy, where it lives, the initial density and the exact solution."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..energy import FreeEnergy
from ..errors import PdeflowError
from ..grid import Grid
from ..initial import validate_density
from ..metric import Metric, Wasserstein, as_metric


@dataclass
class Problem:
    """What every solver takes: ``∂t rho = ∇·(rho ∇ δE/δrho)`` from ``rho0`` on ``grid``.

    Attributes
    ----------
    name : str
        The equation family ("heat", "fokker_planck", ...).
    grid : Grid or None
        The domain and its discretisation (a mesh for finite elements). None for a problem only
        the particle method runs (it then needs ``particles0``; its mass is 1).
    rho0 : ndarray or None
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
    particles0 : ndarray (N, d), callable or None
        Initial particles of particle runs: positions, or a sampler ``particles0(n, rng) ->
        (n, d)``; None samples ``rho0``.
    walls : bool
        Whether particles reflect at the grid's walls. False where the grid box is only a
        window (the network's parameters live in all of R^p): particles then leave it freely and
        deposits clamp them onto its edge cells.
    metric : Metric
        The geometry of the flow (:mod:`pdeflow.metric`): ``Wasserstein()`` (default),
        ``FisherRao(rate)`` or ``WassersteinFisherRao(rate)``. The exact solutions the factories
        attach are those of the Wasserstein flow: with another metric ``exact`` is None.
    axis_names : tuple of str or None
        Names of the axes a particle run reports its diagnostics along (None: x, y, z); the
        network's parameters (a, w, b).
    field_axes : dict or None
        For an observable field of ``observe`` that lies along some of the grid's axes, the
        names of those axes (``{"rho": ("theta",)}``): storage names its dimensions by them.
    exact_moments : callable or None
        ``exact_moments(t)`` -> (mean (d,), covariance (d, d)) of the exact solution, when known
        (the Gaussian solutions of the Ornstein–Uhlenbeck flow).
    kinetic : bool
        A density f(θ, v) on phase space (:mod:`pdeflow.problems.kinetic`), not a gradient flow
        of ρ: only the methods declared ``kinetic=True`` solve it, and only they.
    """

    name: str
    grid: Grid | None
    rho0: np.ndarray | None
    energy: FreeEnergy
    exact: Callable[[float], np.ndarray] | None = None
    parameters: dict = field(default_factory=dict)
    observe: Callable[[dict], tuple[dict, dict]] | None = None
    particles0: np.ndarray | Callable | None = None
    walls: bool = True
    metric: Metric = field(default_factory=Wasserstein)
    axis_names: tuple[str, ...] | None = None
    field_axes: dict[str, tuple[str, ...]] | None = None
    exact_moments: Callable[[float], tuple[np.ndarray, np.ndarray]] | None = None
    kinetic: bool = False

    def __post_init__(self) -> None:
        self.metric = as_metric(self.metric)
        if self.grid is None:
            if self.particles0 is None:
                raise PdeflowError(f"problem {self.name!r} has no grid; give particles0 (initial "
                                   "particles) or a grid and rho0")
            self.energy = GridlessEnergy(*self.energy.terms, problem=self.name)
            return
        self.rho0 = validate_density(self.grid, self.rho0)

    @property
    def mass(self) -> float:
        return 1.0 if self.grid is None else self.grid.integrate(self.rho0)

    def describe(self) -> dict:
        """JSON-able description: name, parameters, grid and energy terms."""
        return {
            "name": self.name,
            "parameters": self.parameters,
            "grid": None if self.grid is None else self.grid.to_dict(),
            "energy": self.energy.to_dict(),
            "mass": self.mass,
            "metric": self.metric.to_dict(),
            **({"kinetic": True} if self.kinetic else {}),
        }


def wasserstein_only(problem: Problem, exact):
    """``exact`` where the problem's flow is the Wasserstein one (what the factories' exact
    solutions solve), else None."""
    return exact if not problem.metric.reaction and problem.metric.transport else None


class GridlessEnergy(FreeEnergy):
    """The free energy of a problem without a grid: a grid method asking for it says why not."""

    def __init__(self, *terms, problem: str = "problem"):
        super().__init__(*terms)
        self.problem = problem

    def on(self, grid):
        if grid is None:
            raise PdeflowError(f"{self.problem!r} was built without a grid, so only "
                               "method='particles' runs it; give grid= and rho0= for the grid view")
        return super().on(grid)
