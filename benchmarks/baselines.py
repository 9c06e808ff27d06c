"""Hand-written baselines measured in the same run as pdeflow: the practical speed limit."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def heat_euler_1d(u, out, lam, steps):
    """Explicit Euler for u_t = u_xx, no-flux walls: out = u + λ(u_{i+1} − 2u_i + u_{i−1})."""
    n = u.size
    for _ in range(steps):
        out[0] = u[0] + lam * (u[1] - u[0])
        for i in range(1, n - 1):
            out[i] = u[i] + lam * (u[i + 1] - 2.0 * u[i] + u[i - 1])
        out[n - 1] = u[n - 1] + lam * (u[n - 2] - u[n - 1])
        u, out = out, u
    return u


@njit(cache=True)
def heat_euler_2d(u, out, lam, steps):
    """Explicit Euler, 5-point stencil, no-flux walls (ghost cells mirror the boundary)."""
    nx, ny = u.shape
    for _ in range(steps):
        for i in range(nx):
            im = i - 1 if i > 0 else 0
            ip = i + 1 if i < nx - 1 else nx - 1
            for j in range(ny):
                jm = j - 1 if j > 0 else 0
                jp = j + 1 if j < ny - 1 else ny - 1
                out[i, j] = u[i, j] + lam * (u[ip, j] + u[im, j] + u[i, jp] + u[i, jm] - 4.0 * u[i, j])
        u, out = out, u
    return u


def heat_numpy_2d(u: np.ndarray, lam: float, steps: int) -> np.ndarray:
    """The same step in plain NumPy (slicing, with padding for the walls)."""
    for _ in range(steps):
        p = np.pad(u, 1, mode="edge")
        u = u + lam * (p[2:, 1:-1] + p[:-2, 1:-1] + p[1:-1, 2:] + p[1:-1, :-2] - 4 * u)
    return u
