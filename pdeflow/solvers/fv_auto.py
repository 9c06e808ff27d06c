"""The automatic choice of the finite-volume time scheme (``scheme="auto"``, the default),
recorded with the run (``scheme_choice`` in its attributes) and made once, from the problem at
t = 0.

What the work–precision measurements (``benchmarks/work_precision.py``, 2D 256²) support:

- U = D ρ log ρ and Φ uniform (the heat equation): ``split``, the exact propagator (positive
  per-axis matrix exponentials), one step per snapshot interval.
- U = D ρ log ρ, Φ = V(x) = Σ_k V_k(x_k) separable (Ornstein–Uhlenbeck), no interaction:
  ``split``, which is then the exact propagator of the Scharfetter–Gummel system (the operator
  is a Kronecker sum of per-axis generators: :func:`~pdeflow.solvers.fv_split.separable_generators`),
  one step per snapshot, at any mesh Péclet number (Ornstein–Uhlenbeck 256² to t = 1: the
  spatial error exactly, 1.432e-4, in 0.03–0.13 s against the SG stencil's 0.67 s).
- U = D ρ log ρ, Φ = V (linear Fokker–Planck, V not separable) with mesh Péclet number
  max|ΔV|/D ≤ 1, where the
  explicit step limit is set by the diffusion: ``rkl2`` (Ornstein–Uhlenbeck: 0.5× the stencil's
  time). The operator is then self-adjoint in ℓ²(1/π), so its eigenvalues are real, where the
  RKL2 stability interval lies. Beyond Péclet 1 the drift sets the limit and super-steps gain
  little; the split step is slower than RKL2 there too (its drift runs at the same CFL limit).
- U = ρ^m (porous medium) with V uniform and no interaction: ``rkl2`` (Barenblatt, m = 2, 128²:
  5.7× faster than SSP-RK3 at the same error, 6.86e-4 against 6.82e-4; no step rejected).
- U = D ρ log ρ with an interaction W∗ρ (Keller–Segel, aggregation–diffusion) at mesh Péclet
  number ≤ 1 at t = 0: ``rkl2``. The operator is not symmetric, but its stiff part is: the SG
  flux at frozen Φ is self-adjoint in ℓ²(1/π_Φ) (a real spectrum, where the RKL2 stability
  interval lies), and the interaction's contribution to the Jacobian is a smoothing, bounded
  perturbation, which the error control watches. Measured (the presets, to t = 1 and 0.5):
  Keller–Segel subcritical 128²: 2.8× faster than SSP-RK3, 256²: 5.2×, the two runs 9.4e-6 and
  1.4e-5 apart (relative L1); supercritical 96²: the blow-up detected at t = 0.3773 against
  SSP-RK3's 0.3787, the extrapolated blow-up time 0.5169 against 0.5179.
- Everything else — a drift or an interaction with U = ρ^m, mesh Péclet number > 1, a
  Fisher–Rao reaction: ``explicit`` (SSP-RK3).

The rkl2 steps are error-controlled (``rtol``, default 1e-5 local error per step, relative L1;
:mod:`pdeflow.solvers.fv_rkl`): the stage count alone (8 stages, no estimate) let the time error
exceed the spatial error on coarse grids (Ornstein–Uhlenbeck 1D, 64 cells, to t = 0.5: L1
4.4e-3 against SSP-RK3's 2.0e-3); with the estimate the time error there is 4.2e-5, and the
scheme became the default.
"""

from __future__ import annotations

import numpy as np

from ._fv_kernels import largest_jumps
from .fv_split import MAX_AXIS, separable_generators

PECLET = 1.0
"""Above this mesh Péclet number max|ΔV|/D the drift, not the diffusion, limits the step."""


def choose_scheme(fv) -> tuple[str, str]:
    """(scheme, why) for a :class:`~pdeflow.solvers.fv.FiniteVolume` stepper being built."""
    if fv.reaction is not None:
        return "explicit", "a Fisher-Rao reaction is split with the explicit transport"
    phi = np.asarray(fv.energy.drift_potential(fv.rho), dtype=float)
    interaction = fv.energy.has_interaction
    if fv.entropy_D is None:
        if fv.power_law is not None and np.ptp(phi) == 0.0 and not interaction:
            return "rkl2", "nonlinear diffusion without a drift: the step limit is the diffusion's"
        return "explicit", "no diffusion, or U = rho^m with a drift: SSP-RK3"
    if np.ptp(phi) == 0.0 and not interaction:
        if max(fv.grid.shape) <= MAX_AXIS:
            return "split", "pure diffusion: the exact propagator, one step per snapshot"
        return "rkl2", (f"pure diffusion on an axis of more than {MAX_AXIS} cells (too long for "
                        "the split scheme's dense factors): super-time-stepping")
    if not interaction and max(fv.grid.shape) <= MAX_AXIS and separable_generators(fv):
        return "split", ("linear Fokker-Planck with a separable potential V = sum_k V_k(x_k): the "
                         "exact propagator of the SG system (positive per-axis factors), one "
                         "step per snapshot")
    jumps = largest_jumps(np.ascontiguousarray(phi), fv.periodic, np.zeros(fv.grid.ndim))
    peclet = float(jumps.max()) / fv.entropy_D
    if peclet > PECLET:
        return "explicit", f"mesh Peclet number {peclet:.3g} > {PECLET:g}: the drift limits the step"
    if interaction:
        return "rkl2", (f"drift-diffusion with an interaction, mesh Peclet number {peclet:.3g} <= "
                        f"{PECLET:g}: the diffusion limits the step; the stiff part (SG at frozen "
                        "Phi) has a real spectrum, the interaction's part is smoothing and under "
                        "the error control")
    return "rkl2", (f"linear drift-diffusion, mesh Peclet number {peclet:.3g} <= {PECLET:g}: "
                    "the step limit is the diffusion's")
