"""Particles to densities on a grid, grid fields back to particles, and densities to particles.

A weighted particle set ``μ = Σ_p w_p δ_{X_p}`` becomes a density of ``grid.shape`` whose integral
is ``Σ_p w_p``:

- ``"cic"`` (cloud in cell, the default): each particle spreads its mass over the 2^d nearest
  cell centres with the bilinear weights ``Π_k (1 − |x_k − c_k|/h_k)``. The weights sum to one, so
  mass is conserved to round-off. At a wall the part beyond it folds back into the edge cell
  (mirror ghost cell); periodic axes wrap.
- ``"histogram"`` (nearest grid point): the mass of each particle in the cell that contains it.
- ``"kde"``: a binned Gaussian kernel density estimate, the CIC deposit smoothed by a Gaussian of
  standard deviation ``bandwidth`` per axis (reflected at walls, wrapped on periodic axes) and
  renormalised to the mass. Default bandwidth: Scott's rule ``h_k = σ_k n_eff^{−1/(d+4)}``, σ_k the
  weighted standard deviation along axis k and ``n_eff = (Σw)²/Σw²`` the effective sample size.

Particles outside the box are clamped onto it on walled axes and wrapped on periodic ones (the
particle solver never produces any: it reflects at walls).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .errors import PdeflowError
from .grid import Grid

METHODS = ("cic", "histogram", "kde")


def grid_arrays(grid: Grid):
    """(lo, h, n, periodic) of a grid as the arrays the Numba kernels take."""
    lo = np.array([a for a, _ in grid.bounds])
    h = np.array(grid.dx)
    n = np.array(grid.shape, dtype=np.int64)
    periodic = np.array(grid.periodic, dtype=np.bool_)
    return lo, h, n, periodic


def particles_to_density(
    positions, weights, grid: Grid, method: str = "cic", bandwidth=None
) -> np.ndarray:
    """Density of ``grid.shape`` with ``∫ρ = Σ_p w_p`` from weighted particles.

    Parameters
    ----------
    positions : array (N, d)
        Particle positions (a 1D array is read as N positions on a 1D grid).
    weights : array (N,) or None
        Particle masses; None gives equal weights ``1/N`` (mass 1).
    grid : Grid
        Target grid (d axes).
    method : "cic" | "histogram" | "kde"
        See the module docstring.
    bandwidth : float or sequence, optional
        KDE only: the Gaussian's standard deviation (per axis, or one for all); default Scott's rule.

    Examples
    --------
    >>> import numpy as np, pdeflow as pf
    >>> from pdeflow.deposit import particles_to_density
    >>> grid = pf.Grid([(0.0, 1.0)], 10)
    >>> rho = particles_to_density(np.array([[0.5], [0.0]]), np.array([0.25, 0.75]), grid)
    >>> round(grid.integrate(rho), 12)
    1.0
    """
    X, w = _as_particles(positions, weights, grid)
    if method == "cic":
        return cic_density(X, w, grid)
    if method == "histogram":
        return _histogram(X, w, grid)
    if method == "kde":
        return _binned_kde(X, w, grid, bandwidth)
    raise PdeflowError(f"unknown deposit method {method!r}; use one of {', '.join(METHODS)}")


def cic_density(X: np.ndarray, w: np.ndarray, grid: Grid, out: np.ndarray | None = None):
    """Cloud-in-cell density of ``grid.shape`` (into ``out`` when given, which is overwritten)."""
    from ._numba.cic import cic_deposit

    if out is None:
        out = np.zeros(grid.shape)
    else:
        out.fill(0.0)
    cic_deposit(X, w, *grid_arrays(grid), out.reshape(-1))
    return out


def interpolate(fields: np.ndarray, X: np.ndarray, grid: Grid, out: np.ndarray | None = None):
    """Values at the particles of grid fields ``(ncomp, *grid.shape)`` with the CIC weights.

    The transpose of the CIC deposit, so that particle–mesh forces conserve momentum where the
    mesh gradient is antisymmetric. Returns ``(N, ncomp)``.
    """
    from ._numba.cic import cic_interpolate

    fields = np.ascontiguousarray(fields).reshape(fields.shape[0], -1)
    if out is None:
        out = np.empty((X.shape[0], fields.shape[0]))
    cic_interpolate(fields, X, *grid_arrays(grid), out)
    return out


def sample_particles(rho: np.ndarray, grid: Grid, n: int, rng: np.random.Generator):
    """N exact samples of the piecewise-constant density ``rho`` and equal weights M/N.

    A cell is drawn with probability ρ_i|cell|/M (inverse CDF of the cell masses), then a point
    uniformly inside it.
    """
    masses = rho.ravel() * grid.cell_volume
    cdf = np.cumsum(masses)
    total = cdf[-1]
    cells = np.minimum(np.searchsorted(cdf / total, rng.random(n), side="right"), grid.size - 1)
    corner = np.stack(np.unravel_index(cells, grid.shape), axis=1) + rng.random((n, grid.ndim))
    lo = np.array([a for a, _ in grid.bounds])
    X = np.ascontiguousarray(lo + corner * np.array(grid.dx))
    return X, np.full(n, total / n)


def initial_scale(rho: np.ndarray, grid: Grid) -> float:
    """ℓ: the root-mean-square standard deviation per axis of the piecewise-constant ``rho``."""
    M = grid.integrate(rho)
    variances = []
    for k, c in enumerate(grid.coords()):
        mean = grid.integrate(c * rho) / M
        variances.append(grid.integrate((c - mean) ** 2 * rho) / M + grid.dx[k] ** 2 / 12)
    return float(np.sqrt(np.mean(variances)))


def scott_bandwidth(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Scott's rule ``h_k = σ_k n_eff^{−1/(d+4)}``, ``n_eff = (Σw)²/Σw²``, per axis."""
    d = X.shape[1]
    mass = w.sum()
    mean = w @ X / mass
    sigma = np.sqrt(w @ (X - mean) ** 2 / mass)
    n_eff = mass**2 / np.sum(w**2)
    return sigma * n_eff ** (-1.0 / (d + 4))


def _histogram(X, w, grid: Grid) -> np.ndarray:
    flat = np.zeros(X.shape[0], dtype=np.int64)
    for k, ((a, _), n, h, periodic) in enumerate(
        zip(grid.bounds, grid.shape, grid.dx, grid.periodic, strict=True)
    ):
        i = np.floor((X[:, k] - a) / h).astype(np.int64)
        i = np.mod(i, n) if periodic else np.clip(i, 0, n - 1)
        flat = flat * n + i
    mass = np.bincount(flat, weights=w, minlength=grid.size)
    return mass.reshape(grid.shape) / grid.cell_volume


def _binned_kde(X, w, grid: Grid, bandwidth) -> np.ndarray:
    if bandwidth is None:
        bw = scott_bandwidth(X, w)
    else:
        bw = np.broadcast_to(np.asarray(bandwidth, dtype=float), (grid.ndim,))
    if not np.all(np.isfinite(bw)) or np.any(bw < 0):
        raise PdeflowError(f"KDE bandwidth must be >= 0 per axis, got {bw.tolist()}")
    rho = cic_density(X, w, grid)
    sigma = [b / h for b, h in zip(bw, grid.dx, strict=True)]
    modes = ["wrap" if p else "reflect" for p in grid.periodic]
    rho = ndimage.gaussian_filter(rho, sigma=sigma, mode=modes, truncate=4.0)
    rho = np.maximum(rho, 0.0)
    return rho * (w.sum() / grid.integrate(rho))


def _as_particles(positions, weights, grid: Grid):
    X = np.asarray(positions, dtype=float)
    if X.ndim == 1 and grid.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != grid.ndim:
        raise PdeflowError(
            f"positions have shape {X.shape}; a {grid.ndim}D grid needs an array (N, {grid.ndim})"
        )
    if not np.all(np.isfinite(X)):
        raise PdeflowError(f"{int(np.sum(~np.isfinite(X)))} particle coordinates are NaN or infinite")
    if weights is None:
        w = np.full(X.shape[0], 1.0 / max(X.shape[0], 1))
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (X.shape[0],):
            raise PdeflowError(
                f"weights have shape {w.shape} but there are {X.shape[0]} particles; give one each"
            )
    return np.ascontiguousarray(X), np.ascontiguousarray(w)
