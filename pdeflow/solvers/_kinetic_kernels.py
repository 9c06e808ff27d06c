"""Numba loops of the phase-space finite-volume method (:mod:`pdeflow.solvers.kinetic`).

A density ``f[i, j]`` on cells (θ_i, v_j) changes by the divergence of three face fluxes,

    L f = −∂θ(v f) − ∂v((a + c) f) − ∂v J,   a_i = −V'(θ_i),   J = (w⁺ f_j − w⁻ f_{j+1}) / h_v,

transport in θ at the cell's velocity v_j, transport in v under the force a_i plus a face
velocity c_{j+1/2} (the friction −γv when T = 0; else 0) (each upwind on a reconstructed edge
value: first order, or minmod-limited second order), and the
Scharfetter–Gummel flux of friction and noise, ``w^± = w(γT, ±γ(v²_{j+1} − v²_j)/2)`` (the
weights of :func:`~pdeflow.solvers.drift_diffusion.drift_diffusion_weight`), which vanishes on
the discrete Maxwellian ``f_j ∝ e^{−v_j²/2T}``. Walls carry no flux; θ may be periodic.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _minmod(a: float, b: float) -> float:
    if a * b <= 0.0:
        return 0.0
    return a if abs(a) < abs(b) else b


@numba.njit(cache=True)
def _edge(f_m, f_0, f_p, sign: float, order: int) -> float:
    """Value at the cell's edge on the side ``sign`` (+1 right, −1 left): f_0 ± slope/2."""
    if order == 1:
        return f_0
    return f_0 + 0.5 * sign * _minmod(f_0 - f_m, f_p - f_0)


@numba.njit(cache=True)
def kinetic_rate(f, v, a, c, w_plus, w_minus, h_theta, h_v, periodic, order, out):
    """``out = L f`` (module docstring). ``v`` (n_v,), ``a`` (n_θ,); ``c``, ``w_plus`` and
    ``w_minus`` (n_v − 1,): the face velocity and the SG weights of the interior v faces;
    ``order`` 1 or 2."""
    n, m = f.shape
    out[:, :] = 0.0
    # θ faces: i + 1/2 between cells i and i + 1 (periodic: the face n − 1 + 1/2 wraps to 0)
    faces = n if periodic else n - 1
    for j in range(m):
        u = v[j]
        for i in range(faces):
            left, right = i, (i + 1) % n
            if u > 0.0:
                lm = (left - 1) % n if periodic or left > 0 else left
                value = _edge(f[lm, j], f[left, j], f[right, j], 1.0, order)
            else:
                rp = (right + 1) % n if periodic or right < n - 1 else right
                value = _edge(f[rp, j], f[right, j], f[left, j], 1.0, order)
            flux = u * value / h_theta
            out[left, j] -= flux
            out[right, j] += flux
    # v faces: j + 1/2, force transport and SG; the walls j = −1/2 and m − 1/2 carry nothing
    for i in range(n):
        for j in range(m - 1):
            u = a[i] + c[j]
            if u > 0.0:
                value = _edge(f[i, max(j - 1, 0)], f[i, j], f[i, j + 1], 1.0, order)
            else:
                value = _edge(f[i, min(j + 2, m - 1)], f[i, j + 1], f[i, j], 1.0, order)
            flux = (u * value + (w_plus[j] * f[i, j] - w_minus[j] * f[i, j + 1]) / h_v) / h_v
            out[i, j] -= flux
            out[i, j + 1] += flux


@numba.njit(cache=True)
def kinetic_stage(alpha, x, beta, y, dt, v, a, c, w_plus, w_minus, h_theta, h_v, periodic,
                  order, out) -> int:
    """One SSP-RK stage, ``out = α x + β (y + dt L y)``; returns the number of negative cells."""
    kinetic_rate(y, v, a, c, w_plus, w_minus, h_theta, h_v, periodic, order, out)
    negative = 0
    n, m = out.shape
    for i in range(n):
        for j in range(m):
            value = alpha * x[i, j] + beta * (y[i, j] + dt * out[i, j])
            if value < 0.0:
                negative += 1
            out[i, j] = value
    return negative


def kinetic_rate_numpy(f, v, a, c, w_plus, w_minus, h_theta, h_v, periodic, order):
    """:func:`kinetic_rate` in plain NumPy (the reference its test compares against)."""
    def edges(g, axis, wrap):
        """Right and left edge values of every cell along ``axis``."""
        if order == 1:
            return g, g
        if wrap:
            back, ahead = np.roll(g, 1, axis), np.roll(g, -1, axis)
        else:
            pad = [(0, 0)] * 2
            pad[axis] = (1, 1)
            e = np.pad(g, pad, mode="edge")
            sl = [slice(None)] * 2
            sl[axis] = slice(0, -2)
            back = e[tuple(sl)]
            sl[axis] = slice(2, None)
            ahead = e[tuple(sl)]
        da, db = g - back, ahead - g
        slope = np.where(da * db <= 0, 0.0, np.where(np.abs(da) < np.abs(db), da, db))
        return g + 0.5 * slope, g - 0.5 * slope

    right, left = edges(f, 0, periodic)
    up = v[None, :] > 0
    if periodic:
        value = np.where(up, right, np.roll(left, -1, 0))
        flux = v[None, :] * value / h_theta
        rate = -flux + np.roll(flux, 1, 0)
    else:
        value = np.where(up, right[:-1], left[1:])
        flux = v[None, :] * value / h_theta
        rate = np.zeros_like(f)
        rate[:-1] -= flux
        rate[1:] += flux
    top, bottom = edges(f, 1, False)
    u = a[:, None] + c[None, :]
    value = np.where(u > 0, top[:, :-1], bottom[:, 1:])
    flux = (u * value + (w_plus * f[:, :-1] - w_minus * f[:, 1:]) / h_v) / h_v
    rate[:, :-1] -= flux
    rate[:, 1:] += flux
    return rate
