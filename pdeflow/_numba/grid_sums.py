"""Numba kernel of the per-snapshot sums of a grid density, in one pass and without temporaries.

For a density ρ on a grid (viewed as 3D, leading unit axes for 1D and 2D), with the potential V,
the drift potential Φ = V + W*ρ and the internal energy U (none, D ρ log ρ, or D ρ^m/(m−1)):

    mass        Σ ρ_i
    energy      Σ U(ρ_i) + V_i ρ_i + ½ ρ_i (Φ_i − V_i)
    scale       Σ |U(ρ_i)| + |V_i ρ_i| + ½ |ρ_i (Φ_i − V_i)|      (what the energy's round-off is relative to)
    second      Σ |x_i|² ρ_i
    dissipation Σ_faces ρ_face (Δξ / h)²,  ξ = U'(ρ) + Φ,  ρ_face the logarithmic mean for the
                entropy (the Scharfetter–Gummel weighting) and the arithmetic mean otherwise

(each times |cell| by the caller), and min/max ρ. Sums are compensated (Neumaier), so they are
accurate to round-off whatever the number of cells; the NumPy expressions they replace held about
twelve grid-sized temporaries (96 bytes per cell in 3D) at every snapshot.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NONE, ENTROPY, POWER = 0, 1, 2  # kinds of internal energy
TINY = 1e-300  # floor inside log ρ (as pdeflow.energy.TINY)


@njit(cache=True, inline="always")
def _add(total, compensation, x):
    """Neumaier's compensated sum: returns the new (total, compensation)."""
    t = total + x
    if abs(total) >= abs(x):
        compensation += (total - t) + x
    else:
        compensation += (x - t) + total
    return t, compensation


@njit(cache=True, inline="always")
def _internal(kind, D, m, r):
    """U(ρ), U'(ρ) and (entropy) log ρ floored at TINY, else 0."""
    if kind == ENTROPY:
        log_r = math.log(max(r, TINY))
        return D * r * log_r, D * (log_r + 1.0), log_r
    if kind == POWER:
        p = r ** (m - 1.0)
        return D * r * p / (m - 1.0), D * m / (m - 1.0) * p, 0.0
    return 0.0, 0.0, 0.0


@njit(cache=True, inline="always")
def _face(kind, a, b, log_a, log_b):
    """Face density: the logarithmic mean (entropy; ``log_a``, ``log_b`` the logs of a and b,
    floored at TINY as in U), else the arithmetic mean."""
    if kind == ENTROPY:
        if a <= 0.0 or b <= 0.0:
            return 0.0
        if abs(a - b) <= 1e-12 * max(a, b):
            return 0.5 * (a + b)
        return (a - b) / (log_a - log_b)
    return 0.5 * (a + b)


@njit(cache=True)
def density_sums(rho, V, phi, kind, D, m, axis0, axis1, axis2, inv_h, periodic, out):
    """Fill ``out`` = (mass, energy, scale, second moment, dissipation, min, max); the sums
    without the cell volume. ``rho``, ``V``, ``phi``: 3D views; ``axis0..2``: the cell centres of
    the view's axes; ``inv_h[k]``, ``periodic[k]`` per view axis (unit axes: 0 and False)."""
    n0, n1, n2 = rho.shape
    sums = np.zeros(5)
    comp = np.zeros(5)
    low, high = np.inf, -np.inf
    for a in range(n0):
        for b in range(n1):
            for c in range(n2):
                r = rho[a, b, c]
                low = min(low, r)
                high = max(high, r)
                u, du, log_r = _internal(kind, D, m, r)
                pot = V[a, b, c] * r
                inter = 0.5 * r * (phi[a, b, c] - V[a, b, c])
                sums[0], comp[0] = _add(sums[0], comp[0], r)
                sums[1], comp[1] = _add(sums[1], comp[1], u + pot + inter)
                sums[2], comp[2] = _add(sums[2], comp[2], abs(u) + abs(pot) + abs(inter))
                r2 = axis0[a] ** 2 + axis1[b] ** 2 + axis2[c] ** 2
                sums[3], comp[3] = _add(sums[3], comp[3], r2 * r)
                xi = du + phi[a, b, c]
                for k in range(3):  # the face towards the next cell along view axis k
                    n = rho.shape[k]
                    i = a if k == 0 else (b if k == 1 else c)
                    if n == 1 or (i == n - 1 and not periodic[k]):
                        continue
                    j = i + 1 if i + 1 < n else 0
                    if k == 0:
                        rn, pn = rho[j, b, c], phi[j, b, c]
                    elif k == 1:
                        rn, pn = rho[a, j, c], phi[a, j, c]
                    else:
                        rn, pn = rho[a, b, j], phi[a, b, j]
                    _, du_n, log_n = _internal(kind, D, m, rn)
                    dxi = (du_n + pn - xi) * inv_h[k]
                    face = _face(kind, r, rn, log_r, log_n)
                    sums[4], comp[4] = _add(sums[4], comp[4], face * dxi * dxi)
    for q in range(5):
        out[q] = sums[q] + comp[q]
    out[5] = low
    out[6] = high
    return out
