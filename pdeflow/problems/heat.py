"""Heat equation ``∂t ρ = D Δρ``: the gradient flow of ``E = D ∫ ρ log ρ``."""

from __future__ import annotations

import numpy as np

from ..energy import Entropy, FreeEnergy
from ..grid import Grid
from .base import Problem, wasserstein_only
from .gaussians import gaussian_moments, gaussian_on_grid


def heat(grid: Grid, rho0, D: float = 1.0, exact_gaussian: tuple | None = None,
         metric=None) -> Problem:
    """``∂t ρ = D Δρ``.

    Parameters
    ----------
    exact_gaussian : (mean, cov, mass), optional
        When ``rho0`` is this Gaussian, ``exact(t)`` is N(mean, cov + 2 D t I) (whole space;
        accurate while the walls or the period are far from the mass).
    metric : pdeflow.metric.Metric, optional
        Default Wasserstein (see :mod:`pdeflow.metric`).
    """
    problem = Problem("heat", grid, rho0, FreeEnergy(Entropy(D)), parameters={"D": float(D)},
                      metric=metric)
    if exact_gaussian is not None and wasserstein_only(problem, True):
        mean, cov, mass = exact_gaussian
        cov0 = gaussian_moments(grid.ndim, cov)
        problem.exact = lambda t: gaussian_on_grid(
            grid, mean, cov0 + 2 * D * t * np.eye(grid.ndim), mass
        )
    return problem
