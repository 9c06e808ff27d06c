"""Free energies ``E[rho] = ∫ U(rho) + ∫ V rho + ½ ∬ W(x - y) rho(x) rho(y)`` and their pieces.

An equation is a :class:`FreeEnergy`; every solver reads the same object. The gradient flow is

    ∂t rho = ∇·(rho ∇ξ),   ξ = δE/δrho = U'(rho) + V + W * rho.

Writing ``P(rho) = rho U'(rho) - U(rho)`` for the pressure, ``rho ∇U'(rho) = ∇P(rho)``: the
internal energy is a (nonlinear) diffusion with diffusivity ``P'(rho)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from .convolution import GridConvolution
from .errors import PdeflowError
from .grid import Grid
from .kernels import Newtonian, RadialKernel

TINY = 1e-300  # floor inside log(rho): vacuum cells contribute 0·log 0 = 0 to the energy


class Entropy:
    """Boltzmann entropy ``U(rho) = D rho log rho``: linear diffusion ``D Δrho``."""

    def __init__(self, D: float = 1.0):
        D = float(D)
        if not np.isfinite(D) or D < 0:
            raise PdeflowError(f"diffusion coefficient D must be >= 0, got {D}")
        self.D = D

    def density(self, rho):
        """``U(rho) = D rho log rho`` (0 at rho = 0)."""
        return self.D * rho * np.log(np.maximum(rho, TINY))

    def first_variation(self, rho):
        """``U'(rho) = D (log rho + 1)``."""
        return self.D * (np.log(np.maximum(rho, TINY)) + 1.0)

    def diffusivity(self, rho):
        """``P'(rho) = D``."""
        return np.full_like(np.asarray(rho, dtype=float), self.D)

    def to_dict(self):
        return {"type": "entropy", "D": self.D}


class PowerLaw:
    """Power-law internal energy ``U(rho) = D rho^m / (m - 1)``, m > 1: ``∂t rho = D Δ rho^m``."""

    def __init__(self, m: float = 2.0, D: float = 1.0):
        m, D = float(m), float(D)
        if not m > 1:
            raise PdeflowError(f"power-law exponent m must be > 1, got {m}")
        if not np.isfinite(D) or D < 0:
            raise PdeflowError(f"PowerLaw coefficient D must be >= 0, got {D}")
        self.m, self.D = m, D

    def density(self, rho):
        return self.D * rho**self.m / (self.m - 1)

    def first_variation(self, rho):
        """``U'(rho) = D m rho^(m-1) / (m - 1)``."""
        return self.D * self.m / (self.m - 1) * rho ** (self.m - 1)

    def diffusivity(self, rho):
        """``P'(rho) = D m rho^(m-1)``."""
        return self.D * self.m * np.asarray(rho, dtype=float) ** (self.m - 1)

    def to_dict(self):
        return {"type": "power_law", "m": self.m, "D": self.D}


class Potential:
    """External potential energy ``∫ V rho``.

    Parameters
    ----------
    V : callable or array
        ``V(x)``, ``V(x, y)``, ... taking one coordinate array per axis, or an array of
        ``grid.shape``.
    gradient : callable, optional
        ``∇V`` as a callable of the same coordinates returning one array per axis (particle
        solvers use it; a central difference with step 1e-6 is used when missing).
    """

    def __init__(self, V, gradient: Callable | None = None, name: str = "potential"):
        self.V = V
        self.gradient = gradient
        self.name = name

    def on_grid(self, grid: Grid) -> np.ndarray:
        return grid.evaluate(self.V, "potential V" if self.name == "potential" else
                             f"potential {self.name}")

    def to_dict(self):
        return {"type": "potential", "name": self.name}


class Interaction:
    """Pairwise interaction energy ``½ ∬ W(x - y) rho(x) rho(y)``, ``W = strength · k(|x - y|)``.

    Examples: Keller–Segel is ``Interaction(Newtonian(d), strength=-chi)`` (attractive);
    ``Interaction(GaussianKernel(sigma), strength=-1)`` is a smooth attraction.
    """

    def __init__(self, kernel: RadialKernel, strength: float = 1.0):
        if not isinstance(kernel, RadialKernel):
            kernel = RadialKernel(kernel)
        self.kernel = kernel
        self.strength = float(strength)

    @classmethod
    def newtonian(cls, dim: int, chi: float = 1.0) -> Interaction:
        """Keller–Segel attraction ``W = -chi G`` with G the Newtonian kernel."""
        return cls(Newtonian(dim), strength=-chi)

    def to_dict(self):
        return {"type": "interaction", "strength": self.strength, **self.kernel.to_dict()}


class LowRankInteraction:
    """Low-rank interaction ``W(x, x') = scale · Σ_k φ_k(x) φ_k(x')``: ``W * ρ = scale Σ_k φ_k ⟨φ_k, ρ⟩``.

    Costs O(n · cells) per evaluation, never O(cells²). The mean-field two-layer network's risk
    is ``−(1/n) Σ_k y_k ⟨φ_k, ρ⟩`` (a potential) plus this term with ``scale = 1/n``.

    Parameters
    ----------
    features : callable
        ``features(*coords)`` -> array ``(n, *shape)``: the n feature functions φ_k at points
        given as one coordinate array per axis (broadcast together).
    scale : float
    gradient : callable, optional
        ``gradient(*coords)`` -> tuple, one array ``(n, *shape)`` per axis: ``∇φ_k`` (particles).
    """

    def __init__(self, features: Callable, scale: float = 1.0, gradient: Callable | None = None,
                 name: str = "low_rank"):
        if not callable(features):
            raise PdeflowError(f"features must be a callable of the coordinates, got {features!r}")
        self.features = features
        self.scale = float(scale)
        self.gradient = gradient
        self.name = name

    def on_grid(self, grid: Grid) -> np.ndarray:
        """The features at the cell centres, ``(n, grid.size)``."""
        coords = grid.coords()
        values = np.asarray(self.features(*coords), dtype=float)
        values = np.broadcast_to(values, (values.shape[0], *grid.shape))
        if not np.all(np.isfinite(values)):
            raise PdeflowError(f"{self.name} features are not finite on the grid")
        return np.ascontiguousarray(values.reshape(values.shape[0], -1))

    def to_dict(self):
        return {"type": "low_rank_interaction", "name": self.name, "scale": self.scale}


class FreeEnergy:
    """The free energy of a gradient flow: at most one internal energy, potentials, interactions.

    Parameters
    ----------
    *terms : Entropy, PowerLaw, Potential, Interaction
        Summed. ``FreeEnergy(Entropy(1.0), Potential(lambda x: x**2 / 2))`` is Fokker–Planck.

    Examples
    --------
    >>> import pdeflow as pf
    >>> grid = pf.Grid([(-5.0, 5.0)], 200)
    >>> energy = pf.FreeEnergy(pf.Entropy(1.0), pf.Potential(lambda x: 0.5 * x**2))
    >>> rho = pf.gaussian(grid, 0.0, 1.0)     # the Gibbs state e^{-V}/Z
    >>> bool(abs(energy.dissipation(rho, grid)) < 1e-3)
    True
    """

    def __init__(self, *terms):
        internal = [t for t in terms if isinstance(t, Entropy | PowerLaw)]
        if len(internal) > 1:
            raise PdeflowError("a free energy takes at most one internal energy (Entropy or PowerLaw)")
        known = (Entropy, PowerLaw, Potential, Interaction, LowRankInteraction)
        unknown = [t for t in terms if not isinstance(t, known)]
        if unknown:
            raise PdeflowError(
                f"unknown free-energy term {unknown[0]!r}; use Entropy, PowerLaw, Potential, "
                "Interaction or LowRankInteraction"
            )
        self.terms = tuple(terms)
        self.internal = internal[0] if internal else None
        self.potentials = tuple(t for t in terms if isinstance(t, Potential))
        self.interactions = tuple(t for t in terms if isinstance(t, Interaction))
        self.low_rank = tuple(t for t in terms if isinstance(t, LowRankInteraction))
        self._on_grid: dict[Grid, GridEnergy] = {}

    def on(self, grid: Grid) -> GridEnergy:
        """The energy discretised on ``grid`` (potential sampled, kernel transforms cached)."""
        if grid not in self._on_grid:
            self._on_grid[grid] = GridEnergy(self, grid)
        return self._on_grid[grid]

    # convenience forwarding for one-off evaluations
    def value(self, rho: np.ndarray, grid: Grid) -> float:
        return self.on(grid).value(rho)

    def xi(self, rho: np.ndarray, grid: Grid) -> np.ndarray:
        return self.on(grid).xi(rho)

    def dissipation(self, rho: np.ndarray, grid: Grid) -> float:
        return self.on(grid).dissipation(rho)

    def to_dict(self) -> dict:
        return {"terms": [t.to_dict() for t in self.terms]}


class GridEnergy:
    """A :class:`FreeEnergy` on a grid: the discrete energy, ``ξ`` and dissipation."""

    def __init__(self, energy: FreeEnergy, grid: Grid):
        self.energy = energy
        self.grid = grid
        self.internal = energy.internal
        V = np.zeros(grid.shape)
        for term in energy.potentials:
            V += term.on_grid(grid)
        self.V = V
        self.convolutions = tuple(
            GridConvolution(grid, t.kernel, t.strength) for t in energy.interactions
        )
        self.low_rank = tuple((t.scale, t.on_grid(grid)) for t in energy.low_rank)

    @cached_property
    def has_interaction(self) -> bool:
        """Whether Φ depends on ρ (a kernel or a low-rank interaction)."""
        return bool(self.convolutions or self.low_rank)

    @cached_property
    def may_concentrate(self) -> bool:
        """Whether the energy has an attractive-capable kernel interaction (blow-up watch)."""
        return bool(self.convolutions)

    def interaction_potential(self, rho: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``W * rho`` (zeros without interactions), into ``out`` when given."""
        total = np.zeros(self.grid.shape) if out is None else out
        total.fill(0.0)
        for conv in self.convolutions:
            conv.add_to(rho, total)
        for scale, features in self.low_rank:
            moments = features @ rho.reshape(-1) * self.grid.cell_volume  # ⟨φ_k, ρ⟩
            total += (scale * (moments @ features)).reshape(self.grid.shape)
        return total

    def drift_potential(self, rho: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``Φ = V + W * rho``: the part of ξ that is not the internal energy.

        Into ``out`` when given (a solver's work array); else a new array, or ``V`` itself
        (not to be modified) when Φ does not depend on ρ.
        """
        if not self.has_interaction:
            return self.V
        phi = self.interaction_potential(rho, out)
        phi += self.V
        return phi

    def xi(self, rho: np.ndarray) -> np.ndarray:
        """First variation ``ξ = U'(rho) + V + W * rho`` at the cell centres."""
        xi = self.drift_potential(rho).copy()
        if self.internal is not None:
            xi += self.internal.first_variation(rho)
        return xi

    def value(self, rho: np.ndarray) -> float:
        """``E = Σ_i [U(rho_i) + V_i rho_i + ½ rho_i (W*rho)_i] |cell|``."""
        return self.value_and_scale(rho)[0]

    def value_and_scale(self, rho: np.ndarray) -> tuple[float, float]:
        """``E`` and ``S = Σ_i (|U(rho_i)| + |V_i rho_i| + ½ |rho_i (W*rho)_i|) |cell|``: the size of
        the terms whose sum is E, against which E's round-off is measured."""
        terms = [self.V * rho]
        if self.internal is not None:
            terms.append(self.internal.density(rho))
        if self.has_interaction:
            terms.append(0.5 * rho * self.interaction_potential(rho))
        value = self.grid.integrate(sum(terms))
        scale = sum(self.grid.integrate(np.abs(term)) for term in terms)
        return value, scale

    def diagnostics(self, rho: np.ndarray) -> dict[str, float]:
        """Per-snapshot scalars of a grid density: mass, energy, dissipation ∫ρ|∇ξ|², second
        moment ∫|x|²ρ, min and max (what every grid method records).

        One pass of a compiled kernel (:func:`pdeflow._numba.grid_sums.density_sums`: compensated
        sums, no grid-sized temporaries besides Φ where there is an interaction); the same
        quantities as :meth:`value` and :meth:`dissipation`, to round-off.
        """
        from ._numba.grid_sums import ENTROPY, NONE, POWER, density_sums  # Numba: not at `import pdeflow`

        grid = self.grid
        phi = self.drift_potential(rho)
        if isinstance(self.internal, Entropy):
            kind, D, m = ENTROPY, self.internal.D, 1.0
        elif isinstance(self.internal, PowerLaw):
            kind, D, m = POWER, self.internal.D, self.internal.m
        else:
            kind, D, m = NONE, 0.0, 1.0
        lead = 3 - grid.ndim
        view = (1,) * lead + grid.shape
        axes = [np.zeros(1)] * lead + list(grid.axes)
        inv_h = np.array([0.0] * lead + [1.0 / h for h in grid.dx])
        periodic = np.array([False] * lead + list(grid.periodic))
        out = density_sums(np.ascontiguousarray(rho).reshape(view), self.V.reshape(view),
                           np.ascontiguousarray(phi).reshape(view), kind, D, m, *axes, inv_h,
                           periodic, np.empty(7))
        volume = grid.cell_volume
        return {
            "mass": float(out[0] * volume),
            "energy": float(out[1] * volume),
            "dissipation": float(out[4] * volume),
            "second_moment": float(out[3] * volume),
            "min_density": float(out[5]),
            "max_density": float(out[6]),
        }

    def dissipation(self, rho: np.ndarray) -> float:
        """Discrete ``∫ rho |∇ξ|²``: Σ over faces of the face density times (Δξ/Δx)².

        The face density is the logarithmic mean for the entropy (the Scharfetter–Gummel
        weighting; ``rho_face Δξ = D Δrho`` exactly when Φ is constant) and the arithmetic mean
        otherwise.
        """
        xi = self.xi(rho)
        total = 0.0
        for axis, h in enumerate(self.grid.dx):
            left, right = _face_pairs(rho, axis, self.grid.periodic[axis])
            xl, xr = _face_pairs(xi, axis, self.grid.periodic[axis])
            if isinstance(self.internal, Entropy):
                face = log_mean(left, right)
            else:
                face = 0.5 * (left + right)
            total += float(np.sum(face * ((xr - xl) / h) ** 2))
        return total * self.grid.cell_volume


def _face_pairs(a: np.ndarray, axis: int, periodic: bool):
    if periodic:
        return a, np.roll(a, -1, axis=axis)
    n = a.shape[axis]
    return np.take(a, np.arange(n - 1), axis=axis), np.take(a, np.arange(1, n), axis=axis)


def log_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logarithmic mean (a − b) / (log a − log b) of densities, elementwise: = a at a = b, 0 if either
    vanishes. The face density of the entropy's dissipation (here and in :mod:`pdeflow.solvers.fem`)."""
    a = np.maximum(a, 0.0)
    b = np.maximum(b, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lm = (a - b) / (np.log(a) - np.log(b))
    close = np.abs(a - b) <= 1e-12 * np.maximum(a, b)
    lm = np.where(close, 0.5 * (a + b), lm)
    return np.where((a > 0) & (b > 0), lm, 0.0)
