"""Convergence of the particle method in the number of particles N.

For N particles sampled from ρ₀ the empirical measure is W2-close to ρ₀ at the Monte-Carlo rate:
in 1D, ``N·E W2²(μ_N, ρ) → ∫ F(1−F)/ρ dx`` (F the distribution function), so W2 ~ N^{−1/2}; in d
dimensions the rate is slower, ~N^{−1/d} for d ≥ 3 (log factors at d = 2). A stable particle
method keeps that rate along the flow until its time-discretisation (dt) or regularisation
(blob width, softening) error is reached: the measured slope flattens there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import PdeflowError
from .trajectory import Trajectory
from .wasserstein import grid_measure, particle_measure, w2_distance


def particle_convergence(
    problem,
    t_end: float,
    n_list: Sequence[int],
    seeds: Sequence[int] = (0, 1, 2),
    reference="exact",
    max_points: int = 2000,
    **options,
) -> dict:
    """W2 between particle runs and a reference at t = 0 and t = t_end, for each N, over seeds.

    Parameters
    ----------
    problem : Problem
        Any problem; ``reference="exact"`` needs ``problem.exact``.
    t_end : float
        Final time.
    n_list : sequence of int
        Particle numbers.
    seeds : sequence of int
        One run per (N, seed); W2 is averaged over seeds.
    reference : "exact" or Trajectory
        The exact solution, or a (grid) run holding snapshots at 0 and ``t_end``.
    max_points : int
        2D/3D: atoms per measure in the exact OT: the reference is coarsened and the particles are
        binned into the same blocks (see :mod:`pdeflow.compare`), so that W2 has a floor at the
        block scale there.
    **options
        Passed to the particle solver (dt, diffusion, blob_width, ...).

    Returns
    -------
    dict
        ``n`` (array), ``w2`` (mean over seeds at t_end, per N), ``w2_std`` (its standard
        deviation over seeds), ``w2_initial`` (the same at t = 0), ``w2_all`` ((len(n), len(seeds), 2):
        t = 0 and t_end), ``slope`` and ``intercept`` (least-squares fit of log W2 on log N at
        t_end), ``slope_initial`` (at t = 0), ``t_end``.
    """
    from .solvers import solve

    n = np.asarray([int(k) for k in n_list])
    if n.size < 2 or np.any(n < 1):
        raise PdeflowError(f"n_list needs at least two positive particle numbers, got {list(n_list)}")
    reference_at = _reference(problem, reference, t_end, max_points)
    w2 = np.zeros((n.size, len(seeds), 2))
    for a, count in enumerate(n):
        for b, seed in enumerate(seeds):
            traj = solve(problem, t_end, method="particles", snapshots=2, n_particles=int(count),
                         seed=seed, progress=False, **options)
            if not traj.finished:
                raise PdeflowError(f"the particle run with N={count}, seed={seed} ended with status "
                                   f"{traj.status} at t={traj.times[-1]:g}")
            for c, t in enumerate((0.0, t_end)):
                X = traj.positions(c)
                w = traj.weights if traj.weights is not None else np.full(len(X), 1.0 / len(X))
                atoms = particle_measure(X, w, max_points, seed, grid=problem.grid)
                w2[a, b, c] = w2_distance(atoms, reference_at(t))
    mean = w2.mean(axis=1)
    slope, intercept = np.polyfit(np.log(n), np.log(mean[:, 1]), 1)
    slope0, _ = np.polyfit(np.log(n), np.log(mean[:, 0]), 1)
    return {
        "n": n, "w2": mean[:, 1], "w2_std": w2[:, :, 1].std(axis=1), "w2_initial": mean[:, 0],
        "w2_all": w2, "slope": float(slope), "intercept": float(intercept),
        "slope_initial": float(slope0), "t_end": float(t_end),
    }


def _reference(problem, reference, t_end: float, max_points: int):
    """t -> atoms of the reference density at t = 0 or t_end."""
    if isinstance(reference, str):
        if reference != "exact":
            raise PdeflowError(f"reference must be 'exact' or a Trajectory, got {reference!r}")
        if problem.exact is None:
            raise PdeflowError(f"problem {problem.name!r} has no exact solution; pass a reference "
                               "Trajectory (e.g. a fine finite-volume run)")
        atoms = {t: grid_measure(problem.exact(t), problem.grid, max_points) for t in (0.0, t_end)}
        return atoms.__getitem__
    if not isinstance(reference, Trajectory):
        raise PdeflowError(f"reference must be 'exact' or a Trajectory, got {type(reference).__name__}")
    atoms = {}
    for t in (0.0, t_end):
        hits = np.flatnonzero(np.abs(reference.times - t) <= 1e-9 * max(1.0, t))
        if hits.size == 0:
            raise PdeflowError(f"the reference run has no snapshot at t={t:g}; its times are "
                               f"{np.round(reference.times, 6).tolist()}")
        i = int(hits[0])
        if "position" in reference.frames:
            X = reference.positions(i)
            w = reference.weights if reference.weights is not None else np.full(len(X), 1.0 / len(X))
            atoms[t] = particle_measure(X, w, max_points, grid=reference.grid)
        else:
            atoms[t] = grid_measure(reference.density(i), reference.grid, max_points)
    return atoms.__getitem__
