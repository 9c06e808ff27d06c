"""P1 finite-element operators on a :class:`~pdeflow.mesh.Mesh` (assembled with scikit-fem).

Notation: φ_i the P1 hat functions, ``m_i = ∫ φ_i`` the lumped mass, ``K_ij = ∫ ∇φ_j·∇φ_i``
the stiffness matrix. For P1, ``K_ij = −w_ij`` (i ≠ j) with the cotangent weights
``w_ij = ½ (cot α_ij + cot β_ij)`` (α, β the angles opposite edge ij), so

    (K ρ)_i = Σ_j w_ij (ρ_i − ρ_j).

``w_ij ≥ 0`` on Delaunay meshes; on non-obtuse meshes every element's contribution is ≥ 0.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import reverse_cuthill_mckee
from skfem import Basis, BilinearForm, ElementTriP1, asm
from skfem.helpers import dot, grad

from ..errors import PdeflowError
from ..kernels import Newtonian
from ..mesh import Mesh
from .drift_diffusion import drift_diffusion_weight


@BilinearForm
def weighted_laplace(u, v, w):
    """``∫ ω ∇u·∇v``."""
    return w.weight * dot(grad(u), grad(v))


def p1_basis(mesh: Mesh, intorder: int = 4) -> Basis:
    basis = Basis(mesh.skfem, ElementTriP1(), intorder=intorder)
    assert np.array_equal(basis.nodal_dofs[0], np.arange(mesh.size))  # P1 dofs are the nodes
    return basis


def stiffness(mesh: Mesh, weight: np.ndarray | None = None) -> sp.csr_matrix:
    """``K^ω_ij = ∫ ω ∇φ_j·∇φ_i`` with ω given at the quadrature points (default ω = 1)."""
    basis = p1_basis(mesh)
    if weight is None:
        weight = np.ones((mesh.n_triangles, basis.X.shape[-1]))
    K = asm(weighted_laplace, basis, weight=weight).tocsr()
    K.sum_duplicates()
    return K


def at_quadrature_points(mesh: Mesh, nodal: np.ndarray) -> np.ndarray:
    """The P1 interpolant of nodal values at the quadrature points, ``(n_triangles, n_points)``."""
    return np.array(p1_basis(mesh).interpolate(nodal), dtype=float)


def edge_weights(mesh: Mesh, K: sp.csr_matrix) -> np.ndarray:
    """Cotangent weights ``w_ij = −K_ij`` on ``mesh.edges``."""
    i, j = mesh.edges.T
    return -np.asarray(K[i, j]).ravel()


def drift_diffusion_operator(
    mesh: Mesh, w: np.ndarray, D_edge: np.ndarray, phi: np.ndarray
) -> sp.csc_matrix:
    """``G`` with ``(G ρ)_i = Σ_j J_ij``, the edge form of ``−∇·(D∇ρ + ρ∇Φ)``.

    The flux along edge ij is Scharfetter–Gummel (exponential fitting; Xu & Zikatanov's
    edge-averaged finite elements, 1999):

        J_ij = w_ij [D_ij B(δ) ρ_i − D_ij B(−δ) ρ_j],   δ = (Φ_j − Φ_i) / D_ij,   B(z) = z/(eᶻ − 1),

    which is ``w_ij D (ρ_i − ρ_j)`` for Φ constant, vanishes for ``ρ ∝ e^{−Φ/D}`` along the
    edge, and becomes the upwind flux ``w_ij (Φ_j − Φ_i)^± ρ`` as ``D_ij → 0``. Columns sum to
    zero (``1ᵀ G = 0``: mass is conserved); with ``w ≥ 0`` the off-diagonals are ≤ 0 and the
    diagonal is ≥ 0, so ``diag(m) + dt G`` is an M-matrix (positivity).
    """
    i, j = mesh.edges.T
    dphi = phi[j] - phi[i]
    out_i = w * drift_diffusion_weight(D_edge, dphi)   # coefficient of ρ_i in J_ij
    out_j = w * drift_diffusion_weight(D_edge, -dphi)  # coefficient of ρ_j in −J_ij
    rows = np.concatenate([i, i, j, j])
    cols = np.concatenate([i, j, i, j])
    vals = np.concatenate([out_i, -out_j, -out_i, out_j])
    return sp.csc_matrix((vals, (rows, cols)), shape=(mesh.size, mesh.size))


class NeumannPoisson:
    """``−Δc = ρ − ρ̄`` in Ω, ``∂c/∂n = 0`` on ∂Ω, ``∫ c = 0``; ``ρ̄ = ∫ρ / |Ω|``.

    The pure-Neumann problem is solvable only for data of zero mean, hence ``ρ − ρ̄``; c is
    fixed up to a constant, chosen by ``Σ m_i c_i = 0`` through a Lagrange multiplier λ:

        [K  m] [c]   [m ⊙ (ρ − ρ̄)]
        [mᵀ 0] [λ] = [     0     ]

    (load vector with the lumped mass). Factorised once, two triangular solves per call.
    """

    def __init__(self, mesh: Mesh, K: sp.csr_matrix):
        self.m = mesh.lumped_mass
        m = sp.csr_matrix(self.m[:, None])
        self.lu = spla.splu(sp.bmat([[K, m], [m.T, None]], format="csc"))

    def __call__(self, rho: np.ndarray) -> np.ndarray:
        mean = np.dot(self.m, rho) / self.m.sum()
        rhs = np.append(self.m * (rho - mean), 0.0)
        return self.lu.solve(rhs)[:-1]


class MeshInteraction:
    """``(W * ρ)(x_i)`` for ``W = strength · k(|x − y|)`` on a mesh.

    - Newtonian kernel (Keller–Segel): ``G * ρ`` is replaced by the Neumann potential c of
      :class:`NeumannPoisson` (the bounded-domain analogue of −ΔG = δ; it differs from the
      free-space convolution by a harmonic function and uses ``ρ − ρ̄`` as the source).
    - Bounded (non-singular) kernels: lumped quadrature ``Σ_j W(x_i − x_j) ρ_j m_j``, a dense
      matrix (up to 5000 nodes).
    """

    MAX_DENSE = 5000

    def __init__(self, mesh: Mesh, interaction, K: sp.csr_matrix):
        kernel, self.strength = interaction.kernel, interaction.strength
        self.poisson = self.dense = None
        if isinstance(kernel, Newtonian):
            if kernel.dim != 2:
                raise PdeflowError(f"fem runs in 2D; the Newtonian kernel is {kernel.dim}D")
            self.poisson = NeumannPoisson(mesh, K)
        elif kernel.singular:
            raise PdeflowError(f"fem supports the Newtonian or bounded kernels, not {kernel.name}")
        elif mesh.size > self.MAX_DENSE:
            raise PdeflowError(
                f"kernel '{kernel.name}' on {mesh.size} nodes needs a dense {mesh.size}² matrix; "
                f"use a mesh with at most {self.MAX_DENSE} nodes"
            )
        else:
            x = mesh.nodes
            r = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
            self.dense = kernel(r) * mesh.lumped_mass[None, :]

    def __call__(self, rho: np.ndarray) -> np.ndarray:
        field = self.poisson(rho) if self.poisson is not None else self.dense @ rho
        return self.strength * field


class ConstrainedSolve:
    """Solve ``A x = b`` with ``x = g`` on the ``fixed`` nodes (Dirichlet), LU factorised once:
    ``x_F = A_FF⁻¹ (b_F − A_FB g)`` on the free nodes F.

    For an M-matrix A the LU factors without pivoting keep their signs, so ``b ≥ 0`` gives
    ``x ≥ 0`` in floating point too (a symmetric renumbering ``P A Pᵀ`` is an M-matrix as well).
    """

    RENUMBER = 10  # renumber by RCM when the numbering's bandwidth is RENUMBER × RCM's or more

    def __init__(self, A: sp.csc_matrix, fixed: np.ndarray | None = None):
        n = A.shape[0]
        self.fixed = np.zeros(0, dtype=int) if fixed is None else np.asarray(fixed)
        self.free = np.setdiff1d(np.arange(n), self.fixed)
        if self.fixed.size:
            A = A.tocsr()
            self.coupling = A[self.free][:, self.fixed]
            A = A[self.free][:, self.free]
        # Diagonal pivots (the pattern is symmetric, the diagonal dominant: M-matrix or SPD) and a
        # minimum-degree ordering of A + Aᵀ, whose ties follow the node numbering: on a refined mesh
        # (Mesh.disk, Mesh.l_shape: bandwidth 35-200 × a reverse Cuthill–McKee numbering's) the
        # nodes are renumbered by RCM first. Factorisation + 100 solves of the heat θ-scheme matrix,
        # seconds (nnz(L + U) in millions), COLAMD (scipy's default) / MMD / RCM then MMD:
        #   disk 8k 0.075 / 0.056 / 0.054 (0.73 / 0.54 / 0.47), 33k 0.71 / 0.50 / 0.37 (4.1 / 2.7 / 2.4),
        #   132k 4.4 / 6.1 / 2.1 (22 / 15 / 12); banded already, not renumbered: rectangle 132k
        #   2.7 / 1.3 / 1.8 (15 / 7.3 / 9.9), annulus 113k 3.5 / 1.1 / 1.2 (16 / 6.8 / 6.5).
        # Without SymmetricMode, MMD factorises the disk 25-50 times slower.
        A = A.tocsc()
        self.order = None
        if A.shape[0] > 1:
            order = reverse_cuthill_mckee(A, symmetric_mode=True)
            if bandwidth(A) >= self.RENUMBER * bandwidth(A, order):
                self.order = order
                A = A[order][:, order].tocsc()
        self.lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})

    def __call__(self, b: np.ndarray, g: np.ndarray | None = None) -> np.ndarray:
        x = np.empty_like(b)
        rhs = b[self.free]
        if self.fixed.size:
            x[self.fixed] = g
            rhs = rhs - self.coupling @ g
        if self.order is None:
            x[self.free] = self.lu.solve(rhs)
        else:  # (P A Pᵀ)(P x) = P b
            x[self.free[self.order]] = self.lu.solve(rhs[self.order])
        return x


def bandwidth(A: sp.csc_matrix, order: np.ndarray | None = None) -> int:
    """``max |i − j|`` over the non-zeros ``A_ij`` of A, or of ``A[order][:, order]``."""
    rows, cols = A.indices, np.repeat(np.arange(A.shape[1]), np.diff(A.indptr))
    if order is not None:
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        rows, cols = rank[rows], rank[cols]
    return int(np.abs(rows - cols).max(initial=0))
