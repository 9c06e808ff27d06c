"""Numba loops of the phase-space finite-volume method (:mod:`pdeflow.solvers.kinetic`).

A density ``f[i1, i2, j1, j2]`` on cells (θ1, θ2, v1, v2) changes by the divergence of the face
fluxes along each axis,

    L f = −Σ_k ∂θk(v_k f) − Σ_k ∂vk((a_k + c_k) f) − Σ_k ∂vk J_k,
    a_k = −∂kV(θ),   J_k = (w⁺ f_j − w⁻ f_{j+1}) / h_vk,

transport in θ_k at the cell's velocity v_k, transport in v_k under the force a_k(θ) plus a face
velocity c_k,{j+1/2} (the friction −γv_k when T = 0; else 0) (each upwind on a reconstructed edge
value: first order, or minmod-limited second order), and the Scharfetter–Gummel flux of
friction and noise, ``w^± = w(γT, ±γ(v²_{j+1} − v²_j)/2)`` per velocity axis (the weights of
:func:`~pdeflow.solvers.drift_diffusion.drift_diffusion_weight`), which vanishes on the discrete
Maxwellian ``f ∝ e^{−|v|²/2T}``. Walls carry no flux; the θ axes may be periodic.

One θ (phase space (θ, v)) is the same array with θ2 and v2 of one cell each: shape (n, 1, m, 1),
whose θ2 and v2 axes have no faces. Every axis is one call of :func:`_sweep`, the flux loop along
the middle axis of the C-ordered view (cells before, the axis, cells after): the velocity along
an axis does not vary along it, so it is a small array over the other axes.
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
def _edge(f_m, f_0, f_p, order: int) -> float:
    """Value at the edge of cell 0 facing cell p: f_0 + slope/2 (minmod of the two differences)."""
    if order == 1:
        return f_0
    return f_0 + 0.5 * _minmod(f_0 - f_m, f_p - f_0)


@numba.njit(cache=True)
def _sweep(g, out, u, c, w_plus, w_minus, h, periodic, order):
    """Add to ``out`` the divergence along axis 1 of ``g`` (O, N, R) of the face flux

        F_{i+1/2} = (u[o, r] + c_i) f_edge + (w⁺_i f_i − w⁻_i f_{i+1}) / h,   out −= ΔF / h,

    ``f_edge`` the upwind reconstructed edge value; ``c``, ``w_plus``, ``w_minus`` per face (the
    face i + 1/2 between cells i and i + 1; periodic: N faces, the last wraps to 0)."""
    n = g.shape[1]
    faces = n if periodic else n - 1
    for o in range(g.shape[0]):
        for i in range(faces):
            left, right = i, (i + 1) % n
            back = (left - 1) % n if periodic or left > 0 else left
            ahead = (right + 1) % n if periodic or right < n - 1 else right
            ci, wp, wm = c[i], w_plus[i] / h, w_minus[i] / h
            for r in range(g.shape[2]):
                speed = u[o, r] + ci
                f_l, f_r = g[o, left, r], g[o, right, r]
                if speed > 0.0:
                    value = _edge(g[o, back, r], f_l, f_r, order)
                else:
                    value = _edge(g[o, ahead, r], f_r, f_l, order)
                flux = (speed * value + wp * f_l - wm * f_r) / h
                out[o, left, r] -= flux
                out[o, right, r] += flux


@numba.njit(cache=True)
def kinetic_rate(f, u, c, w_plus, w_minus, h, periodic, order, out):
    """``out = L f`` (module docstring) for ``f`` of shape (n1, n2, m1, m2), C-ordered.

    Per axis k of (θ1, θ2, v1, v2) (tuples of 4): ``u[k]`` the cell velocity along axis k (v_k on
    θ_k, the force a_k on v_k), which does not vary along axis k, as an array
    (n_0⋯n_{k−1}, n_{k+1}⋯n_3); ``c[k]``, ``w_plus[k]``, ``w_minus[k]`` one value per face (zeros
    on the θ axes); ``h`` (4,) the cell widths; ``periodic[k]``; ``order`` 1 or 2. Axis k is
    swept on the view (n_0⋯n_{k−1}, n_k, n_{k+1}⋯n_3): its innermost loop is contiguous.
    """
    out[...] = 0.0
    shape = f.shape
    outer = 1
    for k in range(4):
        inner = f.size // (outer * shape[k])
        view = (outer, shape[k], inner)
        _sweep(f.reshape(view), out.reshape(view), u[k], c[k], w_plus[k], w_minus[k], h[k],
               periodic[k], order)
        outer *= shape[k]


@numba.njit(cache=True)
def kinetic_stage(alpha, x, beta, y, dt, u, c, w_plus, w_minus, h, periodic, order, out) -> int:
    """One SSP-RK stage, ``out = α x + β (y + dt L y)``; returns the number of negative cells."""
    kinetic_rate(y, u, c, w_plus, w_minus, h, periodic, order, out)
    negative = 0
    flat_out, flat_x, flat_y = out.reshape(-1), x.reshape(-1), y.reshape(-1)
    for k in range(flat_out.size):
        value = alpha * flat_x[k] + beta * (flat_y[k] + dt * flat_out[k])
        if value < 0.0:
            negative += 1
        flat_out[k] = value
    return negative


def axis_velocity(velocity: np.ndarray, shape: tuple[int, ...], k: int) -> np.ndarray:
    """A velocity broadcastable to ``shape`` that does not vary along axis ``k``, as the
    (n_0⋯n_{k−1}, n_{k+1}⋯) array :func:`kinetic_rate` takes for that axis."""
    full = np.broadcast_to(velocity, shape).take(0, axis=k)
    return np.ascontiguousarray(full, dtype=float).reshape(
        int(np.prod(shape[:k], dtype=np.int64)), -1)


def kinetic_rate_numpy(f, velocity, c, w_plus, w_minus, h, periodic, order):
    """:func:`kinetic_rate` in plain NumPy for a phase-space array of any rank (the reference its
    test compares against): per axis k, ``velocity[k]`` broadcast to ``f.shape`` (the cell
    velocity; on the v axes the force), ``c[k]``, ``w_plus[k]``, ``w_minus[k]`` per face."""
    rate = np.zeros_like(f)
    for k in range(f.ndim):
        g = np.moveaxis(f, k, 0)
        u = np.moveaxis(np.broadcast_to(velocity[k], f.shape), k, 0)
        shape = (-1,) + (1,) * (f.ndim - 1)
        back, ahead = (np.roll(g, 1, 0), np.roll(g, -1, 0)) if periodic[k] else (
            np.concatenate([g[:1], g[:-1]]), np.concatenate([g[1:], g[-1:]]))
        da, db = g - back, ahead - g
        slope = np.where(da * db <= 0, 0.0, np.where(np.abs(da) < np.abs(db), da, db))
        if order == 1:
            slope = 0.0 * slope
        right_edge, left_edge = g + 0.5 * slope, g - 0.5 * slope
        nxt = np.roll(g, -1, 0) if periodic[k] else g[1:]
        faces = nxt.shape[0]
        speed = u[:faces] + np.reshape(c[k], shape)
        value = np.where(speed > 0, right_edge[:faces], np.roll(left_edge, -1, 0)[:faces])
        flux = (speed * value + (np.reshape(w_plus[k], shape) * g[:faces]
                                 - np.reshape(w_minus[k], shape) * nxt) / h[k]) / h[k]
        r = np.zeros_like(g)
        r[:faces] -= flux
        if periodic[k]:
            r += np.roll(flux, 1, 0)
        else:
            r[1:] += flux
        rate += np.moveaxis(r, 0, k)
    return rate
