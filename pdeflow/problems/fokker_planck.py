"""Fokker–Planck ``∂t ρ = ∇·(ρ∇V) + D Δρ``: the gradient flow of ``D ∫ρ log ρ + ∫Vρ``."""

from __future__ import annotations

import numpy as np

from ..energy import Entropy, FreeEnergy, Potential
from ..grid import Grid
from ..initial import gaussian
from .base import Problem, wasserstein_only
from .gaussians import gaussian_moments, gaussian_on_grid


def fokker_planck(grid: Grid, rho0, V, D: float = 1.0, grad_V=None, metric=None) -> Problem:
    """``∂t ρ = ∇·(ρ∇V) + D Δρ`` for a potential V (callable of the coordinates, or an array).

    The stationary state is the Gibbs density ``e^{-V/D} / Z`` (times the mass). With
    ``metric=pf.FisherRao(α)`` this is the Fisher–Rao flow of ``D·KL(ρ | e^{-V/D})``, whose
    solution (normalized) is ``ρ_t ∝ ρ0^{e^{−αDt}} (e^{−V/D})^{1 − e^{−αDt}}``.
    """
    energy = FreeEnergy(Entropy(D), Potential(V, gradient=grad_V))
    return Problem("fokker_planck", grid, rho0, energy, parameters={"D": float(D)}, metric=metric)


def ornstein_uhlenbeck(
    grid: Grid, mean=0.0, cov=1.0, mass: float = 1.0, gamma: float = 1.0, D: float = 1.0,
    center=0.0, metric=None,
) -> Problem:
    """Fokker–Planck with ``V = γ|x − c|²/2`` from a Gaussian; the solution stays Gaussian.

    Exact: mean ``c + (m₀ − c) e^{−γt}``, covariance ``Σ₀ e^{−2γt} + (D/γ)(1 − e^{−2γt}) I``.
    """
    d = grid.ndim
    c = np.broadcast_to(np.asarray(center, dtype=float), (d,))
    m0 = np.broadcast_to(np.asarray(mean, dtype=float), (d,))
    cov0 = gaussian_moments(d, cov)
    rho0 = gaussian(grid, m0, cov0, mass)

    def V(*x):
        return 0.5 * gamma * sum((xi - ci) ** 2 for xi, ci in zip(x, c, strict=True))

    def grad_V(*x):
        return tuple(gamma * (xi - ci) for xi, ci in zip(x, c, strict=True))

    def moments(t: float):
        decay = np.exp(-gamma * t)
        mean_t = c + (m0 - c) * decay
        cov_t = cov0 * decay**2 + (D / gamma) * (1 - decay**2) * np.eye(d)
        return mean_t, cov_t

    energy = FreeEnergy(Entropy(D), Potential(V, gradient=grad_V))
    parameters = {"D": float(D), "gamma": float(gamma), "mean": m0.tolist(), "cov": cov0.tolist(),
                  "center": c.tolist()}
    problem = Problem("ornstein_uhlenbeck", grid, rho0, energy, parameters=parameters, metric=metric)
    if wasserstein_only(problem, True):
        problem.exact = lambda t: gaussian_on_grid(grid, *moments(t), mass)
        problem.exact_moments = moments
    return problem
