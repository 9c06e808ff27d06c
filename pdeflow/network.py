"""The mean-field limit of two-layer networks, measured: width-m gradient descent against the PDE.

Gradient descent on a width-m network in mean-field scaling, f(x) = (1/m) Σ_i a_i σ(w_i·x + b_i),
with θ_i(0) drawn independently from ρ₀, is the particle method for the continuity equation

    ∂t ρ = ∇·(ρ ∇Ψ),   Ψ(θ; ρ) = (1/n) Σ_k (f(x_k; ρ) − y_k) φ_k(θ) + (λ/2)|θ|²

(:func:`pdeflow.problems.mean_field_network`). As m → ∞ the empirical measure ρ_m(t) of the neurons
converges to its solution ρ(t) (Mei–Montanari–Nguyen 2018; Chizat–Bach 2018; Rotskoff–Vanden-Eijnden
2018; Sirignano–Spiliopoulos 2020), with fluctuations of order m^{−1/2}: the network's output
f(x; ρ_m) = f(x; ρ) + O_P(m^{−1/2}) (a sum of m independent terms at t = 0, propagated by the
Lipschitz flow), hence the risk gap |R_m(t) − R(t)| ~ m^{−1/2}; W2(ρ_m, ρ) behaves as the empirical
measure of m samples: for a Gaussian ρ₀ in 2D, E W2 ~ log m / √m (Ledoux 2017; Talagrand 2018), a
log-log slope near −0.3 over m = 10..10⁴, floored by the resolution of the grid solution and of
the W2 computation. :func:`mean_field_limit` measures both against m;
:func:`pdeflow.plot_network.plot_mean_field_limit` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import PdeflowError
from .wasserstein import grid_measure, particle_measure, w2_distance


def mean_field_limit(
    problem,
    t_end: float,
    widths: Sequence[int] = (10, 100, 1000, 10_000),
    seeds: Sequence[int] = (0, 1, 2),
    snapshots: int = 11,
    dt: float | None = None,
    reference=None,
    max_points: int = 1024,
    **options,
) -> dict:
    """Train networks of each width from ρ₀ over seeds; W2 and risk gaps to the grid solution.

    Parameters
    ----------
    problem : Problem
        A :func:`~pdeflow.problems.mean_field_network` problem with a grid and ``rho0``.
    t_end : float
        Training time (learning rate × steps).
    widths : sequence of int
        Network widths m (particles, weights 1/m, θ_i(0) sampled from ``rho0`` with each seed).
    seeds : sequence of int
        One run per (m, seed); the metrics are averaged over seeds.
    snapshots : int
        Snapshot times (shared by every run and the reference) on which risk curves are compared.
    dt : float, optional
        The learning rate, the same for every width (default ``t_end / 400``), so that only m
        varies; the Euler error O(dt) is common to all widths.
    reference : Trajectory, optional
        The grid solution (default: ``method="fv"`` on the problem's grid, the same snapshots).
    max_points : int
        Atoms per measure in the exact OT (:mod:`pdeflow.compare`): the grid density is coarsened
        into at most this many blocks and the neurons binned into the same blocks, so W2 has a floor
        near the block width times the square root of the L1 gap of the block masses.
    **options
        Passed to the particle solver (``batch_size``, ...).

    Returns
    -------
    dict
        ``widths``, ``seeds``, ``times``; ``w2`` and ``w2_std`` (mean and standard deviation over
        seeds at ``t_end``), ``w2_initial`` (the same at t = 0, the sampling error alone),
        ``w2_all`` (widths × seeds × (0, t_end)); ``risk_gap``, ``risk_gap_std`` (over seeds of
        max_t |R_m(t) − R(t)|), ``risk`` (widths × seeds × times), ``risk_reference`` (times);
        ``slope_w2``, ``slope_w2_initial``, ``slope_risk`` (least-squares slopes of log metric on
        log m), ``slope_w2_log`` (the same for W2 / log m: −1/2 when W2 ~ log m / √m, the rate of m
        Gaussian samples in 2D, Ledoux 2017); ``dt``; ``w2_method`` (what W2 was computed on).
    """
    from .solvers import solve

    widths = np.asarray([int(m) for m in widths])
    if widths.size < 2 or np.any(widths < 1):
        raise PdeflowError(f"widths needs at least two positive widths, got {list(widths)}")
    if getattr(problem, "grid", None) is None or problem.rho0 is None:
        raise PdeflowError("mean_field_limit compares with the grid solution: build the problem "
                           "with grid= and rho0=")
    dt = float(t_end) / 400 if dt is None else float(dt)
    if reference is None:
        reference = solve(problem, t_end, method="fv", snapshots=snapshots, progress=False)
    times = np.asarray(reference.times)
    grid = problem.grid
    ref_atoms = [grid_measure(reference.density(i), grid, max_points) for i in (0, -1)]
    risk_ref = np.asarray(reference.diagnostics["risk"])
    w2 = np.zeros((widths.size, len(seeds), 2))
    risk = np.zeros((widths.size, len(seeds), times.size))
    for a, m in enumerate(widths):
        for b, seed in enumerate(seeds):
            traj = solve(problem, t_end, method="particles", snapshots=times, n_particles=int(m),
                         seed=int(seed), dt=dt, progress=False, **options)
            if not traj.finished:
                raise PdeflowError(f"the width-{m} run (seed {seed}) ended {traj.status}")
            risk[a, b] = traj.diagnostics["risk"]
            for c, i in enumerate((0, -1)):
                weights = np.full(int(m), problem.mass / int(m))
                atoms = particle_measure(traj.positions(i), weights, max_points, grid=grid)
                w2[a, b, c] = w2_distance(atoms, ref_atoms[c])
    gaps = np.max(np.abs(risk - risk_ref), axis=2)

    def slope(values):
        return float(np.polyfit(np.log(widths), np.log(values), 1)[0])

    from .wasserstein import coarsening_factor

    f = coarsening_factor(grid.shape, max_points)
    return {
        "widths": widths, "seeds": list(seeds), "times": times, "dt": dt,
        "w2": w2[:, :, 1].mean(axis=1), "w2_std": w2[:, :, 1].std(axis=1),
        "w2_initial": w2[:, :, 0].mean(axis=1), "w2_all": w2,
        "risk_gap": gaps.mean(axis=1), "risk_gap_std": gaps.std(axis=1),
        "risk": risk, "risk_reference": risk_ref,
        "slope_w2": slope(w2[:, :, 1].mean(axis=1)), "slope_w2_initial": slope(w2[:, :, 0].mean(axis=1)),
        "slope_w2_log": slope(w2[:, :, 1].mean(axis=1) / np.log(widths)),
        "slope_risk": slope(gaps.mean(axis=1)),
        "w2_method": f"exact OT (ot.emd2) on blocks of {f}x{f} cells of the {grid.shape} grid; "
                     "neurons binned into the same blocks",
    }
