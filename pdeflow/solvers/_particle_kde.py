"""The density at weighted particles by a Gaussian kernel density estimate: the entropy's ξ there.

For U = D ρ log ρ the Fisher–Rao part of a particle run needs ξ(X_i) = D (log ρ(X_i) + 1) + V(X_i),
and the measure μ_N = Σ_j w_j δ_{X_j} has no density. It is estimated at the particles by

    ρ_h(X_i) = Σ_j w_j K_h(X_i − X_j),   K_h(x) = Π_k (2π h_k²)^{−1/2} e^{−x_k²/2h_k²},

the self term j = i included (as in the birth–death samplers of Lu, Lu & Nolen, 2019). Bandwidth:
Scott's rule h_k = σ_k n_eff^{−1/(d+4)} (:func:`pdeflow.deposit.scott_bandwidth`: σ_k the weighted
standard deviation, n_eff = (Σw)²/Σw² the effective sample size), recomputed every step, or one
fixed h (option ``kde_bandwidth``). Its bias: E ρ_h = ρ * K_h = ρ + (h²/2) Δρ + O(h⁴) — for a
Gaussian of variance s², ρ_h is the Gaussian of variance s² + h² — so the reaction sees a density
wider by O(h²) (h/s = n_eff^{−1/5} ≈ 0.14 at 2·10⁴ particles in 1D); its spread is
Var ρ_h / ρ² ≈ 1/(n_eff h^d ρ (4π)^{d/2}).

Two evaluations (``kde=``):

- ``"direct"``: the sum as written, O(N²) per step (Numba, parallel over targets above
  :data:`~._particle_kernels.PARALLEL_WORK` pairs); minimum image on periodic axes.
- ``"binned"`` (1D and 2D): linear (CIC) binning of the weights on a grid of spacing
  δ_k = h_k / :data:`BINS_PER_WIDTH` covering the particles and 5h beyond them (the periodic box on
  periodic axes), a separable Gaussian filter (scipy.ndimage, truncated at 5h, wrapped on periodic
  axes) and linear interpolation back, O(N + bins × taps). Binning and interpolation each smooth
  by a hat of variance δ²/6, so the filter's width is √(h² − δ²/3): the estimate's kernel has the
  variance h² of the direct one. At most :data:`MAX_BINS` bins in all (δ grows beyond).
- ``"auto"``: binned in 1D above 100 particles and in 2D above 500 (:data:`DIRECT_MAX`, where
  the two cost the same on the 2-core test machine: 0.12 against 0.14 ms at N = 100 in 1D, 0.9
  against 2.5 ms at N = 300 in 2D, 10 against 3.5 ms at N = 1000), direct otherwise (and in 3D).

The kernel is not reflected at walls: within ~h of a wall the estimate falls towards half the
density (the usual boundary bias of a KDE), which the reaction reads as too little mass there.

Cost per step against the plain weighted step: ``benchmarks/weighted_kde_results.md``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._numba.cic import cic_deposit, cic_interpolate
from ..deposit import scott_bandwidth
from ..errors import PdeflowError
from . import _particle_kernels as pk

BINS_PER_WIDTH = 8      # bin spacing δ = h / 8: the binned estimate within ~1e-4 of the direct sum
MAX_BINS = 1 << 20      # bins in all (1D: δ ≥ extent / 2^20; 2D: 1024² bins)
DIRECT_MAX = {1: 100, 2: 500}  # auto: the direct sum up to this many particles (always in 3D)
TRUNCATE = 5.0          # the Gaussian filter's half-width in bandwidths (e^{−12.5} ≈ 4e-6)


def kde_binned(X: np.ndarray, w: np.ndarray, h: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               periodic: np.ndarray, out: np.ndarray) -> None:
    """out_i ≈ ρ_h(X_i) by binning, filtering and interpolating (see the module docstring).

    ``lo``, ``hi`` and ``periodic``: the box, read on periodic axes only (the bins span the period).
    """
    d = X.shape[1]
    first, last = X.min(axis=0), X.max(axis=0)
    start = np.where(periodic, lo, first - TRUNCATE * h)
    extent = np.where(periodic, hi - lo, last - first + 2 * TRUNCATE * h)
    delta = h / BINS_PER_WIDTH
    delta = np.maximum(delta, extent / MAX_BINS ** (1.0 / d))
    n = np.maximum(np.ceil(extent / delta).astype(np.int64), 1)
    n = np.where(periodic, n, n + 2)  # one spare bin per open end: nothing folds back at its edge
    delta = np.where(periodic, extent / n, delta)
    start = np.where(periodic, start, start - delta)
    rho = np.zeros(int(np.prod(n)))
    cic_deposit(X, w, start, delta, n, periodic, rho)
    sigma = np.sqrt(np.maximum(h**2 - delta**2 / 3, 0.0)) / delta  # in bins
    modes = ["wrap" if p else "constant" for p in periodic]
    rho = ndimage.gaussian_filter(rho.reshape(tuple(n)), sigma=sigma, mode=modes, truncate=TRUNCATE)
    cic_interpolate(rho.reshape(1, -1), X, start, delta, n, periodic, out.reshape(-1, 1))


class KernelDensity:
    """ρ_h at the particles, with the bandwidth rule and the evaluation of the module docstring.

    ``period`` (0 on open axes), ``lo``, ``hi`` describe the box; ``bandwidth`` None: Scott's rule.
    """

    def __init__(self, mode: str, bandwidth: float | None, N: int, d: int, lo: np.ndarray,
                 hi: np.ndarray, period: np.ndarray):
        if mode == "auto":
            mode = "binned" if d <= 2 and N > DIRECT_MAX[d] else "direct"
        if mode == "binned" and d > 2:
            raise PdeflowError(f"kde='binned' is for 1D and 2D particles, these are {d}D; use "
                               "kde='direct' (O(N²) per step) or 'auto'")
        self.mode, self.bandwidth = mode, bandwidth
        self.lo, self.hi, self.period = lo, hi, period
        self.periodic = period > 0
        self.h = np.zeros(d)
        self.rho = np.zeros(N)

    def __call__(self, X: np.ndarray, w: np.ndarray) -> np.ndarray:
        """ρ_h(X_i) for every particle (a buffer reused from call to call); sets ``h``."""
        if self.bandwidth is not None:
            self.h[:] = self.bandwidth
        else:
            self.h[:] = scott_bandwidth(X, w)
        if not np.all(self.h > 0):
            raise PdeflowError(f"the KDE bandwidth is {self.h.tolist()} (all particles at one "
                               "point along an axis); give kde_bandwidth > 0")
        if self.mode == "binned":
            kde_binned(X, w, self.h, self.lo, self.hi, self.periodic, self.rho)
        else:
            direct = pk.kde_direct if X.shape[0] ** 2 > pk.PARALLEL_WORK else pk.kde_direct_serial
            direct(X, w, self.h, self.period, self.rho)
        return self.rho
