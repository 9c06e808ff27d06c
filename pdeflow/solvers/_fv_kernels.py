"""Numba kernels of the finite-volume solver.

Two families, checked against each other (``python -m benchmarks.check_kernels``):

- Reference kernels, one axis at a time on a ``(n_before, n_axis, n_after)`` view of the field
  (a C-contiguous reshape, no copy, :func:`as_axis_view`): a loop over faces that adds
  ``-(J_{i+1/2} - J_{i-1/2}) / h`` into ``out`` and returns the rate that bounds the explicit
  step. The plainest statement of each flux.
- The solver's kernels, all axes in one call: a 1D or 2D field is viewed as 3D with leading unit
  axes, ``(1, 1, n)`` or ``(1, n0, n1)``, so that grid axis ``k`` of a ``d``-dimensional grid is
  view axis ``3 - d + k``. Each cell gathers the fluxes through its own faces,
  ``(L ρ)_i = Σ_k (J_{i-e_k/2} - J_{i+e_k/2}) / h_k``, row by row (fixed leading indices); a
  face's flux is the same expression evaluated from either side, so the scheme stays
  conservative to round-off, rows are independent, and the innermost loops run along contiguous
  memory and vectorise. Across a wall the neighbour index is clamped to the cell itself, which
  makes the flux through the wall vanish. A stage kernel fuses ``L`` with the SSP-RK3 stage
  combination ``α x + β (y + dt L(y))``.

Kernels are pure functions of arrays and scalars; nothing is allocated.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numba import njit
from numba.extending import overload


def _even_bernoulli_coefficients(terms: int) -> tuple[float, ...]:
    """B_2n / (2n)! for n < terms (Bernoulli numbers by the Akiyama–Tanigawa recurrence, exact)."""
    out = []
    for n in range(terms):
        m = 2 * n
        a = [Fraction(1, j + 1) for j in range(m + 1)]
        for top in range(m, 0, -1):
            for j in range(top):
                a[j] = (j + 1) * (a[j] - a[j + 1])
        out.append(float(a[0] / math.factorial(m)))  # a[0] = B_m (with B_1 = +1/2, unused)
    return tuple(out)


# B(z) = (z/2) coth(z/2) − z/2, the even part Σ_n B_2n z^2n / (2n)! (radius 2π). On |z| ≤ 1 the
# first eleven terms leave a remainder below 6e-18 (the n-th term is ~2 (2π)^−2n).
_BERNOULLI_SERIES = _even_bernoulli_coefficients(11)
_SERIES_RADIUS = 1.0
_B0, _B1, _B2, _B3, _B4, _B5, _B6, _B7, _B8, _B9, _B10 = _BERNOULLI_SERIES  # constants in kernels


@njit(cache=True, inline="always")
def _bernoulli_series(z):
    """B(z) on |z| ≤ 1 by its series (Horner in z², no branch: vectorises)."""
    x = z * z
    even = ((((((((((_B10 * x + _B9) * x + _B8) * x + _B7) * x + _B6) * x + _B5) * x + _B4) * x
               + _B3) * x + _B2) * x + _B1) * x + _B0)
    return even - 0.5 * z


@njit(cache=True, inline="always")
def _bernoulli_exact(z):
    """B(z) for z ≠ 0 from the exponential (accurate away from 0)."""
    if z > 0.0:
        e = math.exp(-z)
        return z * e / (1.0 - e)
    return z / math.expm1(z)


@njit(cache=True, inline="always")
def bernoulli(z):
    """B(z) = z / (eᶻ − 1), with B(0) = 1, stable for all z: the series on |z| ≤ 1 (where the
    faces of a resolved potential lie), the exponential beyond. Relative error ≤ 3e-16."""
    if abs(z) <= _SERIES_RADIUS:
        return _bernoulli_series(z)
    return _bernoulli_exact(z)


@njit(cache=True, inline="always")
def minmod(a, b):
    """The argument of smaller magnitude if a and b have one sign, else 0 (selects, no branches)."""
    m = min(a, b) if a > 0.0 else max(a, b)
    return m if a * b > 0.0 else 0.0


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
                small = bernoulli(abs(delta))  # B(|δ|); the other weight is B(|δ|) + |δ|
                w_plus, w_minus = small + max(-delta, 0.0), small + max(delta, 0.0)
                flux = coef * (w_plus * rho[a, i, c] - w_minus * rho[a, j, c])
                out[a, i, c] -= flux
                out[a, j, c] += flux
                rate = max(rate, w_plus, w_minus)
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


def as_axis_view(array: np.ndarray, axis: int) -> np.ndarray:
    """View a C-contiguous array as (n_before, n_axis, n_after)."""
    shape = array.shape
    before = int(np.prod(shape[:axis], dtype=np.int64))
    after = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return array.reshape(before, shape[axis], after)


def as_3d(array: np.ndarray) -> np.ndarray:
    """View a C-contiguous 1D, 2D or 3D array as 3D, with leading unit axes (no copy)."""
    return array.reshape((1,) * (3 - array.ndim) + array.shape)


@overload(as_3d)
def _as_3d_compiled(array):  # the same inside kernels, chosen by the array's type
    if array.ndim == 1:
        return lambda array: array.reshape((1, 1, array.shape[0]))
    if array.ndim == 2:
        return lambda array: array.reshape((1, array.shape[0], array.shape[1]))
    return lambda array: array


# -- all axes at once (the solver's kernels) ------------------------------------------------------


@njit(cache=True, inline="always")
def _neighbour(i, step, n, periodic):
    """Index of cell i + step on an axis of n cells: wrapped if periodic, else clamped to the wall."""
    j = i + step
    if periodic:
        return j % n
    return min(max(j, 0), n - 1)


@njit(cache=True)
def scharfetter_gummel_weights(phi, D, coef, periodic, w):
    """Face weights of the Scharfetter–Gummel flux, every axis (w: ``(d, 2) + as_3d(φ).shape``):

        w[k, 0] = B(δ),  w[k, 1] = B(−δ),  δ = (φ_{i+e_k} − φ_i) / D,

    at the face between cell i and i + e_k (stored at i; zero across a wall). Returns
    Σ_k 2 (D/h_k²) max(B(δ), B(−δ)) with ``coef[k] = D/h_k²``: the forward-Euler positivity rate,
    exactly as the sum of :func:`scharfetter_gummel_divergence`'s rates.
    """
    phi = as_3d(phi)
    shape = phi.shape
    d = coef.size
    inv_D = 1.0 / D
    inv_dt = 0.0
    for k in range(d):
        axis = 3 - d + k
        n = shape[axis]
        rate = 0.0
        for a in range(shape[0]):
            for b in range(shape[1]):
                if axis == 2:  # faces along the row: (a, b, c) to (a, b, c + 1)
                    last = n - 1
                    rate = max(rate, _sg_weights_row(phi[a, b, :last], phi[a, b, 1:], inv_D,
                                                     w[k, 0, a, b, :last], w[k, 1, a, b, :last]))
                    if periodic[k]:
                        delta = (phi[a, b, 0] - phi[a, b, last]) * inv_D
                        bd = bernoulli(abs(delta))
                        w[k, 0, a, b, last] = bd + max(-delta, 0.0)
                        w[k, 1, a, b, last] = bd + max(delta, 0.0)
                        rate = max(rate, bd + abs(delta))
                    else:
                        w[k, 0, a, b, last] = 0.0
                        w[k, 1, a, b, last] = 0.0
                    continue
                # faces between rows: (a, b, c) to (a, b + 1, c) or (a + 1, b, c)
                i = a if axis == 0 else b
                if i == n - 1 and not periodic[k]:
                    w[k, :, a, b, :] = 0.0
                    continue
                j = i + 1 if i + 1 < n else 0
                na, nb = (j, b) if axis == 0 else (a, j)
                rate = max(rate, _sg_weights_row(phi[a, b, :], phi[na, nb, :], inv_D,
                                                 w[k, 0, a, b, :], w[k, 1, a, b, :]))
        inv_dt += 2.0 * (rate * coef[k])
    return inv_dt


@njit(cache=True, inline="always")
def _sg_weights_row(left, right, inv_D, w_plus, w_minus):
    """w_plus = B(δ), w_minus = B(−δ) with δ = (right − left)/D, along one row; returns the
    largest weight. Both come from the small one, B(|δ|), plus |δ| for the large one
    (B(−a) = a + B(a)): forming the small one as a difference of large ones (B(δ) + δ at
    δ = −30) would lose all but three of its digits, and with them the stationarity of steep
    Gibbs states. The series pass vectorises; faces with |δ| > 1 are redone."""
    n = left.size
    far = False
    for c in range(n):
        delta = (right[c] - left[c]) * inv_D
        bd = _bernoulli_series(abs(delta))
        w_plus[c] = bd + max(-delta, 0.0)
        w_minus[c] = bd + max(delta, 0.0)
        far |= abs(delta) > _SERIES_RADIUS
    if far:
        for c in range(n):
            delta = (right[c] - left[c]) * inv_D
            if abs(delta) > _SERIES_RADIUS:
                bd = _bernoulli_exact(abs(delta))
                w_plus[c] = bd + max(-delta, 0.0)
                w_minus[c] = bd + max(delta, 0.0)
    rate = 0.0
    for c in range(n):
        rate = max(rate, w_plus[c], w_minus[c])
    return rate


@njit(cache=True)
def _sg_face(w, k, a, b, c, coef, rho_left, rho_right):
    """J/h = (D/h²) [B(δ) ρ_left − B(−δ) ρ_right] through the face after cell (a, b, c) on axis k;
    ``w is None`` stands for B ≡ 1 (Φ uniform: pure diffusion)."""
    if w is None:
        return coef * (rho_left - rho_right)
    return coef * (w[k, 0, a, b, c] * rho_left - w[k, 1, a, b, c] * rho_right)


@njit(cache=True)
def sg_row(rho, w, coef, periodic, a, b, out):
    """out[a, b, :] = L(ρ) = Σ_k (J_{i−e_k/2} − J_{i+e_k/2}) / h_k on one row, Scharfetter–Gummel."""
    shape = rho.shape
    d = coef.size
    k = d - 1  # the last axis: faces along the row
    n = shape[2]
    m = n - 1
    if n == 1:
        out[a, b, 0] = 0.0
    else:
        ck = coef[k]
        lo = _neighbour(0, -1, n, periodic[k])
        hi = _neighbour(m, 1, n, periodic[k])
        out[a, b, 0] = (_sg_face(w, k, a, b, m, ck, rho[a, b, lo], rho[a, b, 0])
                        - _sg_face(w, k, a, b, 0, ck, rho[a, b, 0], rho[a, b, 1]))
        for c in range(1, m):
            out[a, b, c] = (_sg_face(w, k, a, b, c - 1, ck, rho[a, b, c - 1], rho[a, b, c])
                            - _sg_face(w, k, a, b, c, ck, rho[a, b, c], rho[a, b, c + 1]))
        out[a, b, m] = (_sg_face(w, k, a, b, m - 1, ck, rho[a, b, m - 1], rho[a, b, m])
                        - _sg_face(w, k, a, b, m, ck, rho[a, b, m], rho[a, b, hi]))
    if d >= 2 and shape[1] > 1:  # faces between rows b − 1, b and b, b + 1
        k = d - 2
        n = shape[1]
        ck = coef[k]
        left, face, right = (_neighbour(b, -1, n, periodic[k]), _neighbour(b, -1, n, True),
                             _neighbour(b, 1, n, periodic[k]))
        for c in range(shape[2]):
            out[a, b, c] += (_sg_face(w, k, a, face, c, ck, rho[a, left, c], rho[a, b, c])
                             - _sg_face(w, k, a, b, c, ck, rho[a, b, c], rho[a, right, c]))
    if d == 3 and shape[0] > 1:
        n = shape[0]
        ck = coef[0]
        left, face, right = (_neighbour(a, -1, n, periodic[0]), _neighbour(a, -1, n, True),
                             _neighbour(a, 1, n, periodic[0]))
        for c in range(shape[2]):
            out[a, b, c] += (_sg_face(w, 0, face, b, c, ck, rho[left, b, c], rho[a, b, c])
                             - _sg_face(w, 0, a, b, c, ck, rho[a, b, c], rho[right, b, c]))


@njit(cache=True)
def scharfetter_gummel_apply(rho, w, coef, periodic, out):
    """out = L(ρ), the Scharfetter–Gummel divergence on every axis (``out`` must not alias
    ``rho``). ``w`` from :func:`scharfetter_gummel_weights`, or None when Φ is uniform."""
    rho, out = as_3d(rho), as_3d(out)
    for a in range(rho.shape[0]):
        for b in range(rho.shape[1]):
            sg_row(rho, w, coef, periodic, a, b, out)


@njit(cache=True)
def scharfetter_gummel_stage(rho, w, coef, periodic, alpha, x, beta, dt, threshold, out):
    """out = α x + β (ρ + dt L(ρ)), an SSP-RK3 stage with the Scharfetter–Gummel flux.

    Returns (cells < 0, cells not < threshold: at or above it, or NaN). ``out`` must not alias
    ``rho`` or ``x``.
    """
    rho, x, out = as_3d(rho), as_3d(x), as_3d(out)
    negative, high = 0, 0
    for a in range(rho.shape[0]):
        for b in range(rho.shape[1]):
            sg_row(rho, w, coef, periodic, a, b, out)
            row_negative, row_high = _combine_row(alpha, x, beta, rho, dt, threshold, a, b, out)
            negative += row_negative
            high += row_high
    return negative, high


@njit(cache=True)
def _combine_row(alpha, x, beta, y, dt, threshold, a, b, out):
    """out = α x + β (y + dt out) on row (a, b), out holding L(y); counts as the stage kernels."""
    negative, high = 0, 0
    for c in range(out.shape[2]):
        v = alpha * x[a, b, c] + beta * (y[a, b, c] + dt * out[a, b, c])
        out[a, b, c] = v
        negative += v < 0.0
        high += not v < threshold
    return negative, high


@njit(cache=True)
def _cch_face(inv_h, xi_left, xi_right, rho_ll, rho_l, rho_r, rho_rr):
    """F/h = (u⁺ ρᴱ_l + u⁻ ρᵂ_r) / h through the face between cells l and r, u = −(ξ_r − ξ_l)/h,
    ρᴱ_l = ρ_l + s_l/2, ρᵂ_r = ρ_r − s_r/2, s the minmod slopes."""
    u = (xi_left - xi_right) * inv_h
    east = rho_l + 0.5 * minmod(rho_r - rho_l, rho_l - rho_ll)
    west = rho_r - 0.5 * minmod(rho_rr - rho_r, rho_r - rho_l)
    return u * (east if u > 0.0 else west) * inv_h


@njit(cache=True)
def _cch_along_row(rho, xi, inv_h, a, b, c2l, cl, c, cr, c2r):
    """(F_{c−1/2} − F_{c+1/2}) / h on the last axis, neighbours at indices c2l, cl, cr, c2r."""
    return (_cch_face(inv_h, xi[a, b, cl], xi[a, b, c], rho[a, b, c2l], rho[a, b, cl], rho[a, b, c],
                      rho[a, b, cr])
            - _cch_face(inv_h, xi[a, b, c], xi[a, b, cr], rho[a, b, cl], rho[a, b, c], rho[a, b, cr],
                        rho[a, b, c2r]))


@njit(cache=True)
def cch_row(rho, xi, inv_h, periodic, a, b, out):
    """out[a, b, :] = L(ρ) = −div F on one row, Carrillo–Chertock–Huang (stencil ±2)."""
    shape = rho.shape
    d = inv_h.size
    k = d - 1
    n = shape[2]
    p = periodic[k]
    if n == 1:
        out[a, b, 0] = 0.0
    else:
        edge = min(2, n)
        for c in range(edge):
            out[a, b, c] = _cch_along_row(rho, xi, inv_h[k], a, b, _neighbour(c, -2, n, p),
                                          _neighbour(c, -1, n, p), c, _neighbour(c, 1, n, p),
                                          _neighbour(c, 2, n, p))
        for i in range(n - 4):  # cell i + 2 (indices written non-negative: no wraparound test)
            out[a, b, i + 2] = _cch_along_row(rho, xi, inv_h[k], a, b, i, i + 1, i + 2, i + 3, i + 4)
        for c in range(max(edge, n - 2), n):
            out[a, b, c] = _cch_along_row(rho, xi, inv_h[k], a, b, _neighbour(c, -2, n, p),
                                          _neighbour(c, -1, n, p), c, _neighbour(c, 1, n, p),
                                          _neighbour(c, 2, n, p))
    if d >= 2 and shape[1] > 1:
        k = d - 2
        n = shape[1]
        p = periodic[k]
        ih = inv_h[k]
        l2, l1 = _neighbour(b, -2, n, p), _neighbour(b, -1, n, p)
        r1, r2 = _neighbour(b, 1, n, p), _neighbour(b, 2, n, p)
        for c in range(shape[2]):
            out[a, b, c] += (
                _cch_face(ih, xi[a, l1, c], xi[a, b, c], rho[a, l2, c], rho[a, l1, c], rho[a, b, c],
                          rho[a, r1, c])
                - _cch_face(ih, xi[a, b, c], xi[a, r1, c], rho[a, l1, c], rho[a, b, c], rho[a, r1, c],
                            rho[a, r2, c]))
    if d == 3 and shape[0] > 1:
        n = shape[0]
        p = periodic[0]
        ih = inv_h[0]
        l2, l1 = _neighbour(a, -2, n, p), _neighbour(a, -1, n, p)
        r1, r2 = _neighbour(a, 1, n, p), _neighbour(a, 2, n, p)
        for c in range(shape[2]):
            out[a, b, c] += (
                _cch_face(ih, xi[l1, b, c], xi[a, b, c], rho[l2, b, c], rho[l1, b, c], rho[a, b, c],
                          rho[r1, b, c])
                - _cch_face(ih, xi[a, b, c], xi[r1, b, c], rho[l1, b, c], rho[a, b, c], rho[r1, b, c],
                            rho[r2, b, c]))


@njit(cache=True)
def upwind_apply(rho, xi, inv_h, periodic, out):
    """out = L(ρ) = −div F, the Carrillo–Chertock–Huang flux on every axis (``out`` must not
    alias ``rho``); ``inv_h[k] = 1/h_k``."""
    rho, xi, out = as_3d(rho), as_3d(xi), as_3d(out)
    for a in range(rho.shape[0]):
        for b in range(rho.shape[1]):
            cch_row(rho, xi, inv_h, periodic, a, b, out)


@njit(cache=True)
def upwind_stage(rho, xi, inv_h, periodic, alpha, x, beta, dt, threshold, out):
    """out = α x + β (ρ + dt L(ρ)) with the CCH flux; returns counts as
    :func:`scharfetter_gummel_stage`."""
    rho, xi, x, out = as_3d(rho), as_3d(xi), as_3d(x), as_3d(out)
    negative, high = 0, 0
    for a in range(rho.shape[0]):
        for b in range(rho.shape[1]):
            cch_row(rho, xi, inv_h, periodic, a, b, out)
            row_negative, row_high = _combine_row(alpha, x, beta, rho, dt, threshold, a, b, out)
            negative += row_negative
            high += row_high
    return negative, high


@njit(cache=True)
def largest_jumps(xi, periodic, out):
    """out[k] = max over the faces of axis k of |ξ_{i+e_k} − ξ_i| (3D view; walls have no face).

    The CCH speed bound is max|u_k| = out[k] / h_k, exactly (division is monotone).
    """
    xi = as_3d(xi)
    shape = xi.shape
    d = out.size
    for k in range(d):
        out[k] = 0.0
    for a in range(shape[0]):
        for b in range(shape[1]):
            k = d - 1
            n = shape[2]
            jump = out[k]
            for c in range(n - 1):
                v = abs(xi[a, b, c + 1] - xi[a, b, c])
                if v > jump:
                    jump = v
            if periodic[k] and n > 1:
                jump = max(jump, abs(xi[a, b, 0] - xi[a, b, n - 1]))
            out[k] = jump
            for axis in range(3 - d, 2):
                k = axis - (3 - d)
                n = shape[axis]
                i = a if axis == 0 else b
                if i == n - 1 and not periodic[k]:
                    continue
                j = i + 1 if i + 1 < n else 0
                jump = out[k]
                for c in range(shape[2]):
                    v = abs(xi[j, b, c] - xi[a, b, c]) if axis == 0 else abs(xi[a, j, c] - xi[a, b, c])
                    if v > jump:
                        jump = v
                out[k] = jump
    return out
