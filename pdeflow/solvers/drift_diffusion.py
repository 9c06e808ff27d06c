"""The Scharfetter–Gummel (exponentially fitted) weight of a drift–diffusion flux, in NumPy.

The flux of ``−(D ∂ρ + ρ ∂Φ)`` through a face (or a mesh edge) of length ``h`` between cells
``i`` and ``j`` is

    J/h = [w(D, ΔΦ) ρ_i − w(D, −ΔΦ) ρ_j] / h²,   w(D, ΔΦ) = D B(ΔΦ/D),   B(z) = z / (eᶻ − 1),

with ``ΔΦ = Φ_j − Φ_i``. Both the finite-volume implicit step and the finite-element operators
assemble it. ``w`` is written in a form that never forms ``ΔΦ/D`` unguarded:

    D B(ΔΦ/D) = max(−ΔΦ, 0) + D B(|ΔΦ|/D)

(``B(−a) = a + B(a)``), and ``D B(a)`` for ``a = |ΔΦ|/D ≥ 0`` lies in ``[0, D]``: a face
diffusivity that is positive but tiny (a porous-medium ``P'(ρ) = m ρ^{m−1}`` at ρ ≈ 1e-157 is
3e-314) gives ``a = inf`` and ``D B(a) = 0``, not ``0·inf = NaN``. As ``D → 0`` the weight tends
to the upwind weight ``max(−ΔΦ, 0)``.
"""

from __future__ import annotations

import numpy as np

_SERIES_BELOW = 1e-6  # B(a) = 1 − a/2 + a²/12 − a⁴/720 + …: three terms exact to 1e-25 there
_ZERO_ABOVE = 800.0  # a e^{−a} underflows to 0 in float64 beyond a ≈ 745


def bernoulli_nonnegative(a: np.ndarray) -> np.ndarray:
    """``B(a) = a / (eᵃ − 1)`` for ``a ≥ 0`` (``inf`` allowed: ``B(inf) = 0``), in ``(0, 1]``."""
    a = np.minimum(np.asarray(a, dtype=float), _ZERO_ABOVE)
    small = a < _SERIES_BELOW
    safe = np.where(small, 1.0, a)
    exact = safe * np.exp(-safe) / -np.expm1(-safe)
    return np.where(small, 1.0 - 0.5 * a + a * a / 12.0, exact)


def drift_diffusion_weight(D: np.ndarray, dphi: np.ndarray) -> np.ndarray:
    """``w = D B(ΔΦ/D)``, the coefficient of the upstream density in the face flux (see the
    module docstring); ``max(−ΔΦ, 0)`` (upwind) where ``D = 0``. Finite and ``≥ 0`` for every
    finite ``D ≥ 0`` and ``ΔΦ``."""
    D = np.asarray(D, dtype=float)
    dphi = np.asarray(dphi, dtype=float)
    upwind = np.maximum(-dphi, 0.0)
    positive = D > 0
    with np.errstate(divide="ignore", over="ignore"):
        a = np.abs(dphi) / np.where(positive, D, 1.0)  # inf where D is tiny: B(inf) = 0
    return upwind + np.where(positive, D * bernoulli_nonnegative(a), 0.0)
