"""The 3-point Laplacian of a tensor grid, diagonalised: DCT-II on walled axes, FFT on periodic ones.

On a :class:`~pdeflow.grid.Grid`, −Δ_h with no-flux walls (Neumann, mirror ghost cells) or
periodic axes is diagonal in the product basis of cosines (walls) and Fourier modes (periodic):
its eigenvalues are Σ_k λ_k, λ_k(j) = (2 − 2 cos(π j / n_k)) / h_k² (walls) or
(2 − 2 cos(2π j / n_k)) / h_k² (periodic). :class:`SpectralLaplacian` holds them and the
transforms (``scipy.fft``, orthonormal DCT-II), for the H¹ preconditioner of the back-and-forth JKO step and
the grid W2 (:mod:`pdeflow.ot_grid`). (The split fv scheme's heat propagator does not use it: the
transforms leave round-off negatives in empty cells; see :mod:`pdeflow.solvers.fv_split`.)
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


class SpectralLaplacian:
    """−Δ_h on ``grid`` in its eigenbasis.

    Parameters
    ----------
    grid : Grid
    real : bool
        Periodic axes by the real FFT (``rfftn``: half the modes on the last periodic axis) for
        real fields that stay real (a propagator), or by the full FFT.

    Attributes
    ----------
    eigenvalues : ndarray
        Σ_k λ_k ≥ 0, broadcast to the spectral shape (0 for the constant mode).
    """

    def __init__(self, grid, real: bool = False):
        self.shape = grid.shape
        self.real = real
        self.walls = tuple(k for k in range(grid.ndim) if not grid.periodic[k])
        self.periodic = tuple(k for k in range(grid.ndim) if grid.periodic[k])
        terms = []
        for k, (n, h) in enumerate(zip(grid.shape, grid.dx, strict=True)):
            if grid.periodic[k]:
                half = real and k == self.periodic[-1]
                j = np.arange(n // 2 + 1) if half else np.fft.fftfreq(n, 1.0 / n)
                lam = (2 - 2 * np.cos(2 * np.pi * j / n)) / h**2
            else:
                lam = (2 - 2 * np.cos(np.pi * np.arange(n) / n)) / h**2
            view = [1] * grid.ndim
            view[k] = lam.size
            terms.append(lam.reshape(view))
        self.eigenvalues = sum(terms[1:], terms[0])

    def forward(self, a: np.ndarray) -> np.ndarray:
        """The coefficients of ``a`` in the eigenbasis (a new array)."""
        if self.walls:
            a = sfft.dctn(a, type=2, axes=self.walls, norm="ortho")
        if self.periodic:
            a = (sfft.rfftn if self.real else sfft.fftn)(a, axes=self.periodic)
        return a

    def backward(self, a: np.ndarray) -> np.ndarray:
        """The field of the coefficients ``a`` (real)."""
        if self.periodic:
            if self.real:
                a = sfft.irfftn(a, s=[self.shape[k] for k in self.periodic], axes=self.periodic)
            else:
                a = sfft.ifftn(a, axes=self.periodic).real
        if self.walls:
            a = sfft.idctn(a, type=2, axes=self.walls, norm="ortho")
        return a

    def solve(self, r: np.ndarray, c1: float, theta: float) -> np.ndarray:
        """(c1 (−Δ_h) + θ)⁻¹ r; with θ = 0 the constant mode (the kernel) is set to zero."""
        out = self.forward(r)
        denominator = c1 * self.eigenvalues + theta
        if theta == 0:
            denominator = denominator.copy()
            denominator[(0,) * denominator.ndim] = np.inf
        return self.backward(out / denominator)
