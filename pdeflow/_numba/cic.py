"""Cloud-in-cell (CIC) deposit of particles on a grid, and its transpose, the interpolation of
grid fields at the particles: the loops of :mod:`pdeflow.deposit`.

Positions are ``X`` of shape ``(N, d)``, d = 1, 2, 3; weights ``w`` of shape ``(N,)``. A grid is
given by its lower corner ``lo``, cell widths ``h``, cells per axis ``n`` and ``periodic`` flags;
grid arrays are passed flat (C order, axis 0 slowest). Cell-centred, so the CIC weights of a
particle at ``x`` along one axis are ``1 − f`` on cell ``i`` and ``f`` on ``i + 1``, with
``s = (x − lo)/h − ½``, ``i = ⌊s⌋``, ``f = s − i``. Beyond a wall the ghost cell is the mirror of
the edge cell (the contribution folds back, mass is kept); periodic axes wrap. One thread: the
O(N) loops are memory-bound. The kernels write into ``out`` and allocate nothing.
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True, inline="always")
def _cic_axis(x, lo, h, n, periodic):
    """(i0, i1, f) of the CIC stencil along one axis, walls folded and periodic axes wrapped."""
    s = (x - lo) / h - 0.5
    i = math.floor(s)
    f = s - i
    i0, i1 = i, i + 1
    if periodic:
        i0 %= n
        i1 %= n
    else:  # the ghost cell beyond a wall is the edge cell (fold back); outside the box: clamp
        i0 = min(max(i0, 0), n - 1)
        i1 = min(max(i1, 0), n - 1)
    return i0, i1, f


@njit(cache=True, inline="always")
def _corner(X, p, corner, lo, h, n, periodic):
    """(flat cell index, CIC weight) of corner ``corner`` (bit k: i0 or i1 on axis k) of particle p."""
    weight = 1.0
    flat = 0
    for k in range(X.shape[1]):
        i0, i1, f = _cic_axis(X[p, k], lo[k], h[k], n[k], periodic[k])
        if (corner >> k) & 1:
            weight *= f
            flat = flat * n[k] + i1
        else:
            weight *= 1.0 - f
            flat = flat * n[k] + i0
    return flat, weight


@njit(cache=True)
def cic_deposit(X, w, lo, h, n, periodic, out):
    """out_c += Σ_p w_p Π_k W_k(x_pk) / |cell| over the 2^d corner cells c of each particle."""
    N, d = X.shape
    inv_volume = 1.0
    for k in range(d):
        inv_volume /= h[k]
    for p in range(N):
        for corner in range(1 << d):
            flat, weight = _corner(X, p, corner, lo, h, n, periodic)
            out[flat] += w[p] * inv_volume * weight


@njit(cache=True)
def cic_interpolate(field, X, lo, h, n, periodic, out):
    """out[p, c] = Σ_corners Π_k W_k(x_pk) field[c, corner]: the transpose of the CIC deposit."""
    N, d = X.shape
    ncomp = field.shape[0]
    for p in range(N):
        for c in range(ncomp):
            out[p, c] = 0.0
        for corner in range(1 << d):
            flat, weight = _corner(X, p, corner, lo, h, n, periodic)
            for c in range(ncomp):
                out[p, c] += weight * field[c, flat]
