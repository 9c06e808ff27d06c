"""W2 between two densities on the same 2D grid, by the back-and-forth method (Jacobs & Léger,
*Numer. Math.* 2020), at the grid's own resolution: no coarsening, no subsampling, no blur.

With c(x, y) = |x − y|²/2 and equal masses, ½ W2²(μ, ν) is the value of the Kantorovich dual

    sup_φ J(φ),   J(φ) = ∫ φ^c dμ − ∫ φ dν,          φ^c(y) = min_x φ(x) + c(x, y),
    sup_ψ I(ψ),   I(ψ) = ∫ ψ dμ − ∫ ψ^c̄ dν,          ψ^c̄(x) = max_y ψ(y) − c(x, y),

two forms of one problem. The iteration alternates a gradient-ascent step on J and one on I,
switching between them by exact grid c-transforms (lower envelopes of parabolas, O(n) per grid
line, :mod:`pdeflow._numba.c_transform`):

    φ ← φ + σ P (T_φ#μ − ν),          ψ ← ψ + σ P (μ − S_ψ#ν),

where T_φ#μ(x) = μ(x + ∇φ) det(I + D²φ) and S_ψ#ν(y) = ν(y − ∇ψ) det(I − D²ψ) are the
push-forwards by the optimal maps (Jacobian formula, centred differences), the gradients of
the two duals, and P = (m (−Δ_h))⁻¹ the H¹ preconditioner (one DCT on walls, FFT on periodic
axes: :class:`~pdeflow.spectral.SpectralLaplacian`), m the largest density, for which σ = 1
is the natural step (the dual's Hessian is ≈ −∇·(μ∇)). σ adapts: a step that lowers the dual
is retried at σ/2; σ grows by 1.1 after a step that gained more than 0.9 of its first-order
prediction.

The reported W2 is √(2 max(J, I)): every dual value is a lower bound of ½ W2² of the two grid
measures (atoms at the cell centres), whatever the iterate, and the iteration stops when the
dual's gain over an iteration falls below ``tol`` of its total gain, or when the L1 residual of
the push-forward falls below ``tol``. Exact for translations (φ linear, c-transforms exact),
second order in the cell size for Gaussians of different covariances (tests/test_ot_grid.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._numba.c_transform import c_transform, pull_back_2d
from .errors import PdeflowError
from .grid import Grid
from .spectral import SpectralLaplacian

MIN_STEP = 1e-6


@dataclass(frozen=True)
class GridTransport:
    """The result of :func:`w2_grid`: ``w2``, the ``iterations``, the last relative dual
    ``increment`` and the L1 ``residual`` of the push-forward (relative to the mass)."""

    w2: float
    iterations: int
    increment: float
    residual: float


def w2_grid(mu: np.ndarray, nu: np.ndarray, grid: Grid, tol: float = 1e-7,
            max_iter: int = 300) -> GridTransport:
    """W2 between the densities ``mu`` and ``nu`` (cell averages of equal mass) on the 2D
    ``grid`` by the back-and-forth method (module docstring)."""
    if grid.ndim != 2:
        raise PdeflowError(f"w2_grid works on 2D grids, this one has {grid.ndim} axes")
    mu, nu = (np.asarray(a, dtype=float) for a in (mu, nu))
    grid.check_shape(mu, "mu")
    grid.check_shape(nu, "nu")
    cell = grid.cell_volume
    mass_mu, mass_nu = float(mu.sum()) * cell, float(nu.sum()) * cell
    if not (mass_mu > 0 and abs(mass_mu - mass_nu) <= 1e-9 * mass_mu):
        raise PdeflowError(f"W2 needs equal positive masses, got {mass_mu:.12g} and {mass_nu:.12g}")
    (hx, hy), (px, py) = grid.dx, grid.periodic
    laplacian, scale = SpectralLaplacian(grid), float(max(mu.max(), nu.max()))

    def preconditioner(r):  # (m (−Δ_h))⁻¹ r, the constant mode removed
        return laplacian.solve(r, scale, 0.0)

    def dual_phi(phi):  # J(φ) and ψ = φ^c
        psi = c_transform(phi, 1.0, grid.dx, grid.periodic)
        return float(np.sum(psi * mu) - np.sum(phi * nu)) * cell, psi

    def dual_psi(psi):  # I(ψ) and φ = ψ^c̄
        phi = c_transform(psi, 1.0, grid.dx, grid.periodic, sign=-1.0)
        return float(np.sum(psi * mu) - np.sum(phi * nu)) * cell, phi

    phi = np.zeros(grid.shape)
    value, psi = dual_phi(phi)
    start = previous = best = value
    pushed = np.empty(grid.shape)
    sigma = {"forth": 1.0, "back": 1.0}
    increment = residual = np.inf
    for iteration in range(1, max_iter + 1):
        # forth: ascent on J from φ
        pull_back_2d(mu, phi, 1.0, hx, hy, px, py, pushed)
        r = pushed - nu
        residual = float(np.sum(np.abs(r))) * cell / mass_mu
        value, moved = _ascend(_trial(dual_phi, phi), r, preconditioner, sigma, "forth", value,
                               cell)
        phi = phi if moved is None else moved
        best = max(best, value)
        psi = c_transform(phi, 1.0, grid.dx, grid.periodic)
        # back: ascent on I from ψ = φ^c (I(φ^c) >= J(φ))
        value = max(value, dual_psi(psi)[0])
        pull_back_2d(nu, psi, -1.0, hx, hy, px, py, pushed)
        r = mu - pushed
        residual = max(residual, float(np.sum(np.abs(r))) * cell / mass_mu)
        value, moved = _ascend(_trial(dual_psi, psi), r, preconditioner, sigma, "back", value,
                               cell)
        psi = psi if moved is None else moved
        best = max(best, value)
        phi = c_transform(psi, 1.0, grid.dx, grid.periodic, sign=-1.0)
        increment, previous = value - previous, value
        gained = best - start
        if residual <= tol or (iteration > 1 and gained > 0 and abs(increment) <= tol * gained):
            break
        if min(sigma.values()) < MIN_STEP:
            break
    return GridTransport(w2=float(np.sqrt(2.0 * max(best, 0.0))), iterations=iteration,
                         increment=float(increment / max(best - start, 1e-300)),
                         residual=residual)


def _trial(dual, base: np.ndarray):
    """``(s, g) -> (dual value, potential)`` at the potential ``base + s g``."""

    def trial(s: float, g: np.ndarray):
        potential = base + s * g
        return dual(potential)[0], potential

    return trial


def _ascend(trial, r, preconditioner, sigma: dict, side: str, baseline: float, cell: float):
    """One preconditioned ascent step from ``baseline`` along r: σ halves (at most six times)
    while the dual falls; then a step that lowers it by less than its predicted rise is taken
    (near convergence the Jacobian formula is not the exact gradient of the grid dual, and a
    strict ascent test would stall: the best value seen is what :func:`w2_grid` reports).
    Returns (value, potential)."""
    r = r - r.mean()
    g = preconditioner(r)
    predicted = float(np.sum(r * g)) * cell
    s = sigma[side]
    for _ in range(7):
        value, potential = trial(s, g)
        if value >= baseline:
            break
        s *= 0.5
    else:
        s *= 2.0
        value, potential = trial(s, g)
        if value < baseline - s * predicted:  # a real overshoot: stay
            sigma[side] = s
            return baseline, None
    if value - baseline > 0.9 * s * predicted:
        s *= 1.1
    sigma[side] = s
    return value, potential
