"""Blow-up times that converge with the grid, from a run's snapshots.

A grid run stops with status ``blow-up`` when max ρ crosses a threshold (``blowup_density``,
default 0.1·M/|cell|): the time of that crossing depends on the grid, since a finer grid resolves
a higher peak before it crosses (2D Keller–Segel, M = 1.4·8π: 0.26, 0.32, 0.38, 0.40 on 48², 64²,
96², 128²). Two estimates from the snapshots converge instead:

- ``blowup_time_max_density``: near the blow-up time T*, max ρ grows like 1/(T* − t) (up to
  logarithms in 2D Keller–Segel), so 1/max ρ, extrapolated linearly from the last two snapshots,
  reaches 0 at an estimate of T* (0.557, 0.543, 0.518, 0.486 on the grids above: from above,
  while the crossing times come from below).
- ``blowup_time_second_moment``: the time at which the second moment M₂(t) = ∫|x|²ρ, extrapolated
  linearly from the last snapshots before the blow-up, reaches 0. For 2D Keller–Segel
  (∂t ρ = DΔρ − χ∇·(ρ∇c), −Δc = ρ, whole plane) dM₂/dt = 4DM − χM²/(2π) exactly, so M₂ is linear
  and this is the time M₂(0) / (χM²/(2π) − 4DM) at which a positive density can no longer exist:
  an upper bound of T* (0.625 for the preset), approached as the grid is refined (0.72, 0.69, 0.66,
  0.65 on the grids above).
"""

from __future__ import annotations

import math

import numpy as np


def blowup_estimates(times, second_moment=None, max_density=None) -> dict[str, float]:
    """The two extrapolated blow-up times (see the module docstring); NaN where the data do not
    allow one (fewer than two snapshots, no growth, a second moment that does not fall)."""
    t = np.asarray(times, dtype=float)
    out = {"blowup_time_max_density": math.nan, "blowup_time_second_moment": math.nan}
    if max_density is not None and len(t) >= 2:
        inverse = 1.0 / np.asarray(max_density, dtype=float)[-2:]
        slope = (inverse[1] - inverse[0]) / (t[-1] - t[-2]) if t[-1] > t[-2] else 0.0
        if slope < 0 and np.all(np.isfinite(inverse)):
            out["blowup_time_max_density"] = float(t[-1] - inverse[1] / slope)
    if second_moment is not None and len(t) >= 3:
        m2 = np.asarray(second_moment, dtype=float)
        # the last snapshots before the blow-up one, which falls off the regular spacing
        k = slice(max(0, len(t) - 5), len(t) - 1)
        if len(t[k]) >= 2 and np.all(np.isfinite(m2)):
            slope = np.polyfit(t[k], m2[k], 1)[0]
            if slope < 0:
                out["blowup_time_second_moment"] = float(t[-1] + m2[-1] / -slope)
    return out
