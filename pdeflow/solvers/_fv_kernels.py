"""Numba kernels of the finite-volume solver: one axis at a time, on a 3D view of the field.

A density of any dimension is viewed as ``(n_before, n_axis, n_after)`` (a C-contiguous reshape,
no copy), so one kernel serves every axis of 1D, 2D and 3D grids. Kernels are pure functions of
arrays and scalars; they add ``-(J_{i+1/2} - J_{i-1/2}) / h`` into ``out`` and return the largest
rate that bounds the explicit time step. Nothing is allocated.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def bernoulli(z):
    """B(z) = z / (eᶻ − 1), with B(0) = 1, stable for all z."""
    if abs(z) < 1e-6:
        return 1.0 - 0.5 * z + z * z / 12.0
    if z > 0.0:
        e = math.exp(-z)
        return z * e / (1.0 - e)
    return z / math.expm1(z)


@njit(cache=True, inline="always")
def minmod(a, b):
    if a * b <= 0.0:
        return 0.0
    if a > 0.0:
        return min(a, b)
    return max(a, b)


@njit(cache=True)
def scharfetter_gummel_divergence(rho, phi, D, h, periodic, out):
    """out_i −= (J_{i+1/2} − J_{i−1/2}) / h for ∂t ρ = ∇·(D∇ρ + ρ∇φ), the Scharfetter–Gummel flux

        J_{i+1/2} = (D/h) [B(δ) ρ_i − B(−δ) ρ_{i+1}],  δ = (φ_{i+1} − φ_i) / D,  B(z) = z / (eᶻ − 1).

    Returns max over faces of (D/h²)·max(B(δ), B(−δ)): a cell's outflow rate is at most twice it
    per axis, which bounds the positivity-preserving forward-Euler step.
    """
    nb, n, na = rho.shape
    n_faces = n if periodic else n - 1
    inv_D = 1.0 / D
    coef = D / (h * h)  # (J / h) = coef · [B(δ) ρ_i − B(−δ) ρ_{i+1}]
    rate = 0.0
    for a in range(nb):
        for f in range(n_faces):
            i = f
            j = f + 1 if f + 1 < n else 0
            for c in range(na):
                delta = (phi[a, j, c] - phi[a, i, c]) * inv_D
                b = bernoulli(delta)  # B(δ); B(−δ) = B(δ) + δ
                flux = coef * (b * rho[a, i, c] - (b + delta) * rho[a, j, c])
                out[a, i, c] -= flux
                out[a, j, c] += flux
                rate = max(rate, b, b + delta)
    return rate * coef


@njit(cache=True, inline="always")
def _limited_slope(rho, a, i, c, n, periodic):
    """Minmod slope (times h) of cell i; zero in a wall cell (first order at walls)."""
    if periodic:
        left = rho[a, i - 1 if i > 0 else n - 1, c]
        right = rho[a, i + 1 if i + 1 < n else 0, c]
    else:
        if i == 0 or i == n - 1:
            return 0.0
        left = rho[a, i - 1, c]
        right = rho[a, i + 1, c]
    here = rho[a, i, c]
    return minmod(right - here, here - left)


@njit(cache=True)
def upwind_divergence(rho, xi, h, periodic, out):
    """out_i −= (F_{i+1/2} − F_{i−1/2}) / h, the Carrillo–Chertock–Huang flux for ∂t ρ = ∇·(ρ∇ξ).

    F_{i+1/2} = u⁺ ρᴱ_i + u⁻ ρᵂ_{i+1},  u_{i+1/2} = −(ξ_{i+1} − ξ_i)/h, with the face values
    ρᴱ_i = ρ_i + s_i/2, ρᵂ_i = ρ_i − s_i/2 of the minmod-limited reconstruction (non-negative
    whenever ρ is). Returns max |u| over faces.
    """
    nb, n, na = rho.shape
    n_faces = n if periodic else n - 1
    speed = 0.0
    for a in range(nb):
        for f in range(n_faces):
            i = f
            j = f + 1 if f + 1 < n else 0
            for c in range(na):
                u = -(xi[a, j, c] - xi[a, i, c]) / h
                if u > 0.0:
                    flux = u * (rho[a, i, c] + 0.5 * _limited_slope(rho, a, i, c, n, periodic))
                else:
                    flux = u * (rho[a, j, c] - 0.5 * _limited_slope(rho, a, j, c, n, periodic))
                out[a, i, c] -= flux / h
                out[a, j, c] += flux / h
                if abs(u) > speed:
                    speed = abs(u)
    return speed


@njit(cache=True)
def axpby(alpha, x, beta, y, out):
    """out = α x + β y on 1D views (the SSP-RK3 stage combinations); returns min(out)."""
    lowest = np.inf
    for k in range(out.size):
        v = alpha * x[k] + beta * y[k]
        out[k] = v
        if v < lowest:
            lowest = v
    return lowest


def as_axis_view(array: np.ndarray, axis: int) -> np.ndarray:
    """View a C-contiguous array as (n_before, n_axis, n_after)."""
    shape = array.shape
    before = int(np.prod(shape[:axis], dtype=np.int64))
    after = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return array.reshape(before, shape[axis], after)
