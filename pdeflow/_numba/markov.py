"""Numba kernel of the uniformization series of a tridiagonal (or periodic tridiagonal) generator.

For A = I + G/λ with G the 3-point Laplacian of one axis (non-negative entries: ``lower[i]`` =
A[i, i−1], ``diag[i]`` = A[i, i], ``upper[i]`` = A[i, i+1], and on a periodic axis the corners
A[0, n−1] = ``lower[0]``, A[n−1, 0] = ``upper[n−1]``; on a walled axis ``lower[0]`` =
``upper[n−1]`` = 0), Horner's rule

    P ← w_K I,   P ← w_k I + A P   (k = K−1 … 0)

sums Σ_k w_k A^k with non-negative weights: every operation adds products of non-negative
numbers, so the result is non-negative in floating point. Two buffers, no allocation; the row
loop is branch-free (the neighbours' indices wrap, and a wall's missing neighbour has weight 0).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def uniformization_series(lower, diag, upper, weights, P, work):
    """Fill ``P`` (n, n) with Σ_k weights[k] A^k (A described in the module docstring); ``work``
    is a second (n, n) buffer. Returns the array holding the result (P or work)."""
    n = P.shape[0]
    K = weights.shape[0] - 1
    P[:, :] = 0.0
    for i in range(n):
        P[i, i] = weights[K]
    src, dst = P, work
    for k in range(K - 1, -1, -1):
        for i in range(n):
            up = i - 1 if i > 0 else n - 1
            down = i + 1 if i < n - 1 else 0
            a, b, c = lower[i], diag[i], upper[i]
            for j in range(n):
                dst[i, j] = b * src[i, j] + a * src[up, j] + c * src[down, j]
            dst[i, i] += weights[k]
        src, dst = dst, src
    return src
