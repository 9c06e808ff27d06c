"""Initial densities on a grid, and the validation every solver applies to them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import PdeflowError
from .grid import Grid


def gaussian(grid: Grid, mean=0.0, cov=1.0, mass: float = 1.0) -> np.ndarray:
    """Gaussian density ``M N(mean, cov)`` sampled at cell centres, scaled so ``∫ rho = M``.

    Parameters
    ----------
    mean : float or sequence
        Centre; a plain number in 1D (or broadcast to every axis).
    cov : float or (d, d) array
        A variance (isotropic) or a covariance matrix.
    mass : float
        Total mass M > 0 on the grid.
    """
    d = grid.ndim
    mu = _per_axis(mean, d, "mean")
    sigma = np.asarray(cov, dtype=float)
    if sigma.ndim == 0:
        sigma = float(sigma) * np.eye(d)
    if sigma.shape != (d, d) or not np.all(np.isfinite(sigma)):
        raise PdeflowError(f"cov must be a variance or a {d}x{d} matrix, got {cov!r}")
    try:
        np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError as err:
        raise PdeflowError(f"cov {sigma.tolist()} is not symmetric positive definite") from err
    precision = np.linalg.inv(sigma)
    offsets = [c - m for c, m in zip(grid.coords(), mu, strict=True)]
    quad = sum(precision[i, j] * offsets[i] * offsets[j] for i in range(d) for j in range(d))
    rho = np.broadcast_to(np.exp(-0.5 * quad), grid.shape).copy()
    return _scale_to_mass(grid, rho, mass, "gaussian")


def _per_axis(value, d: int, name: str) -> np.ndarray:
    """``value`` as one finite number per axis (a single number is used on every axis)."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise PdeflowError(f"{name} must be a number or {d} numbers, got {value!r}") from err
    if array.ndim > 1:
        raise PdeflowError(f"{name} must be a number or a flat list of {d} numbers, got {value!r}")
    if array.ndim == 1 and array.size not in (1, d):
        raise PdeflowError(f"{name} {value!r} has {array.size} entries but the grid has {d} "
                           f"axes; give {d} numbers (one per axis) or one number")
    if not np.all(np.isfinite(array)):
        raise PdeflowError(f"{name} must be finite, got {value!r}")
    return np.broadcast_to(array, (d,))


def uniform(grid: Grid, mass: float = 1.0) -> np.ndarray:
    """Constant density with total mass ``mass``."""
    return _scale_to_mass(grid, grid.ones(), mass, "uniform")


def box(grid: Grid, low, high, mass: float = 1.0) -> np.ndarray:
    """Indicator of the box ``∏ [low_k, high_k]`` (cell centres inside), scaled to ``mass``."""
    lo, hi = _per_axis(low, grid.ndim, "low"), _per_axis(high, grid.ndim, "high")
    inside = np.ones(grid.shape, dtype=bool)
    for c, a, b in zip(grid.coords(), lo, hi, strict=True):
        inside = inside & (c >= a) & (c <= b)
    return _scale_to_mass(grid, inside.astype(float), mass, "box")


def from_function(grid: Grid, f: Callable, mass: float | None = None) -> np.ndarray:
    """Density from a callable of the coordinates; scaled to ``mass`` when given."""
    rho = grid.evaluate(f, "initial density")
    if mass is None:
        return validate_density(grid, rho)
    return _scale_to_mass(grid, rho, mass, "from_function")


def validate_density(grid: Grid, rho, name: str = "initial density") -> np.ndarray:
    """Return ``rho`` as a float array after checking shape, finiteness, sign and mass."""
    rho = np.asarray(rho, dtype=float)
    grid.check_shape(rho, name)
    nonfinite = ~np.isfinite(rho)
    if nonfinite.any():
        raise PdeflowError(
            f"{name} has {int(nonfinite.sum())} NaN or infinite cells; densities must be finite"
        )
    negative = rho < 0
    if negative.any():
        raise PdeflowError(
            f"{name} has {int(negative.sum())} negative cells (min {rho.min():.3e}); "
            "densities must be >= 0"
        )
    mass = grid.integrate(rho)
    if not mass > 0:
        raise PdeflowError(f"{name} has zero mass; give a density with positive total mass")
    return np.ascontiguousarray(rho)


def _scale_to_mass(grid: Grid, rho: np.ndarray, mass: float, what: str) -> np.ndarray:
    mass = float(mass)
    if not np.isfinite(mass) or mass <= 0:
        raise PdeflowError(f"{what}: mass must be a positive number, got {mass}")
    total = grid.integrate(rho)
    if not total > 0:
        raise PdeflowError(
            f"{what}: the density is zero on every cell of {grid}; move it inside the domain"
        )
    return validate_density(grid, rho * (mass / total))
