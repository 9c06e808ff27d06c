"""Measures for the quadratic Wasserstein distance between pdeflow's views of one flow.

A grid density, a particle set and a finite-element field become measures that W2 can compare
(see :mod:`pdeflow.compare` for the choices): in 1D the exact quantile function of the
piecewise-constant density or of the weighted particles (:class:`PiecewiseQuantile`, W2 exact);
in 2D/3D at most ``max_points`` atoms (blocks of cells at their centres of mass, particle
subsamples or blocks, triangles at their P1 centres of mass) for exact optimal transport
(``ot.emd2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .grid import Grid
from .mesh import Mesh


def grid_measure(rho: np.ndarray, grid: Grid, max_points: int = 2000):
    """A grid density as a measure for W2 (see the module docstring).

    1D: the exact piecewise-constant density, as its quantile function
    (:class:`PiecewiseQuantile`). 2D/3D: atoms ``(points (n, d), masses (n,))`` at the centres of
    mass of blocks of cells, at most ``max_points`` of them.
    """
    masses = np.asarray(rho, dtype=float) * grid.cell_volume
    if grid.ndim == 1:
        edges = grid.bounds[0][0] + np.arange(grid.size + 1) * grid.dx[0]
        keep = masses > 0
        return PiecewiseQuantile(edges[:-1][keep], edges[1:][keep], masses[keep])
    return block_atoms(grid.points(), masses.ravel(), grid, max_points)


@dataclass
class PiecewiseQuantile:
    """A 1D measure by its quantile function, linear on each mass interval.

    Interval j carries mass ``masses[j]`` spread uniformly on ``[starts[j], ends[j]]`` (a grid
    cell), or concentrated at a point (``starts[j] == ends[j]``: a particle). The quantile
    function Q(s) then rises linearly from ``starts[j]`` to ``ends[j]`` on the j-th mass interval.
    """

    starts: np.ndarray
    ends: np.ndarray
    masses: np.ndarray

    @classmethod
    def from_atoms(cls, points: np.ndarray, masses: np.ndarray) -> PiecewiseQuantile:
        order = np.argsort(points.ravel(), kind="stable")
        x = points.ravel()[order]
        return cls(x, x, np.asarray(masses, dtype=float)[order])

    def evaluate(self, s: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Q at the ends of the sub-intervals [s_k, s_{k+1}] of the normalised mass coordinate:
        the limits from inside each sub-interval (Q may jump between intervals)."""
        mid = 0.5 * (s[:-1] + s[1:])
        j = np.clip(np.searchsorted(breaks, mid, side="right") - 1, 0, len(self.masses) - 1)
        width = np.where(breaks[j + 1] > breaks[j], breaks[j + 1] - breaks[j], 1.0)
        slope = (self.ends[j] - self.starts[j]) / width
        return (self.starts[j] + slope * (s[:-1] - breaks[j]),
                self.starts[j] + slope * (s[1:] - breaks[j]))


def _quantile_w2(a: PiecewiseQuantile, b: PiecewiseQuantile) -> float:
    """W2² = ∫₀¹ |Q_a(s) − Q_b(s)|² ds, exactly: both are linear on the merged mass intervals,
    so the integrand is quadratic there and Simpson's rule is exact."""
    ba = np.concatenate([[0.0], np.cumsum(a.masses)]) / a.masses.sum()
    bb = np.concatenate([[0.0], np.cumsum(b.masses)]) / b.masses.sum()
    s = np.unique(np.concatenate([ba, bb]))
    qa0, qa1 = a.evaluate(s, ba)
    qb0, qb1 = b.evaluate(s, bb)
    d0, d1 = qa0 - qb0, qa1 - qb1
    dm = 0.5 * (d0 + d1)
    return float(np.sum(np.diff(s) * (d0**2 + 4 * dm**2 + d1**2) / 6))


def coarsening_factor(shape: tuple[int, ...], max_points: int) -> int:
    """Smallest f with ``Π ⌈n_k / f⌉ ≤ max_points``."""
    f = 1
    while np.prod([-(-n // f) for n in shape]) > max_points:
        f += 1
    return f


def block_atoms(X: np.ndarray, w: np.ndarray, grid: Grid, max_points: int):
    """Point masses ``(X, w)`` binned into the blocks of f×f(×f) cells of ``grid`` (f from
    :func:`coarsening_factor`): one atom per non-empty block, its mass at its centre of mass.
    Points outside the box count in the nearest block."""
    f = coarsening_factor(grid.shape, max_points)
    blocks = tuple(-(-n // f) for n in grid.shape)
    cells = [np.clip(np.floor((X[:, k] - a) / h).astype(np.int64), 0, n - 1) // f
             for k, ((a, _), h, n) in enumerate(zip(grid.bounds, grid.dx, grid.shape, strict=True))]
    index = np.ravel_multi_index(cells, blocks)
    mass = np.bincount(index, weights=w, minlength=int(np.prod(blocks)))
    keep = mass > 0
    centres = np.stack([np.bincount(index, weights=w * X[:, k], minlength=mass.size)[keep]
                        for k in range(X.shape[1])], axis=1)
    return centres / mass[keep, None], mass[keep]


def particle_measure(X: np.ndarray, w: np.ndarray, max_points: int = 2000, seed: int = 0,
                     grid: Grid | None = None):
    """Atoms of a particle set for W2: all particles in 1D; beyond, at most ``max_points``.

    Without ``grid``: a subsample (without replacement, seeded). With ``grid``: the particles
    binned into the blocks of :func:`grid_measure`, each block an atom of its particles' mass at
    their centre of mass (no sampling error; quantisation within a block).
    """
    X = np.asarray(X, dtype=float).reshape(len(w), -1)
    w = np.asarray(w, dtype=float)
    if X.shape[1] == 1 or len(w) <= max_points:
        return X, w
    if grid is None:
        pick = np.random.default_rng(seed).choice(len(w), size=max_points, replace=False)
        return X[pick], w[pick] * (w.sum() / w[pick].sum())
    return block_atoms(X, w, grid, max_points)


# -- finite-element (P1) densities ----------------------------------------------------------------


def mesh_atoms(rho: np.ndarray, mesh: Mesh):
    """One atom per triangle of the P1 density ρ_h = Σ_i ρ_i φ_i: its mass
    ``∫_T ρ_h = |T| (ρ_a + ρ_b + ρ_c)/3`` at its centre of mass, from
    ``∫_T x ρ_h = |T|/12 (Σ_k ρ_k Σ_k x_k + Σ_k ρ_k x_k)`` (∫_T φ_i φ_k = |T| (1 + δ_ik)/12).
    Returns ``(points (n, 2), masses (n,))``, empty triangles dropped."""
    r = np.asarray(rho, dtype=float)[mesh.triangles]          # (n_triangles, 3)
    X = mesh.nodes[mesh.triangles]                            # (n_triangles, 3, 2)
    mass = mesh.areas * r.sum(axis=1) / 3
    first = (mesh.areas / 12)[:, None] * (r.sum(axis=1)[:, None] * X.sum(axis=1)
                                          + np.einsum("tk,tkd->td", r, X))
    keep = mass > 0
    return first[keep] / mass[keep, None], mass[keep]


def mesh_measure(rho: np.ndarray, mesh: Mesh, grid: Grid, max_points: int = 2000):
    """A mesh density as atoms for W2: :func:`mesh_atoms`, binned into the blocks of ``grid``
    (:func:`block_atoms`) when there are more than ``max_points`` of them."""
    points, masses = mesh_atoms(rho, mesh)
    if len(masses) <= max_points:
        return points, masses
    return block_atoms(points, masses, grid, max_points)


@lru_cache(maxsize=4)
def p1_at_cell_centres(mesh: Mesh, grid: Grid):
    """(vertex indices (n_cells, 3), barycentric weights (n_cells, 3)) of the grid's cell centres
    in the mesh's triangles (matplotlib's trapezoid-map point location on the mesh's own
    triangulation); centres outside the mesh get zero weights."""
    from matplotlib.tri import Triangulation

    P = grid.points()
    found = Triangulation(mesh.nodes[:, 0], mesh.nodes[:, 1], mesh.triangles).get_trifinder()(
        P[:, 0], P[:, 1])
    inside = found >= 0
    vertices = mesh.triangles[np.where(inside, found, 0)]
    a, b, c = (mesh.nodes[vertices[:, k]] for k in range(3))
    # P = a + λ_b (b − a) + λ_c (c − a)
    lam = np.linalg.solve(np.stack([b - a, c - a], axis=2), (P - a)[:, :, None])[:, :, 0]
    weights = np.column_stack([1 - lam.sum(axis=1), lam]) * inside[:, None]
    return vertices, np.clip(weights, 0.0, 1.0)


def w2_distance(a, b) -> float:
    """W2 between normalised measures: 1D exactly through quantile functions; 2D/3D exact optimal
    transport between atoms ``(points, masses)`` (``ot.emd2``)."""
    if isinstance(a, PiecewiseQuantile) or isinstance(b, PiecewiseQuantile) or a[0].shape[1] == 1:
        qa = a if isinstance(a, PiecewiseQuantile) else PiecewiseQuantile.from_atoms(*a)
        qb = b if isinstance(b, PiecewiseQuantile) else PiecewiseQuantile.from_atoms(*b)
        return float(np.sqrt(max(_quantile_w2(qa, qb), 0.0)))
    import ot  # lazily: POT takes ~0.3 s to import

    (xa, wa), (xb, wb) = a, b
    wa, wb = wa / wa.sum(), wb / wb.sum()
    cost = ot.dist(xa, xb)  # squared Euclidean
    return float(np.sqrt(max(ot.emd2(wa, wb, cost, numItermax=50_000_000), 0.0)))


def moments(points: np.ndarray, masses: np.ndarray, cell_variance=None):
    """(mean, covariance) of a measure; ``cell_variance`` adds dx²/12 per axis (piecewise constant)."""
    m = masses / masses.sum()
    mean = m @ points
    centred = points - mean
    cov = centred.T @ (centred * m[:, None])
    if cell_variance is not None:
        cov = cov + np.diag(cell_variance)
    return mean, cov


# -- one run at one time ----------------------------------------------------------------------------
