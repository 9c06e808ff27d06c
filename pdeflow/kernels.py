"""Radial interaction kernels ``k(r)``, r = |x - y|, for ``W(x, y) = strength · k(|x - y|)``.

Singular kernels (the Newtonian ones) carry the average of ``k`` over a grid cell centred at the
origin, which replaces the point value at ``r = 0`` on a grid (second-order accurate quadrature of
the weakly singular convolution).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import PdeflowError


class RadialKernel:
    """A kernel ``k(r)`` with its derivative ``k'(r)``.

    Parameters
    ----------
    value : callable
        ``k(r)`` for an array of distances ``r >= 0``.
    derivative : callable, optional
        ``k'(r)``; needed by particle solvers (a central difference is used when missing).
    name : str
        Used in file metadata.
    """

    singular = False

    def __init__(self, value: Callable, derivative: Callable | None = None, name: str = "user"):
        if not callable(value):
            raise PdeflowError(f"kernel value must be a callable of the distance, got {value!r}")
        self._value = value
        self._derivative = derivative
        self.name = name

    def __call__(self, r: np.ndarray) -> np.ndarray:
        return np.asarray(self._value(np.asarray(r, dtype=float)), dtype=float)

    def derivative(self, r: np.ndarray) -> np.ndarray:
        """``k'(r)``; a central difference with step 1e-6·max(r, 1) when none was given."""
        r = np.asarray(r, dtype=float)
        if self._derivative is not None:
            return np.asarray(self._derivative(r), dtype=float)
        h = 1e-6 * np.maximum(r, 1.0)
        return (self(r + h) - self(np.abs(r - h))) / (2 * h)

    def cell_average_at_origin(self, dx: tuple[float, ...]) -> float:
        """Average of ``k(|x|)`` over the cell ``∏ [-dx_k/2, dx_k/2]`` (regular kernels: k(0))."""
        return float(self(np.zeros(1))[0])

    def periodic_symbol(self, wavevectors: tuple[np.ndarray, ...]) -> np.ndarray | None:
        """Fourier symbol of the periodised kernel, when it has a natural one (else None)."""
        return None

    def to_dict(self) -> dict:
        return {"kernel": self.name}


class Newtonian(RadialKernel):
    """Newtonian kernel G with ``-ΔG = δ``: ``-r/2`` (1D), ``-log(r)/(2π)`` (2D), ``1/(4πr)`` (3D)."""

    def __init__(self, dim: int):
        if dim not in (1, 2, 3):
            raise PdeflowError(f"Newtonian kernel needs dimension 1, 2 or 3, got {dim}")
        self.dim = dim
        self.singular = dim > 1
        super().__init__(self._g, self._dg, name=f"newtonian{dim}d")

    def _g(self, r):
        if self.dim == 1:
            return -0.5 * r
        with np.errstate(divide="ignore"):
            if self.dim == 2:
                return -np.log(r) / (2 * np.pi)
            return 1.0 / (4 * np.pi * r)

    def _dg(self, r):
        if self.dim == 1:
            return np.full_like(r, -0.5)
        with np.errstate(divide="ignore"):
            if self.dim == 2:
                return -1.0 / (2 * np.pi * r)
            return -1.0 / (4 * np.pi * r**2)

    def cell_average_at_origin(self, dx):
        if self.dim == 1:
            return -dx[0] / 8.0  # mean of -|x|/2 over [-h/2, h/2]
        if self.dim == 2:
            a, b = dx[0] / 2, dx[1] / 2
            # ∫_0^a∫_0^b log(x² + y²) = ab log(a²+b²) - 3ab + a² atan(b/a) + b² atan(a/b)
            mean_log_r = (
                a * b * np.log(a * a + b * b) - 3 * a * b
                + a * a * np.arctan(b / a) + b * b * np.arctan(a / b)
            ) / (2 * a * b)
            return -mean_log_r / (2 * np.pi)
        half = [h / 2 for h in dx]
        return _mean_inverse_distance(*half) / (4 * np.pi)

    def periodic_symbol(self, wavevectors):
        k2 = sum(k**2 for k in wavevectors)
        with np.errstate(divide="ignore"):
            symbol = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
        return symbol  # -ΔG = δ - 1/|Ω| on the torus; mean-zero potential


class GaussianKernel(RadialKernel):
    """Gaussian kernel ``k(r) = exp(-r² / (2 σ²))`` (unnormalised)."""

    def __init__(self, sigma: float = 1.0):
        sigma = float(sigma)
        if not sigma > 0:
            raise PdeflowError(f"Gaussian kernel width sigma must be > 0, got {sigma}")
        self.sigma = sigma
        super().__init__(
            lambda r: np.exp(-(r**2) / (2 * sigma**2)),
            lambda r: -r / sigma**2 * np.exp(-(r**2) / (2 * sigma**2)),
            name="gaussian",
        )

    def to_dict(self):
        return {"kernel": self.name, "sigma": self.sigma}


def _mean_inverse_distance(a: float, b: float, c: float) -> float:
    """Mean of 1/|x| over [0,a]×[0,b]×[0,c], by ∇·(x/|x|) = 2/|x| and the three far faces."""
    from scipy import integrate  # lazily: keeps `import pdeflow` light

    def face(p, q, r):  # p ∫_0^q ∫_0^r (p² + s² + t²)^(-1/2) dt ds
        val, _ = integrate.dblquad(lambda t, s: 1.0 / np.sqrt(p * p + s * s + t * t), 0, q, 0, r)
        return p * val

    total = 0.5 * (face(a, b, c) + face(b, a, c) + face(c, a, b))
    return total / (a * b * c)
