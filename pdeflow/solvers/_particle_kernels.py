"""Numba kernels of the particle solver: the position update, pair sums, the blob velocity and
the kernel density estimate at the particles.

Positions are ``X`` of shape ``(N, d)``, d = 1, 2, 3; weights ``w`` of shape ``(N,)``. A grid is
given by its lower corner ``lo``, cell widths ``h``, cells per axis ``n`` and ``periodic`` flags.
The cloud-in-cell deposit and interpolation, which :mod:`pdeflow.deposit` shares, are
:mod:`pdeflow._numba.cic`.

Kernels are pure functions of arrays and scalars, write into ``out`` and allocate nothing. The
O(N) kernels run on one thread (memory-bound: threads do not pay); the pair sums come as a
per-target body shared by a parallel driver (``prange`` over targets) and a serial one, chosen by
the caller from the amount of work (starting threads costs milliseconds on a busy machine).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..kernels import GaussianKernel, Newtonian

# direct pair sums: k'(r)/r for the closed-form kernels, r softened to r_δ = √(r² + δ²)
NEWTONIAN_1D, NEWTONIAN_2D, NEWTONIAN_3D, GAUSSIAN = 0, 1, 2, 3
PARALLEL_WORK = 2_000_000  # pair evaluations above which the pair sums run on all threads


@njit(cache=True)
def advance_positions(X, v, noise, dt, amplitude, lo, hi, periodic, walls=True):
    """X ← X + dt v + amplitude ξ (Euler–Maruyama), then reflect at walls and wrap periodic axes.

    ``noise`` is read only when ``amplitude != 0``. A reflection ``x ↦ 2a − x`` is repeated until
    the particle is inside (a step longer than the box folds back and forth). ``walls=False``:
    non-periodic axes are left open (the box is a window, not a wall).
    """
    N, d = X.shape
    for p in range(N):
        for k in range(d):
            x = X[p, k] + dt * v[p, k]
            if amplitude != 0.0:
                x += amplitude * noise[p, k]
            a, b = lo[k], hi[k]
            if periodic[k]:
                x = a + (x - a) % (b - a)
            elif walls:
                while x < a or x > b:
                    x = 2.0 * a - x if x < a else 2.0 * b - x
            X[p, k] = x


@njit(cache=True, inline="always")
def _displacement(X, i, j, k, period):
    """X_ik − X_jk, the minimum image on axes with period > 0."""
    dx = X[i, k] - X[j, k]
    L = period[k]
    if L > 0.0:
        dx -= L * math.floor(dx / L + 0.5)
    return dx


@njit(cache=True, inline="always")
def radial_derivative_over_r(code, r2, param):
    """k'(r)/r for the closed-form kernels at r² (softening already added)."""
    if code == NEWTONIAN_1D:
        return -0.5 / math.sqrt(r2) if r2 > 0.0 else 0.0
    if code == NEWTONIAN_2D:
        return -1.0 / (2.0 * math.pi * r2) if r2 > 0.0 else 0.0
    if code == NEWTONIAN_3D:
        return -1.0 / (4.0 * math.pi * r2 * math.sqrt(r2)) if r2 > 0.0 else 0.0
    return -math.exp(-0.5 * r2 / (param * param)) / (param * param)  # GAUSSIAN, param = σ


@njit(cache=True, inline="always")
def _separation(X, i, j, d, period):
    """(X_i − X_j) per axis (zero beyond d; minimum image on periodic axes) and |X_i − X_j|².

    Written with conditional expressions: the same with ``if`` statements assigning into the
    returned tuple ran the serial pair sums 11× slower (0.046 against 0.50 G pairs/s).
    """
    d0 = _displacement(X, i, j, 0, period)
    d1 = _displacement(X, i, j, 1, period) if d > 1 else 0.0
    d2 = _displacement(X, i, j, 2, period) if d > 2 else 0.0
    return d0, d1, d2, d0 * d0 + d1 * d1 + d2 * d2


@njit(cache=True, inline="always")
def _pair_gradient_at(i, X, w, code, param, delta2, period, out):
    """out_i = Σ_{j≠i} w_j k'(r_δ)/r_δ (X_i − X_j), r_δ² = r² + δ²."""
    N, d = X.shape
    acc0, acc1, acc2 = 0.0, 0.0, 0.0
    for j in range(N):
        if j == i:
            continue
        d0, d1, d2, r2 = _separation(X, i, j, d, period)
        g = w[j] * radial_derivative_over_r(code, r2 + delta2, param)
        acc0 += g * d0
        acc1 += g * d1
        acc2 += g * d2
    _store(out, i, d, acc0, acc1, acc2)


@njit(cache=True, inline="always")
def _store(out, i, d, a0, a1, a2):
    out[i, 0] = a0
    if d > 1:
        out[i, 1] = a1
    if d > 2:
        out[i, 2] = a2


@njit(cache=True, parallel=True)
def pair_gradient(X, w, code, param, softening, period, out):
    """out_i = Σ_{j≠i} w_j ∇k_δ(X_i − X_j) = Σ_j w_j k'(r_δ)/r_δ (X_i − X_j), r_δ² = r² + δ².

    The velocity of the interaction ``W = s·k`` is ``−s·out``. O(N²), parallel over targets.
    """
    for i in prange(X.shape[0]):
        _pair_gradient_at(i, X, w, code, param, softening * softening, period, out)


@njit(cache=True)
def pair_gradient_serial(X, w, code, param, softening, period, out):
    """:func:`pair_gradient` on one thread (small N, where starting threads costs more)."""
    for i in range(X.shape[0]):
        _pair_gradient_at(i, X, w, code, param, softening * softening, period, out)


# -- cell lists for the short-range blob sums ----------------------------------------------------
@njit(cache=True)
def bin_particles(X, lo, cell, ncell, cell_of, order, starts, fill):
    """Counting sort into cells of width ``cell``: cell c holds ``order[starts[c]:starts[c+1]]``.

    ``starts`` and ``fill`` have one entry per cell plus one; ``cell_of`` and ``order`` one per particle.
    """
    N, d = X.shape
    starts[:] = 0
    for p in range(N):
        c = 0
        for k in range(d):
            i = int(math.floor((X[p, k] - lo[k]) / cell[k]))
            c = c * ncell[k] + min(max(i, 0), ncell[k] - 1)
        cell_of[p] = c
        starts[c + 1] += 1
    for c in range(starts.shape[0] - 1):
        starts[c + 1] += starts[c]
    fill[:] = starts
    for p in range(N):
        c = cell_of[p]
        order[fill[c]] = p
        fill[c] += 1


@njit(cache=True, inline="always")
def _neighbour_cell(c, offset, ncell, period, d):
    """Flat index of the cell at 3-ary ``offset`` (−1, 0, 1 per axis) from cell c, or −1 if none.

    Periodic axes wrap; a periodic axis with fewer than 3 cells (then one) only visits offset 0,
    its pairs found through the minimum image, never twice. Walls end the search.
    """
    out = 0
    stride = 1
    rest = c
    for kk in range(d):
        k = d - 1 - kk  # the flat index has axis d − 1 fastest
        i = rest % ncell[k]
        rest //= ncell[k]
        o = (offset // 3**k) % 3 - 1
        if period[k] > 0.0:
            if ncell[k] < 3:
                if o != 0:
                    return -1
                j = i
            else:
                j = (i + o) % ncell[k]
        else:
            j = i + o
            if j < 0 or j >= ncell[k]:
                return -1
        out += j * stride
        stride *= ncell[k]
    return out


@njit(cache=True, inline="always")
def _blob_density_at(i, X, w, eps, cutoff, period, ncell, cell_of, order, starts):
    """ρ_ε(X_i) = Σ_j w_j φ_ε(X_i − X_j), φ_ε = (2πε²)^{−d/2} e^{−|x|²/2ε²}, over |x| < cutoff."""
    d = X.shape[1]
    inv2 = 0.5 / (eps * eps)
    r2max = cutoff * cutoff
    acc = 0.0
    for offset in range(3**d):
        c = _neighbour_cell(cell_of[i], offset, ncell, period, d)
        if c < 0:
            continue
        for q in range(starts[c], starts[c + 1]):
            j = order[q]
            r2 = 0.0
            for k in range(d):
                dk = _displacement(X, i, j, k, period)
                r2 += dk * dk
            if r2 < r2max:
                acc += w[j] * math.exp(-r2 * inv2)
    return acc * (2.0 * math.pi * eps * eps) ** (-0.5 * d)


@njit(cache=True, inline="always")
def _blob_velocity_at(i, X, w, rho_eps, eps, m, D, cutoff, period, ncell, cell_of, order, starts,
                      out):
    """out_i = −D Σ_j w_j ∇φ_ε(X_i − X_j) [ρ_ε(X_i)^{m−2} + ρ_ε(X_j)^{m−2}], ∇φ_ε(x) = −x φ_ε/ε²."""
    d = X.shape[1]
    norm = (2.0 * math.pi * eps * eps) ** (-0.5 * d)
    inv2 = 0.5 / (eps * eps)
    r2max = cutoff * cutoff
    a0, a1, a2 = 0.0, 0.0, 0.0
    own = rho_eps[i] ** (m - 2.0)
    for offset in range(3**d):
        c = _neighbour_cell(cell_of[i], offset, ncell, period, d)
        if c < 0:
            continue
        for q in range(starts[c], starts[c + 1]):
            j = order[q]
            d0, d1, d2, r2 = _separation(X, i, j, d, period)
            if r2 < r2max:
                g = w[j] * math.exp(-r2 * inv2) * (own + rho_eps[j] ** (m - 2.0))
                a0 += g * d0
                a1 += g * d1
                a2 += g * d2
    scale = D * norm / (eps * eps)
    _store(out, i, d, scale * a0, scale * a1, scale * a2)


@njit(cache=True, parallel=True)
def blob_density(X, w, eps, cutoff, period, ncell, cell_of, order, starts, out):
    """out_i = ρ_ε(X_i) for every particle (cell list from :func:`bin_particles`), in parallel."""
    for i in prange(X.shape[0]):
        out[i] = _blob_density_at(i, X, w, eps, cutoff, period, ncell, cell_of, order, starts)


@njit(cache=True)
def blob_density_serial(X, w, eps, cutoff, period, ncell, cell_of, order, starts, out):
    """:func:`blob_density` on one thread."""
    for i in range(X.shape[0]):
        out[i] = _blob_density_at(i, X, w, eps, cutoff, period, ncell, cell_of, order, starts)


@njit(cache=True, parallel=True)
def blob_velocity(X, w, rho_eps, eps, m, D, cutoff, period, ncell, cell_of, order, starts, out):
    """The blob velocity −∇ δF_ε/δρ (X_i) of Carrillo–Craig–Patacchini (2019), in parallel.

    F_ε = D/(m−1) Σ_i w_i ρ_ε(X_i)^{m−1} (F_ε = D Σ_i w_i log ρ_ε(X_i) for the entropy, m = 1):
    ``v_i = −D Σ_j w_j ∇φ_ε(X_i − X_j) [ρ_ε(X_i)^{m−2} + ρ_ε(X_j)^{m−2}]``.
    """
    for i in prange(X.shape[0]):
        _blob_velocity_at(i, X, w, rho_eps, eps, m, D, cutoff, period, ncell, cell_of, order,
                          starts, out)


@njit(cache=True)
def blob_velocity_serial(X, w, rho_eps, eps, m, D, cutoff, period, ncell, cell_of, order, starts,
                         out):
    """:func:`blob_velocity` on one thread."""
    for i in range(X.shape[0]):
        _blob_velocity_at(i, X, w, rho_eps, eps, m, D, cutoff, period, ncell, cell_of, order,
                          starts, out)


# -- the kernel density estimate at the particles (weighted particles with the entropy) ----------
@njit(cache=True, inline="always")
def _kde_at(i, X, w, inv_h, period):
    """Σ_j w_j exp(−Σ_k (X_ik − X_jk)² / 2h_k²) (without the normalisation)."""
    N, d = X.shape
    acc = 0.0
    for j in range(N):
        r2 = 0.0
        for k in range(d):
            dk = _displacement(X, i, j, k, period) * inv_h[k]
            r2 += dk * dk
        acc += w[j] * math.exp(-0.5 * r2)
    return acc


@njit(cache=True)
def _gaussian_norm(inv_h):
    """Π_k 1/(√(2π) h_k): the normalisation of the product Gaussian of widths h_k."""
    norm = 1.0
    for k in range(inv_h.shape[0]):
        norm *= inv_h[k] / math.sqrt(2.0 * math.pi)
    return norm


@njit(cache=True, parallel=True)
def kde_direct(X, w, h, period, out):
    """out_i = ρ_h(X_i) = Σ_j w_j K_h(X_i − X_j), Gaussian K_h of widths h_k, in parallel over i."""
    inv_h = 1.0 / h
    norm = _gaussian_norm(inv_h)
    for i in prange(X.shape[0]):
        out[i] = norm * _kde_at(i, X, w, inv_h, period)


@njit(cache=True)
def kde_direct_serial(X, w, h, period, out):
    """:func:`kde_direct` on one thread."""
    inv_h = 1.0 / h
    norm = _gaussian_norm(inv_h)
    for i in range(X.shape[0]):
        out[i] = norm * _kde_at(i, X, w, inv_h, period)


# -- the pair sums' entry point (Python) ------------------------------------------------------------
def direct_gradient(X, w, kernel, softening, period, out):
    """out_i = Σ_{j≠i} w_j ∇k_δ(X_i − X_j), Numba for the closed-form kernels, NumPy otherwise."""
    if isinstance(kernel, Newtonian):
        code, param = (NEWTONIAN_1D, NEWTONIAN_2D, NEWTONIAN_3D)[kernel.dim - 1], 0.0
    elif isinstance(kernel, GaussianKernel):
        code, param = GAUSSIAN, kernel.sigma
    else:
        return _direct_gradient_numpy(X, w, kernel.derivative, softening, period, out)
    kernel_sum = pair_gradient if X.shape[0] ** 2 > PARALLEL_WORK else pair_gradient_serial
    kernel_sum(X, w, code, param, softening, period, out)
    return out


def _direct_gradient_numpy(X, w, dk, softening, period, out, block: int = 256):
    """The pair sum of :func:`direct_gradient` for any k'(r), in blocks of targets."""
    N = X.shape[0]
    for start in range(0, N, block):
        stop = min(start + block, N)
        diff = X[start:stop, None, :] - X[None, :, :]
        diff -= np.where(period > 0, period, 0.0) * np.round(diff / np.where(period > 0, period, 1.0))
        r = np.sqrt(np.sum(diff**2, axis=2) + softening**2)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(r > 0, dk(np.where(r > 0, r, 1.0)) / np.where(r > 0, r, 1.0), 0.0)
        g[np.arange(stop - start), np.arange(start, stop)] = 0.0
        out[start:stop] = np.einsum("ij,ijk->ik", g * w[None, :], diff)
    return out
