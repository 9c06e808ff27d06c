"""The linear solves of the implicit finite-volume steps: ``(I − c L) x = b``.

``L`` is the frozen spatial operator of :mod:`pdeflow.solvers.fv_implicit`: off-diagonals ``≥ 0``
and zero column sums, so ``A = I − c L`` is an M-matrix with unit column sums for every ``c > 0``:

    A⁻¹ ≥ 0,    1ᵀ A⁻¹ = 1ᵀ,    ‖A⁻¹‖₁ = 1.

Two ways to solve it (``linear_solver``):

- ``"direct"``: a sparse LU (SuperLU) of ``A``. The LU pivots on the diagonal (``A`` is column
  diagonally dominant) and its triangular solves add non-negative terms only, so ``x ≥ 0`` exactly
  for ``b ≥ 0``; the mass ``Σ x = Σ b`` to the round-off of the solve. Where the operator does not
  change (heat, Fokker–Planck) the factorisation is kept and reused for every step with the same
  ``c`` (a few of them are kept: BDF2's first step, its steady step and the steps landing on a
  snapshot have different ``c``).
- ``"krylov"``: GMRES preconditioned by the LU of an earlier ``A_m = I − c_m L[ρ^m]`` (frozen
  factorisation), started from ``x₀ = A_m⁻¹ b``. Mass: ``A_m`` has unit column sums too, so
  ``1ᵀ A_m⁻¹ = 1ᵀ``; then ``Σ x₀ = Σ b`` and every vector of the (left-preconditioned, as scipy's
  GMRES builds it) Krylov space ``K(A_m⁻¹ A, A_m⁻¹ r₀)`` sums to zero, since ``1ᵀ r₀ = Σ b − Σ A x₀
  = 0`` and ``1ᵀ A_m⁻¹ A v = 1ᵀ v``. So ``Σ x = Σ b`` at every iteration, converged or not, up to
  round-off (Keller–Segel: ≤ 7e-16 relative). That round-off grows with the size of the correction
  and with ``c`` · max rate: on random problems where the operator changes completely between
  steps (50 explicit limits per step, lagged aggregation) it reached 2.7e-12. So it is checked:
  a result whose mass is off by more than :data:`KRYLOV_MASS` (1e-13) relative is re-solved by
  the LU, as the direct path would (its own round-off measured ≤ 1.4e-13 there). Accuracy: the
  solve stops when the L1 residual is below :data:`KRYLOV_RTOL` · ‖b‖₁; as ‖A⁻¹‖₁ = 1 this
  bounds the L1 error of ``x`` by the same fraction of the mass. Positivity is not structural for
  an iterate: a result with any entry below zero is discarded and the system re-solved by a fresh
  LU (positive by construction), which then becomes the preconditioner; so is a solve that has
  not converged in ``refactor`` iterations. Nothing is clipped or rescaled. The start
  ``x₀ = A_m⁻¹ b ≥ 0`` carries the small tails of the density with their relative size (the
  corrections are products of local differences of the operators with those tails): on
  Keller–Segel, whose Gaussian tails reach 1e-17, no result was negative.

Where the operator is constant, ``"krylov"`` is the kept LU too (it solves the system exactly).
``"auto"``: direct where the operator is constant; otherwise Krylov when a factorisation is
expensive compared with the triangular solves that reuse it, judged by its fill: more than
:data:`KRYLOV_FILL` entries of ``L + U`` per active cell (a cell with an outflow), as for
Keller–Segel on its full support (27, 41, 52 at 48², 128², 256²), else direct (1D; or Barenblatt,
most cells in vacuum: 6, 8, 10, where a factorisation costs about as much as a few GMRES
iterations, and the energy control's halved steps change the matrix more than a kept LU follows).

The counts (``factorisations``, ``krylov_solves``, ``krylov_iterations``, ``krylov_fallbacks``:
results re-solved by LU for a negative entry or a mass drift above 1e-13,
``krylov_refactorisations``: solves not converged in ``refactor`` iterations) are in the run
attributes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

KRYLOV_RTOL = 1e-10  # L1 residual / ‖b‖₁, which bounds the L1 error / mass (‖A⁻¹‖₁ = 1)
KRYLOV_MASS = 1e-13  # a Krylov result whose mass drifts more is re-solved by the LU
KRYLOV_FILL = 20.0  # entries of the LU per active cell above which "auto" iterates
KEPT = 3  # factorisations kept for a constant operator (distinct c)


class ImplicitSolve:
    """Solves ``(I − c L) x = b`` for the implicit steps (see the module docstring).

    Parameters
    ----------
    linear_solver : {"auto", "direct", "krylov"}
        How to solve.
    constant : bool
        Whether ``L`` is the same at every step (then one LU per ``c`` is kept and reused).
    refactor : int
        Krylov: the most GMRES iterations of a solve before it is given up for a fresh LU.
    """

    def __init__(self, linear_solver: str, constant: bool, refactor: int = 10):
        self.requested = linear_solver
        self.constant = constant
        self.refactor = int(refactor)
        self.krylov = linear_solver == "krylov" and not constant
        self.factorisations = 0
        self.krylov_solves = 0
        self.krylov_iterations = 0
        self.krylov_fallbacks = 0
        self.krylov_refactorisations = 0
        # the LU's column ordering: minimum degree on Aᵀ + A where the LU is reused (half the
        # fill of COLAMD on a 5-point pattern, triangular solves 2-2.7x faster at 256²); scipy's
        # COLAMD where it is used once (1.2-1.8x faster to factorise a mostly-vacuum porous medium)
        reused = constant or linear_solver != "direct"
        self.ordering = "MMD_AT_PLUS_A" if reused else "COLAMD"
        self._kept: dict[float, Callable] = {}  # constant operator: c -> LU solve
        self._preconditioner = None  # krylov: the LU of the last factorised A_m

    def reset(self) -> None:
        """Forget the kept factorisations (the state was replaced: a resumed run)."""
        self._kept.clear()
        self._preconditioner = None

    def describe(self) -> str:
        if self.krylov:
            return (f"GMRES preconditioned by a kept sparse LU (L1 residual <= {KRYLOV_RTOL:g} of "
                    f"the mass, which bounds the L1 error; refactorised after {self.refactor} "
                    "iterations; a result with a negative entry or a relative mass drift above "
                    f"{KRYLOV_MASS:g} re-solved by a fresh LU)")
        if self.constant:
            return "sparse LU, factorised once per step size (the operator is constant)"
        return "sparse LU, factorised every step"

    def summary(self) -> dict:
        out = {"linear_solver": self.describe(), "factorisations": int(self.factorisations)}
        if self.krylov:
            out.update(krylov_solves=int(self.krylov_solves),
                       krylov_iterations=int(self.krylov_iterations),
                       krylov_fallbacks=int(self.krylov_fallbacks),
                       krylov_refactorisations=int(self.krylov_refactorisations))
        return out

    # -- the solves ---------------------------------------------------------------------------
    def solve(self, c: float, operator: Callable[[], sp.spmatrix], b: np.ndarray) -> np.ndarray:
        """``x = (I − c L)⁻¹ b``, ``operator()`` building ``L`` when it is needed."""
        if self.constant:
            solve = self._kept.get(c)
            if solve is None:
                solve = self._factorise(self._matrix(c, operator())).solve
                if len(self._kept) >= KEPT:
                    self._kept.pop(next(iter(self._kept)))
                self._kept[c] = solve
            return solve(b)
        A = self._matrix(c, operator())
        if not self.krylov or self._preconditioner is None:
            return self._direct(A, b)
        return self._iterate(A, b)

    @staticmethod
    def _matrix(c: float, L: sp.spmatrix) -> sp.csc_matrix:
        return (sp.identity(L.shape[0], format="csc") - c * L).tocsc()

    def _factorise(self, A: sp.csc_matrix):
        """SuperLU of A in :attr:`ordering`. The pivots stay on the diagonal (the largest entry
        of every column of an M-matrix with unit column sums, and of its Schur complements)."""
        self.factorisations += 1
        return spla.splu(A, permc_spec=self.ordering)

    def _direct(self, A: sp.csc_matrix, b: np.ndarray) -> np.ndarray:
        lu = self._factorise(A)
        if self.requested == "auto":  # iterate from now on where a factorisation is expensive
            # cells with an outflow; the others are identity rows (one entry in L, one in U)
            active = max(int(np.count_nonzero(A.diagonal() != 1.0)), 1)
            fill = lu.L.nnz + lu.U.nnz - 2 * (A.shape[0] - active)
            self.krylov = fill / active > KRYLOV_FILL
            self.ordering = "MMD_AT_PLUS_A" if self.krylov else "COLAMD"
        if self.krylov:
            self._preconditioner = lu
        return lu.solve(b)

    def _iterate(self, A: sp.csc_matrix, b: np.ndarray) -> np.ndarray:
        """GMRES preconditioned by the kept LU, from x₀ = A_m⁻¹ b; a fresh LU where it has not
        converged in ``refactor`` iterations, or where its result has a negative entry or its
        mass is off by more than :data:`KRYLOV_MASS`."""
        x, iterations, converged = right_preconditioned_gmres(
            A, b, self._preconditioner.solve, KRYLOV_RTOL, self.refactor)
        self.krylov_solves += 1
        self.krylov_iterations += iterations
        if not converged:
            self.krylov_refactorisations += 1
            return self._direct(A, b)
        if x.min() < 0.0 or abs(x.sum() - b.sum()) > KRYLOV_MASS * np.abs(b).sum():
            self.krylov_fallbacks += 1
            return self._direct(A, b)
        return x


def right_preconditioned_gmres(A: sp.spmatrix, b: np.ndarray, precondition: Callable,
                               rtol: float, max_iterations: int) -> tuple[np.ndarray, int, bool]:
    """GMRES on ``A M⁻¹ y = b``, ``x = x₀ + M⁻¹ V y``, from ``x₀ = M⁻¹ b``, with modified
    Gram–Schmidt and Givens rotations (Saad, Iterative Methods, alg. 6.9).

    Stops when ‖r‖₂ ≤ rtol ‖b‖₁ / √n, which implies the L1 residual ‖r‖₁ ≤ rtol ‖b‖₁; the true
    L1 residual of the result is checked against that bound too. Returns ``(x, iterations,
    converged)``. One preconditioner solve per iteration and two more (x₀ and the result).

    With ``1ᵀ A = 1ᵀ M = 1ᵀ``: Σ x₀ = Σ b, 1ᵀ r₀ = 0, and every Arnoldi vector sums to zero
    (1ᵀ A M⁻¹ v = 1ᵀ v), so Σ x = Σ x₀ + 1ᵀ V y = Σ b at every iteration (in exact arithmetic;
    the caller checks the round-off).
    """
    n = b.size
    b_l1 = np.abs(b).sum()
    x = precondition(b)
    r = b - A @ x
    beta = np.linalg.norm(r)
    target = rtol * b_l1 / np.sqrt(n)
    if beta <= target:
        return x, 0, True
    V = np.empty((max_iterations + 1, n))
    H = np.zeros((max_iterations + 1, max_iterations))
    cs, sn = np.zeros(max_iterations), np.zeros(max_iterations)
    g = np.zeros(max_iterations + 1)
    g[0] = beta
    V[0] = r / beta
    k = 0
    while k < max_iterations:
        w = A @ precondition(V[k])
        for i in range(k + 1):
            H[i, k] = V[i] @ w
            w -= H[i, k] * V[i]
        H[k + 1, k] = h_next = np.linalg.norm(w)
        if h_next > 0.0:
            V[k + 1] = w / h_next
        for i in range(k):  # the earlier rotations on the new column
            H[i, k], H[i + 1, k] = (cs[i] * H[i, k] + sn[i] * H[i + 1, k],
                                    -sn[i] * H[i, k] + cs[i] * H[i + 1, k])
        rho = np.hypot(H[k, k], H[k + 1, k])
        cs[k], sn[k] = H[k, k] / rho, H[k + 1, k] / rho
        H[k, k], H[k + 1, k] = rho, 0.0
        g[k + 1], g[k] = -sn[k] * g[k], cs[k] * g[k]
        k += 1
        if abs(g[k]) <= target or h_next == 0.0:  # converged, or the exact solution found
            break
    y = np.linalg.solve(np.triu(H[:k, :k]), g[:k])
    x = x + precondition(V[:k].T @ y)
    return x, k, bool(np.abs(b - A @ x).sum() <= rtol * b_l1)
