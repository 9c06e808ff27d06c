"""Numba stage kernels of the Runge–Kutta–Legendre step (:mod:`pdeflow.solvers.fv_rkl`).

One RKL2 stage combines the flux divergence at the previous stage with three stored states,

    out = μ y + ν z + c₀ y₀ + a L(y) + g m₀,     m₀ = L(y₀),

and each kernel fuses the row-wise flux of :mod:`pdeflow.solvers._fv_kernels` (:func:`sg_row`,
:func:`cch_row`) with that combination, as the SSP-RK3 stage kernels do: one pass over memory per
stage, nothing allocated. Both return (cells < 0, cells not below ``threshold``).
"""

from __future__ import annotations

from numba import njit

from ._fv_kernels import as_3d, cch_row, sg_row


@njit(cache=True)
def _rkl_combine_row(mu, y, nu, z, c0, y0, a, g, m0, threshold, i, j, out):
    """out = μ y + ν z + c₀ y₀ + a out + g m₀ on row (i, j), out holding L(y)."""
    negative, high = 0, 0
    for c in range(out.shape[2]):
        v = (mu * y[i, j, c] + nu * z[i, j, c] + c0 * y0[i, j, c] + a * out[i, j, c]
             + g * m0[i, j, c])
        out[i, j, c] = v
        negative += v < 0.0
        high += not v < threshold
    return negative, high


@njit(cache=True)
def scharfetter_gummel_rkl_stage(y, w, coef, periodic, mu, z, nu, y0, c0, a, m0, g, threshold,
                                 out):
    """out = μ y + ν z + c₀ y₀ + a L(y) + g m₀ with the Scharfetter–Gummel L (``out`` must not
    alias ``y``, ``z``, ``y0`` or ``m0``)."""
    y, z, y0, m0, out = as_3d(y), as_3d(z), as_3d(y0), as_3d(m0), as_3d(out)
    negative, high = 0, 0
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            sg_row(y, w, coef, periodic, i, j, out)
            row_negative, row_high = _rkl_combine_row(mu, y, nu, z, c0, y0, a, g, m0, threshold,
                                                      i, j, out)
            negative += row_negative
            high += row_high
    return negative, high


@njit(cache=True)
def upwind_rkl_stage(y, xi, inv_h, periodic, mu, z, nu, y0, c0, a, m0, g, threshold, out):
    """The same stage with the Carrillo–Chertock–Huang L."""
    y, xi, z, y0, m0, out = as_3d(y), as_3d(xi), as_3d(z), as_3d(y0), as_3d(m0), as_3d(out)
    negative, high = 0, 0
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            cch_row(y, xi, inv_h, periodic, i, j, out)
            row_negative, row_high = _rkl_combine_row(mu, y, nu, z, c0, y0, a, g, m0, threshold,
                                                      i, j, out)
            negative += row_negative
            high += row_high
    return negative, high
