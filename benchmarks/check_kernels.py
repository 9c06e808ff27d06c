"""Check the solver's fused finite-volume kernels against the one-axis reference kernels.

    python -m benchmarks.check_kernels

The fused kernels (all axes in one call, cells gathering their faces' fluxes, fused SSP-RK3
stages) must give what the reference kernels give axis by axis (a loop over faces adding
``∓J/h`` into both cells), up to round-off from the order of the sums: 1D, 2D and 3D grids of
1 to 9 cells per axis (where the wall and wrap-around cases live) and a few larger ones, walls and
periodic axes mixed, vacuum cells, uniform and random potentials. Step limits must agree exactly.
Exits non-zero on the first mismatch.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from pdeflow.solvers._fv_kernels import (
    as_3d,
    as_axis_view,
    largest_jumps,
    scharfetter_gummel_apply,
    scharfetter_gummel_divergence,
    scharfetter_gummel_stage,
    scharfetter_gummel_weights,
    upwind_apply,
    upwind_divergence,
    upwind_stage,
)

RTOL = 1e-13  # of the largest |term|: a few ulps of reordered sums of O(1) fluxes


def reference_sg(rho, phi, D, dx, periodic):
    out = np.zeros_like(rho)
    inv_dt = 0.0
    for axis, h in enumerate(dx):
        rate = scharfetter_gummel_divergence(as_axis_view(rho, axis), as_axis_view(phi, axis), D, h,
                                             periodic[axis], as_axis_view(out, axis))
        inv_dt += 2.0 * rate
    return out, inv_dt


def reference_cch(rho, xi, dx, periodic):
    out = np.zeros_like(rho)
    speeds = []
    for axis, h in enumerate(dx):
        speeds.append(upwind_divergence(as_axis_view(rho, axis), as_axis_view(xi, axis), h,
                                        periodic[axis], as_axis_view(out, axis)))
    return out, speeds


def close(name, got, expected, scale):
    err = float(np.max(np.abs(got - expected), initial=0.0))
    if err > RTOL * max(scale, 1e-300):
        raise AssertionError(f"{name}: max error {err:.3g} (scale {scale:.3g})")


def check_case(shape, periodic, rng, uniform_phi):
    d = len(shape)
    dx = tuple(float(h) for h in rng.uniform(0.05, 0.3, d))
    D = float(rng.uniform(0.3, 2.0))
    rho = rng.random(shape)
    rho[rng.random(shape) < 0.2] = 0.0  # vacuum
    phi = np.full(shape, 0.7) if uniform_phi else rng.normal(size=shape) * 2.0
    per = np.array(periodic, dtype=np.bool_)
    tag = f"shape {shape} periodic {periodic} uniform_phi {uniform_phi}"

    # Scharfetter–Gummel
    expected, expected_inv_dt = reference_sg(rho, phi, D, dx, periodic)
    coef = np.array([D / (h * h) for h in dx])
    w = np.zeros((d, 2) + as_3d(rho).shape)
    inv_dt = scharfetter_gummel_weights(phi, D, coef, per, w)
    if inv_dt != expected_inv_dt:
        raise AssertionError(f"SG step rate {inv_dt!r} != reference {expected_inv_dt!r} ({tag})")
    scale = float(np.max(coef)) * max(float(np.max(w[:, :])), 1.0) * float(np.max(rho))
    got = np.empty_like(rho)
    scharfetter_gummel_apply(rho, w, coef, per, got)
    close(f"SG L(ρ) ({tag})", got, expected, scale)
    if uniform_phi:  # B ≡ 1: the weight-free path gives the same numbers, bit for bit
        plain = np.empty_like(rho)
        scharfetter_gummel_apply(rho, None, coef, per, plain)
        if not np.array_equal(plain, got):
            raise AssertionError(f"SG without weights differs from B ≡ 1 weights ({tag})")
    check_stage(f"SG stage ({tag})", rho, got, lambda *args: scharfetter_gummel_stage(
        rho, w, coef, per, *args), rng)

    # Carrillo–Chertock–Huang (ξ = φ + ρ, as for a porous medium with m = 2)
    xi = phi + rho
    expected, speeds = reference_cch(rho, xi, dx, periodic)
    inv_h = np.array([1.0 / h for h in dx])
    jumps = np.zeros(d)
    largest_jumps(xi, per, jumps)
    for k, h in enumerate(dx):
        if jumps[k] / h != speeds[k]:
            raise AssertionError(f"CCH speed axis {k}: {jumps[k] / h!r} != {speeds[k]!r} ({tag})")
    got = np.empty_like(rho)
    upwind_apply(rho, xi, inv_h, per, got)
    scale = max(speeds, default=0.0) * float(np.max(inv_h)) * float(np.max(rho)) * 2
    close(f"CCH L(ρ) ({tag})", got, expected, scale)
    check_stage(f"CCH stage ({tag})", rho, got, lambda *args: upwind_stage(
        rho, xi, inv_h, per, *args), rng)


def check_stage(name, rho, L, stage, rng):
    """stage(α, x, β, dt, threshold, out) = α x + β (ρ + dt L), with its two counts."""
    x = rng.random(rho.shape)
    dt = 1e-3
    for alpha, beta in ((0.0, 1.0), (0.75, 0.25), (1.0 / 3.0, 2.0 / 3.0)):
        expected = alpha * x + beta * (rho + dt * L)
        threshold = float(np.median(expected))
        out = np.empty_like(rho)
        negative, high = stage(alpha, x, beta, dt, threshold, out)
        close(name, out, expected, float(np.max(np.abs(expected))))
        if negative != int(np.sum(out < 0)) or high != int(np.sum(~(out < threshold))):
            raise AssertionError(f"{name}: counts ({negative}, {high}) wrong")
        # a large step turns cells negative, and the count says so
        out2 = np.empty_like(rho)
        negative, _ = stage(0.0, rho, 1.0, 1e3, np.inf, out2)
        if negative != int(np.sum(out2 < 0)):
            raise AssertionError(f"{name}: negative count {negative} wrong")


def main() -> int:
    rng = np.random.default_rng(20261127)
    shapes = [(n,) for n in range(1, 10)] + [(200,)]
    shapes += [(a, b) for a in (1, 2, 3, 5) for b in (1, 2, 3, 4, 7)] + [(33, 40)]
    shapes += [(2, 3, 4), (3, 1, 5), (4, 5, 2), (6, 7, 9), (1, 1, 6)]
    count = 0
    for shape in shapes:
        for periodic in itertools.product((False, True), repeat=len(shape)):
            for uniform_phi in (False, True):
                check_case(shape, periodic, rng, uniform_phi)
                count += 1
    print(f"fused finite-volume kernels match the reference kernels in {count} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
