"""Aggregation–diffusion ``∂t ρ = ∇·(ρ∇(U'(ρ) + V + W*ρ))`` for any free energy."""

from __future__ import annotations

from ..energy import FreeEnergy
from ..errors import PdeflowError
from ..grid import Grid
from .base import Problem


def aggregation_diffusion(grid: Grid, rho0, energy: FreeEnergy, exact=None, metric=None) -> Problem:
    """The gradient flow of an arbitrary :class:`FreeEnergy`, in the metric ``metric``
    (default Wasserstein; ``exact(t)``, when given, is that flow's solution)."""
    if not isinstance(energy, FreeEnergy):
        raise PdeflowError(f"energy must be a pdeflow.FreeEnergy, got {type(energy).__name__}")
    return Problem("aggregation_diffusion", grid, rho0, energy, exact=exact, metric=metric)
