"""The blob method of Carrillo, Craig and Patacchini (2019): the particle solver's internal energy.

For U = D ρ^m/(m−1), or the entropy with ``diffusion="blob"``, the energy is regularised as
``F_ε = D/(m−1) Σ_i w_i ρ_ε(X_i)^{m−1}`` (``D Σ_i w_i log ρ_ε(X_i)`` for the entropy, m = 1),
ρ_ε = φ_ε * μ_N with the Gaussian φ_ε of width ε, and each particle follows ``−∇ δF_ε/δρ``:

    v_i = −D Σ_j w_j ∇φ_ε(X_i − X_j) [ρ_ε(X_i)^{m−2} + ρ_ε(X_j)^{m−2}]

(deterministic; the pair sums run over neighbours closer than 5ε, found with a cell list).
Default width ``ε = ℓ^p h^{1−p}`` with p = 1/2, h = ℓ N^{−1/d} the mean particle spacing and ℓ
the initial standard deviation, i.e. ε = ℓ N^{−1/(2d)}: the form ε = h^{1−p}, 0 < p < 1 (ε ≫ h,
many particles per blob) of the Carrillo–Craig–Patacchini convergence theory, made scale-free;
the error is O(ε) while the stable step (∝ ε²) and the cost of a step (∝ N·N ε^d) favour larger
ε, and p = 1/2 balances the two. Explicit Euler; the step is capped at ``0.8 ε² / P'(max ρ_ε)``,
P'(ρ) = D m ρ^{m−1}, the stability limit of the regularised diffusion.
"""

from __future__ import annotations

import numpy as np

from . import _particle_kernels as pk

BLOB_CFL = 0.8         # dt ≤ BLOB_CFL ε² / P'(max ρ_ε); linear stability: < 1.6 (m = 1), < 2.7 (m = 2)
BLOB_CUTOFF = 5.0      # blob pair sums over |X_i − X_j| < 5ε (φ_ε there is e^{−12.5} ≈ 4e-6 of its peak)
BLOB_SCALE, BLOB_P = 1.0, 0.5  # ε = BLOB_SCALE ℓ (h/ℓ)^{1−p}, h = ℓ N^{−1/d}


def default_blob_width(scale: float, N: int, d: int) -> float:
    """ε = BLOB_SCALE ℓ (h/ℓ)^{1−p}, h = ℓ N^{−1/d} the mean particle spacing, ℓ = ``scale``."""
    h = scale * N ** (-1.0 / d)
    return BLOB_SCALE * scale * (h / scale) ** (1 - BLOB_P)


class BlobDrift:
    """The blob velocity ``−∇ δF_ε/δρ`` at N particles in the box ``[lo, hi]`` (see the module
    docstring); ``rho_eps`` holds ρ_ε(X_i) of the last :meth:`velocity`."""

    def __init__(self, m: float, D: float, eps: float, N: int, lo: np.ndarray, hi: np.ndarray,
                 periodic: np.ndarray, period: np.ndarray):
        self.m, self.D, self.eps, self.period = m, D, eps, period
        self.cutoff = BLOB_CUTOFF * eps
        lengths = hi - lo
        ncell = np.maximum(np.floor(lengths / self.cutoff), 1).astype(np.int64)
        while np.prod(ncell) > 4 * N + 64:  # keep the cell list O(N)
            k = int(np.argmax(ncell))
            ncell[k] = max(ncell[k] // 2, 1)
        ncell = np.where(periodic & (ncell < 3), 1, ncell)
        self.cells = {
            "lo": lo, "width": lengths / ncell, "ncell": ncell,
            "cell_of": np.zeros(N, dtype=np.int64), "order": np.zeros(N, dtype=np.int64),
            "starts": np.zeros(int(np.prod(ncell)) + 1, dtype=np.int64),
            "fill": np.zeros(int(np.prod(ncell)) + 1, dtype=np.int64),
        }
        self.rho_eps = np.zeros(N)

    def velocity(self, X: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
        """out = −∇ δF_ε/δρ at the particles; fills ``rho_eps``."""
        c, d = self.cells, X.shape[1]
        pk.bin_particles(X, c["lo"], c["width"], c["ncell"], c["cell_of"], c["order"],
                         c["starts"], c["fill"])
        counts = np.diff(c["starts"])
        parallel = 3**d * float(counts @ counts) > pk.PARALLEL_WORK
        density = pk.blob_density if parallel else pk.blob_density_serial
        velocity = pk.blob_velocity if parallel else pk.blob_velocity_serial
        density(X, w, self.eps, self.cutoff, self.period, c["ncell"], c["cell_of"], c["order"],
                c["starts"], self.rho_eps)
        velocity(X, w, self.rho_eps, self.eps, self.m, self.D, self.cutoff, self.period,
                 c["ncell"], c["cell_of"], c["order"], c["starts"], out)

    def pressure(self) -> float:
        """P'(max ρ_ε) = D m (max ρ_ε)^{m−1}, at the ρ_ε of the last :meth:`velocity`."""
        return self.D * self.m * self.rho_eps.max() ** (self.m - 1)

    def stable_step(self) -> float:
        """The explicit Euler limit ``BLOB_CFL ε² / P'(max ρ_ε)``."""
        return BLOB_CFL * self.eps**2 / self.pressure()
