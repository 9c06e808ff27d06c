"""Numba kernels of the back-and-forth JKO: exact grid c-transforms and the pull-back density.

c-transform. On the cell centres x_i of a grid, with c(x, y) = |x − y|²/(2τ),

    φ^c(y_j) = min_i  φ(x_i) + |x_i − y_j|²/(2τ),

exactly (the minimum over every cell, no truncation). The cost is a sum over axes, so the
minimum is taken one axis at a time: min_{i1, i2} = min_{i1} [c1 + min_{i2} (φ + c2)]. Along
one line it is the lower envelope of the parabolas q ↦ φ_i + a (q − i)², a = h²/(2τ), in index
units (Felzenszwalb–Huttenlocher 2012): the envelope is built left to right in O(n) by
discarding parabolas hidden by their neighbours, then read off at the n centres. A periodic
axis uses the minimum-image distance; the line is then laid out three times (images at
−L, 0, +L), which holds every minimiser since the periodic distance is at most L/2.

The c̄-transform ψ^c̄(x) = max_y ψ(y) − |x − y|²/(2τ) is −(−ψ)^c, the same kernel.

Pull-back. For φ on the grid, Y(x) = x + sτ∇φ(x) (s = ±1) and

    pulled(x) = μ(Y(x)) det(I + sτ D²φ(x)),

the density of the push-forward of μ by Y⁻¹ wherever Y is a diffeomorphism (the Jacobian
formula). ∇φ and D²φ are centred differences (walls: mirror ghost cells, the discrete
no-flux condition; periodic axes wrap), μ(Y) is bilinear between the cell centres (Y clamped
to the outermost centres at walls, wrapped on periodic axes), and a negative determinant —
where φ is not c-concave, which the iteration removes — counts as 0.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _envelope_line(f, n_src, offset, a, n_out, out, v, z, periodic, refine):
    """out[j] = min_k f[k % n] + a (k − offset − j)² over the n_src points k (index units).

    v (int, n_src) and z (float, n_src + 1) are work arrays: the parabolas of the envelope and
    the boundaries between them.
    """
    n = f.shape[0]
    k = 0
    v[0] = 0
    z[0] = -np.inf
    z[1] = np.inf
    for q in range(1, n_src):
        fq = f[q % n] + a * q * q
        p = v[k]
        s = (fq - (f[p % n] + a * p * p)) / (2.0 * a * (q - p))
        while s <= z[k]:  # parabola v[k] is hidden: drop it (z[0] = −∞ stops at k = 0)
            k -= 1
            p = v[k]
            s = (fq - (f[p % n] + a * p * p)) / (2.0 * a * (q - p))
        k += 1
        v[k] = q
        z[k] = s
        z[k + 1] = np.inf
    k = 0
    for j in range(n_out):
        y = j + offset
        while z[k + 1] < y:
            k += 1
        q = v[k]
        d = y - q
        best = f[q % n] + a * d * d
        if refine:
            # the quadratic through the values at qc − 1, qc, qc + 1 (qc = q, moved inside the
            # line at walls), minimised with the cost over [q − 1, q + 1] (within the line)
            qc = q if periodic else min(max(q, 1), n - 2)
            fm, f0, fp = f[(qc - 1) % n], f[qc % n], f[(qc + 1) % n]
            g = 0.5 * (fp - fm)
            c = fp - 2.0 * f0 + fm
            lo, hi = q - 1.0, q + 1.0
            if not periodic:
                lo, hi = max(lo, 0.0), min(hi, n - 1.0)
            if c + 2.0 * a > 0.0:
                x = qc + (2.0 * a * (y - qc) - g) / (c + 2.0 * a)
                x = min(max(x, lo), hi)
                u = x - qc
                value = f0 + g * u + 0.5 * c * u * u + a * (x - y) * (x - y)
                if value < best:
                    best = value
        out[j] = best


@numba.njit(cache=True)
def c_transform_rows(values, a, periodic, refine, out, v, z):
    """Row-wise lower envelope: out[r, j] = min_i values[r, i] + a·dist(i, j)², dist in cells
    (minimum image when ``periodic``). v, z: work arrays of 3n and 3n + 1 entries."""
    rows, n = values.shape
    for r in range(rows):
        if periodic:
            _envelope_line(values[r], 3 * n, n, a, n, out[r], v, z, True, refine)
        else:
            _envelope_line(values[r], n, 0, a, n, out[r], v, z, False, refine)


def c_transform(phi: np.ndarray, tau: float, dx, periodic, sign: float = 1.0,
                refine: bool = True) -> np.ndarray:
    """φ^c(y) = min_x φ(x) + |x − y|²/(2τ) on the grid (sign = +1); with sign = −1 the
    c̄-transform ψ^c̄(x) = max_y ψ(y) − |x − y|²/(2τ) = −(−ψ)^c."""
    out = sign * np.asarray(phi, dtype=float)
    n_max = max(phi.shape)
    v = np.empty(3 * n_max, dtype=np.int64)
    z = np.empty(3 * n_max + 1)
    for axis in reversed(range(out.ndim)):
        moved = np.ascontiguousarray(np.moveaxis(out, axis, -1))
        lines = moved.reshape(-1, moved.shape[-1])
        result = np.empty_like(lines)
        c_transform_rows(lines, dx[axis] ** 2 / (2.0 * tau), bool(periodic[axis]), refine, result, v, z)
        out = np.moveaxis(result.reshape(moved.shape), -1, axis)
    return sign * np.ascontiguousarray(out)


@numba.njit(cache=True)
def _index(i, n, periodic):
    if periodic:
        return i % n
    return min(max(i, 0), n - 1)


@numba.njit(cache=True)
def pull_back_2d(mu, phi, s_tau, hx, hy, px, py, out):
    """out = μ(x + sτ∇φ) · max(det(I + sτD²φ), 0) on a 2D grid (module docstring); s_tau = sτ."""
    nx, ny = phi.shape
    for i in range(nx):
        im, ip = _index(i - 1, nx, px), _index(i + 1, nx, px)
        for j in range(ny):
            jm, jp = _index(j - 1, ny, py), _index(j + 1, ny, py)
            c = phi[i, j]
            gx = (phi[ip, j] - phi[im, j]) / (2.0 * hx)
            gy = (phi[i, jp] - phi[i, jm]) / (2.0 * hy)
            dxx = (phi[ip, j] - 2.0 * c + phi[im, j]) / (hx * hx)
            dyy = (phi[i, jp] - 2.0 * c + phi[i, jm]) / (hy * hy)
            dxy = (phi[ip, jp] - phi[ip, jm] - phi[im, jp] + phi[im, jm]) / (4.0 * hx * hy)
            det = (1.0 + s_tau * dxx) * (1.0 + s_tau * dyy) - s_tau * s_tau * dxy * dxy
            if det <= 0.0:
                out[i, j] = 0.0
                continue
            # Y in index units, then bilinear interpolation of mu between cell centres
            qx = i + s_tau * gx / hx
            qy = j + s_tau * gy / hy
            if not px:
                qx = min(max(qx, 0.0), nx - 1.0)
            if not py:
                qy = min(max(qy, 0.0), ny - 1.0)
            ix = int(np.floor(qx))
            iy = int(np.floor(qy))
            fx = qx - ix
            fy = qy - iy
            i0, i1 = _index(ix, nx, px), _index(ix + 1, nx, px)
            j0, j1 = _index(iy, ny, py), _index(iy + 1, ny, py)
            value = ((1.0 - fx) * ((1.0 - fy) * mu[i0, j0] + fy * mu[i0, j1])
                     + fx * ((1.0 - fy) * mu[i1, j0] + fy * mu[i1, j1]))
            out[i, j] = value * det
