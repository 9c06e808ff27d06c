"""Porous medium ``∂t ρ = D Δ ρ^m``: the gradient flow of ``D ∫ ρ^m/(m−1)``; Barenblatt profiles."""

from __future__ import annotations

import numpy as np
from scipy.special import gamma as gamma_fn

from ..energy import FreeEnergy, Potential, PowerLaw
from ..errors import PdeflowError
from ..grid import Grid
from .base import Problem, wasserstein_only


def barenblatt(grid: Grid, t: float, m: float = 2.0, mass: float = 1.0, D: float = 1.0, center=0.0):
    """Barenblatt solution of ``∂t u = D Δ u^m`` in R^d at time t > 0 with mass M.

    ``u = τ^{−α} (C − k |x|² τ^{−2β})₊^{1/(m−1)}`` with τ = D t, α = d/(d(m−1)+2), β = α/d,
    k = α(m−1)/(2md); C fixed by the mass (closed form). Sampled at cell centres.
    """
    if t <= 0:
        raise PdeflowError(f"the Barenblatt profile needs t > 0, got {t}")
    d = grid.ndim
    alpha, beta, k, C = barenblatt_constants(d, m, mass)
    t = D * t
    c = np.broadcast_to(np.asarray(center, dtype=float), (d,))
    r2 = sum((x - ci) ** 2 for x, ci in zip(grid.coords(), c, strict=True))
    core = np.maximum(C - k * r2 * t ** (-2 * beta), 0.0)
    return np.broadcast_to(t ** (-alpha) * core ** (1.0 / (m - 1)), grid.shape).copy()


def barenblatt_constants(d: int, m: float, mass: float):
    """(α, β, k, C) of the Barenblatt profile with mass M.

    Mass of ``(C − k r²)₊^p`` in R^d, p = 1/(m−1): ``C^{p + d/2} k^{−d/2} π^{d/2} Γ(p+1)/Γ(p+1+d/2)``.
    """
    alpha = d / (d * (m - 1) + 2)
    beta = alpha / d
    k = alpha * (m - 1) / (2 * m * d)
    p = 1.0 / (m - 1)
    unit = k ** (-d / 2) * np.pi ** (d / 2) * gamma_fn(p + 1) / gamma_fn(p + 1 + d / 2)
    C = (mass / unit) ** (1.0 / (p + d / 2))
    return alpha, beta, k, C


def barenblatt_radius(t: float, d: int, m: float, mass: float = 1.0, D: float = 1.0) -> float:
    """Support radius ``r(t) = sqrt(C/k) (D t)^β`` of the Barenblatt solution."""
    alpha, beta, k, C = barenblatt_constants(d, m, mass)
    return float(np.sqrt(C / k) * (D * t) ** beta)


def porous_medium(
    grid: Grid, rho0=None, m: float = 2.0, D: float = 1.0, V=None, t0: float | None = None,
    mass: float = 1.0, metric=None,
) -> Problem:
    """``∂t ρ = D Δ ρ^m (+ ∇·(ρ∇V))``.

    Give ``rho0``, or ``t0`` to start from the Barenblatt profile at time t0 (with ``mass``);
    then ``exact(t)`` is the Barenblatt profile at t0 + t (without a potential).
    """
    terms = [PowerLaw(m, D)]
    if V is not None:
        terms.append(Potential(V))
    if rho0 is None:
        if t0 is None:
            raise PdeflowError("porous_medium needs rho0, or t0 to start from Barenblatt")
        rho0 = barenblatt(grid, t0, m, mass, D)
    problem = Problem(
        "porous_medium", grid, rho0, FreeEnergy(*terms),
        parameters={"m": float(m), "D": float(D), "t0": t0}, metric=metric,
    )
    if t0 is not None and V is None and wasserstein_only(problem, True):
        problem.exact = lambda t: barenblatt(grid, t0 + t, m, mass, D)
    return problem
