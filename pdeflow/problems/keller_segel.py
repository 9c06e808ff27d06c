"""Parabolic–elliptic Keller–Segel ``∂t ρ = D Δρ − χ∇·(ρ∇c)``, ``−Δc = ρ``.

Gradient flow of ``D ∫ ρ log ρ − (χ/2) ∬ G(x−y) ρ(x)ρ(y)`` with G the Newtonian kernel. In 2D
(D = χ = 1, whole plane) the second moment obeys d/dt ∫|x|²ρ = 4M − M²/(2π) exactly: solutions
blow up in finite time iff M > 8π, no later than T* = 2π M₂(0) / (M (M − 8π)).
"""

from __future__ import annotations

from ..energy import Entropy, FreeEnergy, Interaction
from ..grid import Grid
from .base import Problem


def keller_segel(grid: Grid, rho0, chi: float = 1.0, D: float = 1.0, metric=None) -> Problem:
    """Keller–Segel with sensitivity χ and diffusion D on a 1D, 2D or 3D grid."""
    energy = FreeEnergy(Entropy(D), Interaction.newtonian(grid.ndim, chi))
    return Problem("keller_segel", grid, rho0, energy, parameters={"chi": float(chi), "D": float(D)},
                   metric=metric)


def second_moment_slope(mass: float, chi: float = 1.0, D: float = 1.0) -> float:
    """d/dt ∫|x|²ρ in 2D on the whole plane: 4DM − χM²/(2π)."""
    import numpy as np

    return 4 * D * mass - chi * mass**2 / (2 * np.pi)


def blowup_time_bound(mass: float, second_moment: float, chi: float = 1.0, D: float = 1.0):
    """Time at which the 2D second moment would vanish (an upper bound on the blow-up time)."""
    slope = second_moment_slope(mass, chi, D)
    return None if slope >= 0 else second_moment / -slope
