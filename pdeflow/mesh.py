"""Unstructured triangle meshes for the finite-element method: a thin wrapper over scikit-fem.

A density on a mesh is an array of ``(n_nodes,)`` holding its values at the nodes: the P1
(continuous, piecewise linear) function ``ρ_h = Σ_i ρ_i φ_i``. A :class:`Mesh` speaks the grid
protocol the problems use (``ndim``, ``shape``, ``coords``, ``integrate``, ``evaluate``,
``check_shape``, ``to_dict``), so ``pf.problems.fokker_planck(mesh, rho0, V)`` works as on a grid.

Integrals use the lumped mass ``m_i = ∫ φ_i = Σ_{T ∋ i} |T| / 3``:

    ∫ f dx ≈ Σ_i f_i m_i,

which is the *exact* integral of the P1 interpolant of f (``∫ φ_i = m_i``), equal to ``1ᵀ M f``
for the consistent mass matrix M as well. The finite-element solver uses the same diagonal
mass, so the mass it conserves exactly is the mass this method reports.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
from skfem import MeshTri

from .errors import PdeflowError
from .grid import evaluate_on


class Mesh:
    """A 2D triangle mesh (P1 nodes) on which densities are nodal arrays.

    Parameters
    ----------
    nodes : (n_nodes, 2) array
        Vertex coordinates.
    triangles : (n_triangles, 3) int array
        Vertex indices per triangle (any orientation; stored counter-clockwise).
    kind, params : str, dict
        How the mesh was built (``"disk"``, ...), recorded in output files.

    Examples
    --------
    >>> from pdeflow.mesh import Mesh
    >>> mesh = Mesh.disk(radius=1.0, refine=3)
    >>> mesh.shape, round(mesh.integrate(mesh.ones()), 3)     # area of the inscribed polygon
    ((145,), 3.121)
    """

    ndim = 2

    def __init__(self, nodes, triangles, kind: str = "user", params: dict | None = None):
        nodes = np.ascontiguousarray(nodes, dtype=float)
        triangles = np.ascontiguousarray(triangles, dtype=np.int64)
        if nodes.ndim != 2 or nodes.shape[1] != 2 or len(nodes) < 3:
            raise PdeflowError(f"mesh nodes must have shape (n_nodes >= 3, 2), got {nodes.shape}")
        if not np.all(np.isfinite(nodes)):
            raise PdeflowError("mesh nodes must be finite")
        if triangles.ndim != 2 or triangles.shape[1] != 3 or len(triangles) == 0:
            raise PdeflowError(f"mesh triangles must have shape (n_triangles, 3), got {triangles.shape}")
        if triangles.min() < 0 or triangles.max() >= len(nodes):
            raise PdeflowError(
                f"mesh triangles index nodes {triangles.min()}..{triangles.max()} but there are "
                f"{len(nodes)} nodes"
            )
        area = _signed_areas(nodes, triangles)
        flat = np.abs(area) <= 1e-14 * np.max(np.abs(area))
        if flat.any():
            raise PdeflowError(f"mesh has {int(flat.sum())} degenerate (zero-area) triangles")
        triangles = np.where((area < 0)[:, None], triangles[:, [0, 2, 1]], triangles)
        unused = np.setdiff1d(np.arange(len(nodes)), triangles)
        if unused.size:
            raise PdeflowError(f"mesh has {unused.size} nodes in no triangle (first: {unused[0]})")
        nodes.flags.writeable = False
        triangles.flags.writeable = False
        self.nodes = nodes
        self.triangles = triangles
        self.kind = kind
        self.params = dict(params or {})

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def rectangle(cls, bounds: Sequence[Sequence[float]] = ((0.0, 1.0), (0.0, 1.0)),
                  refine: int = 4) -> Mesh:
        """``[a, b] × [c, d]`` in right triangles; ``2^refine`` cells along the shorter side.

        The nodes are the vertices of a uniform ``nx × ny`` cell grid (each square cut along
        one diagonal): the mesh is non-obtuse, so the P1 stiffness matrix is an M-matrix.
        """
        (a, b), (c, d) = np.asarray(bounds, dtype=float)
        if not (b > a and d > c):
            raise PdeflowError(f"rectangle bounds {bounds!r} need low < high on both axes")
        n = 2 ** _refine(refine)
        short = min(b - a, d - c)
        nx, ny = (max(1, round(n * length / short)) for length in (b - a, d - c))
        m = MeshTri.init_tensor(np.linspace(a, b, nx + 1), np.linspace(c, d, ny + 1))
        bounds = [[float(a), float(b)], [float(c), float(d)]]
        return cls._from_skfem(m, "rectangle", {"bounds": bounds, "refine": refine})

    @classmethod
    def square(cls, refine: int = 4, low: float = 0.0, high: float = 1.0) -> Mesh:
        """The square ``[low, high]²`` with ``2^refine`` cells per side (see :meth:`rectangle`)."""
        mesh = cls.rectangle([(low, high), (low, high)], refine)
        mesh.kind = "square"
        return mesh

    @classmethod
    def disk(cls, radius: float = 1.0, refine: int = 4, center=(0.0, 0.0)) -> Mesh:
        """Disk of ``radius``: scikit-fem's circle mesh refined ``refine`` times, boundary
        nodes on the circle (the domain is the inscribed polygon; non-obtuse triangles)."""
        radius = _positive(radius, "disk radius")
        m = MeshTri.init_circle(_refine(refine))
        nodes = m.p.T * radius + np.asarray(center, dtype=float)
        return cls(nodes, m.t.T, "disk", {"radius": radius, "refine": refine,
                                          "center": list(map(float, center))})

    @classmethod
    def annulus(cls, r_inner: float = 0.5, r_outer: float = 1.0, refine: int = 3) -> Mesh:
        """Annulus ``r_inner < |x| < r_outer``: a polar grid, ``16·2^refine`` nodes per ring and
        rings about as far apart as neighbours on the middle ring, cells cut along alternating
        diagonals."""
        r_inner, r_outer = _positive(r_inner, "r_inner"), _positive(r_outer, "r_outer")
        if not r_outer > r_inner:
            raise PdeflowError(f"annulus needs r_inner < r_outer, got {r_inner} and {r_outer}")
        n_theta = 16 * 2 ** _refine(refine)
        spacing = np.pi * (r_inner + r_outer) / n_theta
        n_r = max(1, round((r_outer - r_inner) / spacing))
        r = np.linspace(r_inner, r_outer, n_r + 1)
        theta = 2 * np.pi * np.arange(n_theta) / n_theta
        R, TH = np.meshgrid(r, theta, indexing="ij")
        nodes = np.stack([(R * np.cos(TH)).ravel(), (R * np.sin(TH)).ravel()], axis=1)
        i, k = np.meshgrid(np.arange(n_r), np.arange(n_theta), indexing="ij")
        i, k = i.ravel(), k.ravel()
        a, b = i * n_theta + k, i * n_theta + (k + 1) % n_theta  # inner ring
        c, d = a + n_theta, b + n_theta                            # outer ring
        even = (i + k) % 2 == 0
        tris = np.concatenate([
            np.where(even[:, None], np.stack([a, b, d], 1), np.stack([a, b, c], 1)),
            np.where(even[:, None], np.stack([a, d, c], 1), np.stack([b, d, c], 1)),
        ])
        return cls(nodes, tris, "annulus",
                   {"r_inner": r_inner, "r_outer": r_outer, "refine": refine})

    @classmethod
    def l_shape(cls, refine: int = 3) -> Mesh:
        """L-shaped domain ``[−1, 1]² \\ (0, 1]²`` (scikit-fem's), refined ``refine`` times."""
        m = MeshTri.init_lshaped().refined(_refine(refine))
        return cls._from_skfem(m, "l_shape", {"refine": refine})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Mesh:
        """Read a triangle mesh: scikit-fem's ``.npz`` (``MeshTri.save_npz``), or any format
        meshio reads (Gmsh ``.msh``, ``.vtk``, ``.xdmf``, ...) when meshio is installed."""
        path = Path(path)
        if not path.exists():
            raise PdeflowError(f"mesh file {path} does not exist")
        if path.suffix == ".npz":
            m = MeshTri.load_npz(str(path))
        else:
            try:
                import meshio  # noqa: F401
            except ModuleNotFoundError as err:
                raise PdeflowError(
                    f"reading {path.suffix} meshes needs meshio (pip install meshio); "
                    "scikit-fem .npz files load without it"
                ) from err
            m = MeshTri.load(str(path))
        if not isinstance(m, MeshTri):
            raise PdeflowError(f"{path} holds a {type(m).__name__}; pdeflow needs triangles")
        return cls._from_skfem(m, "file", {"path": str(path)})

    @classmethod
    def _from_skfem(cls, m: MeshTri, kind: str, params: dict) -> Mesh:
        return cls(m.p.T, m.t.T, kind, params)

    @classmethod
    def from_dict(cls, spec: dict) -> Mesh:
        """Rebuild a mesh made by a named constructor from :meth:`to_dict`."""
        kind, params = spec.get("kind"), dict(spec.get("params", {}))
        builders = {"rectangle": cls.rectangle, "square": cls.square, "disk": cls.disk,
                    "annulus": cls.annulus, "l_shape": cls.l_shape, "file": cls.load}
        if kind not in builders:
            raise PdeflowError(f"cannot rebuild a '{kind}' mesh; known kinds: {sorted(builders)}")
        if kind == "square":
            (low, high) = params.pop("bounds")[0]
            params.update(low=low, high=high)
        return builders[kind](**params)

    # -- geometry ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int]:
        return (len(self.nodes),)

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def n_triangles(self) -> int:
        return len(self.triangles)

    @cached_property
    def skfem(self) -> MeshTri:
        """The scikit-fem ``MeshTri`` (for assembling forms)."""
        return MeshTri(np.ascontiguousarray(self.nodes.T), np.ascontiguousarray(self.triangles.T))

    @cached_property
    def edges(self) -> np.ndarray:
        """Unique edges ``(n_edges, 2)``, ``i < j``."""
        t = self.triangles
        pairs = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
        return np.unique(pairs, axis=0)

    @cached_property
    def h(self) -> float:
        """Mesh size: the longest edge."""
        i, j = self.edges.T
        return float(np.max(np.linalg.norm(self.nodes[j] - self.nodes[i], axis=1)))

    @cached_property
    def areas(self) -> np.ndarray:
        """Triangle areas ``|T|``."""
        return _signed_areas(self.nodes, self.triangles)

    @cached_property
    def lumped_mass(self) -> np.ndarray:
        """``m_i = ∫ φ_i = Σ_{T ∋ i} |T| / 3`` (row sums of the P1 mass matrix)."""
        m = np.zeros(self.size)
        np.add.at(m, self.triangles.ravel(), np.repeat(self.areas / 3.0, 3))
        m.flags.writeable = False
        return m

    @property
    def area(self) -> float:
        return float(self.areas.sum())

    @cached_property
    def boundary_nodes(self) -> np.ndarray:
        """Indices of the nodes on the boundary (edges in only one triangle)."""
        t = self.triangles
        pairs = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
        edges, count = np.unique(pairs, axis=0, return_counts=True)
        return np.unique(edges[count == 1])

    @property
    def bounds(self) -> tuple[tuple[float, float], ...]:
        """Bounding box per axis."""
        lo, hi = self.nodes.min(axis=0), self.nodes.max(axis=0)
        return tuple((float(a), float(b)) for a, b in zip(lo, hi, strict=True))

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Node coordinates ``(x, y)``, each of shape ``(n_nodes,)``."""
        return self.nodes[:, 0], self.nodes[:, 1]

    def points(self) -> np.ndarray:
        return np.array(self.nodes)

    def ones(self) -> np.ndarray:
        return np.ones(self.shape)

    # -- the grid protocol ------------------------------------------------------------------------
    def integrate(self, field: np.ndarray) -> float:
        """Lumped quadrature ``∫ f ≈ Σ_i f_i m_i`` (exact for the P1 interpolant of f)."""
        return float(np.dot(self.lumped_mass, np.asarray(field, dtype=float)))

    def evaluate(self, f, name: str = "function") -> np.ndarray:
        """Evaluate a callable ``f(x, y)`` at the nodes, or check a nodal array."""
        return evaluate_on(self, f, name, "mesh")

    def check_shape(self, array: np.ndarray, name: str = "array") -> None:
        if np.shape(array) != self.shape:
            raise PdeflowError(
                f"{name} has shape {np.shape(array)} but the mesh has {self.size} nodes; "
                "give one value per node"
            )

    def to_dict(self) -> dict:
        return {
            "type": "mesh", "kind": self.kind, "params": self.params,
            "n_nodes": self.size, "n_triangles": self.n_triangles, "h": self.h,
            "bounds": [list(b) for b in self.bounds],
        }

    def __eq__(self, other) -> bool:
        if not isinstance(other, Mesh):
            return NotImplemented
        return (self.nodes.shape == other.nodes.shape
                and self.triangles.shape == other.triangles.shape
                and np.array_equal(self.nodes, other.nodes)
                and np.array_equal(self.triangles, other.triangles))

    def __hash__(self) -> int:
        return self._hash

    @cached_property
    def _hash(self) -> int:
        return hash((self.nodes.tobytes(), self.triangles.tobytes()))

    def __repr__(self) -> str:
        return (f"Mesh({self.kind}: {self.size} nodes, {self.n_triangles} triangles, "
                f"h={self.h:.3g})")


def _signed_areas(nodes: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``|T|`` with sign: positive for counter-clockwise vertices."""
    a, b, c = (nodes[triangles[:, k]] for k in range(3))
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _refine(refine) -> int:
    if not isinstance(refine, int | np.integer) or not 0 <= refine <= 10:
        raise PdeflowError(f"refine must be an integer in 0..10, got {refine!r}")
    return int(refine)


def _positive(value, what: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise PdeflowError(f"{what} must be a positive number, got {value}")
    return value
