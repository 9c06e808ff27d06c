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
the first axis of a transposed view whose velocity depends on its second and third axes.
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
    """Add to ``out`` the divergence along axis 0 of ``g`` (N, P, Q, R) of the face flux

        F_{i+1/2} = (u[p, q] + c_i) f_edge + (w⁺_i f_i − w⁻_i f_{i+1}) / h,   out −= ΔF / h,

    ``f_edge`` the upwind reconstructed edge value; ``c``, ``w_plus``, ``w_minus`` per face (the
    face i + 1/2 between cells i and i + 1; periodic: N faces, the last wraps to 0)."""
    n = g.shape[0]
    faces = n if periodic else n - 1
    for i in range(faces):
        left, right = i, (i + 1) % n
        back = (left - 1) % n if periodic or left > 0 else left
        ahead = (right + 1) % n if periodic or right < n - 1 else right
        ci, wp, wm = c[i], w_plus[i] / h, w_minus[i] / h
        for p in range(g.shape[1]):
            for q in range(g.shape[2]):
                speed = u[p, q] + ci
                for r in range(g.shape[3]):
                    f_l, f_r = g[left, p, q, r], g[right, p, q, r]
                    if speed > 0.0:
                        value = _edge(g[back, p, q, r], f_l, f_r, order)
                    else:
                        value = _edge(g[ahead, p, q, r], f_r, f_l, order)
                    flux = (speed * value + wp * f_l - wm * f_r) / h
                    out[left, p, q, r] -= flux
                    out[right, p, q, r] += flux


@numba.njit(cache=True)
def kinetic_rate(f, u_theta1, u_theta2, force, c, w_plus, w_minus, h, periodic, order, out):
    """``out = L f`` (module docstring) for ``f`` of shape (n1, n2, m1, m2).

    ``u_theta1`` (n2, m1): v1 per (θ2, v1); ``u_theta2`` (m2, n1): v2 per (v2, θ1); ``force``
    (2, n1, n2): a_1, a_2; ``c``, ``w_plus``, ``w_minus``: tuples of 4 arrays, per axis
    (θ1, θ2, v1, v2) one value per face (zeros on the θ axes); ``h`` (4,) the cell widths;
    ``periodic`` (2,) of the θ axes; ``order`` 1 or 2.
    """
    out[...] = 0.0
    _sweep(f, out, u_theta1, c[0], w_plus[0], w_minus[0], h[0], periodic[0], order)
    _sweep(f.transpose((1, 3, 0, 2)), out.transpose((1, 3, 0, 2)), u_theta2, c[1], w_plus[1],
           w_minus[1], h[1], periodic[1], order)
    _sweep(f.transpose((2, 0, 1, 3)), out.transpose((2, 0, 1, 3)), force[0], c[2], w_plus[2],
           w_minus[2], h[2], False, order)
    _sweep(f.transpose((3, 0, 1, 2)), out.transpose((3, 0, 1, 2)), force[1], c[3], w_plus[3],
           w_minus[3], h[3], False, order)


@numba.njit(cache=True)
def kinetic_stage(alpha, x, beta, y, dt, u_theta1, u_theta2, force, c, w_plus, w_minus, h,
                  periodic, order, out) -> int:
    """One SSP-RK stage, ``out = α x + β (y + dt L y)``; returns the number of negative cells."""
    kinetic_rate(y, u_theta1, u_theta2, force, c, w_plus, w_minus, h, periodic, order, out)
    negative = 0
    flat_out, flat_x, flat_y = out.reshape(-1), x.reshape(-1), y.reshape(-1)
    for k in range(flat_out.size):
        value = alpha * flat_x[k] + beta * (flat_y[k] + dt * flat_out[k])
        if value < 0.0:
            negative += 1
        flat_out[k] = value
    return negative


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
