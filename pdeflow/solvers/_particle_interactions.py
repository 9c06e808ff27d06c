"""The interaction drift of the particle solver, ``v_i = −∇(W * μ_N)(X_i)``, W = s·k(|x − y|).

Two evaluations, chosen by the ``interaction`` option of ``method="particles"``:

- ``"direct"``: softened pair sums ``−s Σ_j w_j k'(r_δ) (X_i − X_j)/r_δ``, r_δ = √(r² + δ²)
  (Plummer softening δ = ``softening``; default for the singular Newtonian kernels: the mean
  spacing ℓ N^{−1/d}, ℓ the initial standard deviation; 0 for smooth kernels), O(N²) (on all
  threads above 2·10⁶ pair evaluations), minimum image on periodic axes.
- ``"mesh"``: particle–mesh: CIC deposit on the problem's grid refined ``mesh_refine`` times per
  axis (default 2: the force is resolved below the grid cell, so that a collapse can concentrate
  mass in one grid cell, the blow-up criterion, instead of stalling at the force's smoothing
  scale), ``Φ = W * ρ`` by FFT (:class:`~pdeflow.convolution.GridConvolution`, free space or
  periodic as the grid), ``∇Φ`` by centred differences (one-sided second order at walls), CIC
  interpolation back (the transpose of the deposit).

``"auto"``: mesh above :data:`MESH_THRESHOLD` particles or on a periodic grid (the minimum image
of the direct sums is not the periodised kernel the grid solvers use).
"""

from __future__ import annotations

import numpy as np

from ..deposit import cic_density, interpolate
from ..errors import PdeflowError
from ..grid import Grid
from . import _particle_kernels as pk

MESH_THRESHOLD = 5000  # interaction="auto": particle–mesh above this many particles


class InteractionDrift:
    """``out = −∇(W * μ_N)(X)`` for the interaction terms of a free energy (see the module docstring).

    ``mode`` is the evaluation in use: "direct", "mesh", or "none" (no interaction terms); ``mesh``
    and ``convolutions`` are the particle–mesh grid and its ``W *`` (None and () for direct sums).
    """

    def __init__(self, terms, w: np.ndarray, grid: Grid | None, mode: str, softening, refine: int,
                 scale: float, periodic: np.ndarray, period: np.ndarray):
        N, d = len(w), len(periodic)
        if mode == "none" and terms:
            raise PdeflowError("interaction='none' is for problems without interactions; this one "
                               f"has {len(terms)}: use 'auto', 'direct' or 'mesh'")
        if mode == "auto":  # periodic grids: the mesh's periodic kernel, as fv uses
            many = N > MESH_THRESHOLD or any(periodic)
            mode = "mesh" if many and grid is not None else "direct"
        if mode == "mesh" and grid is None:
            raise PdeflowError("interaction='mesh' needs a grid; use interaction='direct'")
        self.mode = mode if terms else "none"
        self.terms, self.w, self.period = terms, w, period
        singular = any(getattr(t.kernel, "singular", False) for t in terms)
        if softening is None:
            softening = scale * N ** (-1.0 / d) if singular else 0.0
        self.softening = float(softening)
        self.mesh, self.field = None, None
        if self.mode == "mesh":
            self.field = MeshField(terms, grid, refine)
            self.mesh = self.field.mesh
            self.rho_mesh = np.zeros(self.mesh.shape)
            self.grad_mesh = np.zeros((d, *self.mesh.shape))
        self.scratch = np.zeros((N, d))

    @property
    def convolutions(self):
        return self.field.convolutions if self.field is not None else ()

    def velocity(self, X: np.ndarray, out: np.ndarray) -> None:
        """out = −∇(W * μ_N)(X), direct softened pair sums or particle–mesh."""
        if self.mode == "mesh":
            cic_density(X, self.w, self.mesh, out=self.rho_mesh)
            interpolate(self.field(self.rho_mesh, out=self.grad_mesh), X, self.mesh, out=out)
            out *= -1.0
            return
        out.fill(0.0)
        scratch = self.scratch if X.shape == self.scratch.shape else np.empty_like(out)
        for term in self.terms:
            pk.direct_gradient(X, self.w, term.kernel, self.softening, self.period, scratch)
            out -= term.strength * scratch


class MeshField:
    """The particle–mesh field ``∇(W * ρ)`` on the problem's grid refined ``refine`` times per axis:
    ``Φ = Σ_terms W * ρ`` by FFT, ``∇Φ`` by centred differences (a deposit in, ``(d, *mesh.shape)``
    out). Held by :class:`InteractionDrift`, and by the distributed particle method, which solves
    it once per step for the deposits of all its partitions."""

    def __init__(self, terms, grid: Grid, refine: int):
        from ..convolution import GridConvolution

        self.mesh = Grid(grid.bounds, tuple(n * refine for n in grid.shape), grid.periodic)
        self.convolutions = [GridConvolution(self.mesh, t.kernel, t.strength) for t in terms]

    def __call__(self, rho_mesh: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        phi = sum(conv(rho_mesh) for conv in self.convolutions)
        return grid_gradient(phi, self.mesh, out=out)


def grid_gradient(phi: np.ndarray, grid: Grid, out: np.ndarray | None = None) -> np.ndarray:
    """∇φ by centred differences (periodic: wrapped; walls: one-sided second order at the edges)."""
    if out is None:
        out = np.empty((grid.ndim, *grid.shape))
    for k, (h, periodic) in enumerate(zip(grid.dx, grid.periodic, strict=True)):
        if periodic:
            out[k] = (np.roll(phi, -1, axis=k) - np.roll(phi, 1, axis=k)) / (2 * h)
        else:
            out[k] = np.gradient(phi, h, axis=k, edge_order=2)
    return out
