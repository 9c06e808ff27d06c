"""Grid convolutions ``(W * rho)_i = Σ_j W(x_i - x_j) rho_j |cell|`` by FFT.

Walled axes are zero-padded to twice their length (free-space convolution, no wrap-around);
periodic axes wrap with the minimum-image distance. The kernel's transform is computed once per
(grid, kernel).
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from .grid import Grid
from .kernels import RadialKernel


class GridConvolution:
    """Discrete convolution with a radial kernel on a grid, its transform cached.

    On a fully periodic grid, a kernel with a natural periodic symbol (the Newtonian kernel)
    uses it: the potential then solves ``-Δφ = rho - mean(rho)`` spectrally.
    """

    def __init__(self, grid: Grid, kernel: RadialKernel, strength: float = 1.0):
        self.grid = grid
        self.padded = tuple(n if p else 2 * n for n, p in zip(grid.shape, grid.periodic, strict=True))
        self.slices = tuple(slice(0, n) for n in grid.shape)
        symbol = None
        if all(grid.periodic):
            freqs = [
                2 * np.pi * sfft.fftfreq(n, d=h) for n, h in zip(grid.shape, grid.dx, strict=True)
            ]
            freqs[-1] = 2 * np.pi * sfft.rfftfreq(grid.shape[-1], d=grid.dx[-1])
            wavevectors = np.meshgrid(*freqs, indexing="ij", sparse=True)
            symbol = kernel.periodic_symbol(tuple(wavevectors))
        if symbol is not None:
            # the symbol is of the continuous kernel; the transform below includes |cell|
            self.transform = strength * symbol / grid.cell_volume
        else:
            self.transform = strength * sfft.rfftn(self._kernel_on_offsets(kernel))
        self.transform = self.transform * grid.cell_volume

    def _kernel_on_offsets(self, kernel: RadialKernel) -> np.ndarray:
        displacements = []
        for n_pad, n, h, periodic in zip(
            self.padded, self.grid.shape, self.grid.dx, self.grid.periodic, strict=True
        ):
            o = np.arange(n_pad)
            if periodic:
                o = np.where(o <= n // 2, o, o - n)
            else:
                o = np.where(o < n, o, o - n_pad)
            displacements.append(o * h)
        mesh = np.meshgrid(*displacements, indexing="ij", sparse=True)
        r = np.sqrt(sum(m**2 for m in mesh))
        values = np.empty(r.shape)
        nonzero = r > 0
        values[nonzero] = kernel(r[nonzero])
        values[~nonzero] = kernel.cell_average_at_origin(self.grid.dx)
        return values

    def __call__(self, rho: np.ndarray) -> np.ndarray:
        """``W * rho`` at the cell centres."""
        spectrum = sfft.rfftn(rho, s=self.padded)
        spectrum *= self.transform
        return sfft.irfftn(spectrum, s=self.padded)[self.slices]
