"""Gaussian densities as exact solutions (heat and Ornstein–Uhlenbeck flows keep them Gaussian)."""

from __future__ import annotations

import numpy as np

from ..grid import Grid


def gaussian_moments(ndim: int, cov) -> np.ndarray:
    c = np.asarray(cov, dtype=float)
    return float(c) * np.eye(ndim) if c.ndim == 0 else c


def gaussian_on_grid(grid: Grid, mean, cov, mass: float) -> np.ndarray:
    """``M N(mean, cov)`` evaluated at cell centres (not renormalised to the grid)."""
    d = grid.ndim
    mu = np.broadcast_to(np.asarray(mean, dtype=float), (d,))
    cov = gaussian_moments(d, cov)
    precision = np.linalg.inv(cov)
    offsets = [c - m for c, m in zip(grid.coords(), mu, strict=True)]
    quad = sum(precision[i, j] * offsets[i] * offsets[j] for i in range(d) for j in range(d))
    norm = mass / np.sqrt((2 * np.pi) ** d * np.linalg.det(cov))
    return np.broadcast_to(norm * np.exp(-0.5 * quad), grid.shape).copy()
