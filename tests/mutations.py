"""Mutation testing of the numerics: does the fast suite notice a wrong constant or sign?

Each mutant replaces one exact source snippet (a flux, a normalisation, a step bound) by a
wrong one; the script runs a fast subset of tests on a copy of the repository holding that one
change and records whether the tests fail ("killed") or pass ("survived"). A mutant that
survives points at a number the tests do not check.

    python tests/mutations.py                 # every mutant; writes tests/mutations_report.md
    python tests/mutations.py sg- cch-        # the mutants whose name starts with one of these
    python tests/mutations.py --list          # names and descriptions, no runs
    python tests/mutations.py cch- --tests tests/test_fv_convergence.py   # another test subset
    python tests/mutations.py --timeout 600   # seconds per mutant (default 300)

Not a test module (pytest collects ``test_*.py`` only) and it runs nothing on import.

Isolation: the repository is copied once (``git ls-files``, untracked files included, no
``__pycache__``) into a temporary directory; each mutant patches its file there and restores it
in ``finally``. Every pytest run gets its own empty ``NUMBA_CACHE_DIR``, so a kernel cached from
the unmutated source can never hide a mutant (Numba keeps constants of other modules frozen in a
cached kernel, so a per-file check would not be enough). The copy's root comes first on the
import path (``pythonpath = ["."]`` in pyproject.toml); the baseline run checks that the copy, not
the installed working tree, is what the tests import.

Extending: append a :class:`Mutant` to ``MUTANTS``. A snippet must occur exactly once in its file
(else the mutant is reported "snippet not found" or "snippet ambiguous" and skipped, not a crash),
so after a refactor, update the snippet and rerun. ``tests`` names the fast subset that should
kill it (files or node ids); ``expect_survive`` marks mutants known to survive today, with the
reason (they are reported, not treated as failures of the script).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "tests" / "mutations_report.md"

# fast test subsets (files or node ids), chosen to run in well under a minute each
KERNELS = "tests/test_kernels_and_energy.py"
FV_CONV = "tests/test_fv_convergence.py"
FV_PROP = "tests/test_fv_properties.py"
PARTICLES = (  # the whole file takes ~100 s; these tests check the numbers of the flow
    "tests/test_particles.py::test_pair_gradient_matches_numpy",
    "tests/test_particles.py::test_ou_mean_and_covariance_within_four_standard_errors",
    "tests/test_particles.py::test_keller_segel_second_moment_grows_at_4m_minus_m2_over_2pi",
    "tests/test_particles.py::test_direct_sum_virial_is_exact_and_mesh_agrees_with_direct",
)
JKO = "tests/test_jko.py"
FEM = "tests/test_fem.py"
FV_FAST = (KERNELS, FV_CONV, FV_PROP)
FV_IMPLICIT = "pdeflow/solvers/fv_implicit.py"
FV_LINEAR = "pdeflow/solvers/fv_linear.py"
IMPLICIT = ("tests/test_fv_implicit.py", "tests/test_fv_time_order.py", "tests/test_fv_krylov.py",
            "tests/test_fv_bdf2.py")


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    snippet: str
    replacement: str
    description: str
    tests: tuple[str, ...]
    expect_survive: str = ""  # why it is known to survive today (empty: it must be killed)


FV_KERNELS = "pdeflow/solvers/_fv_kernels.py"
FV = "pdeflow/solvers/fv.py"
KERNEL_FILE = "pdeflow/kernels.py"
CONVOLUTION = "pdeflow/convolution.py"

MUTANTS: list[Mutant] = [
    # -- Scharfetter–Gummel flux and the Bernoulli function ------------------------------------
    Mutant("sg-bernoulli-sign", FV_KERNELS, "    return even - 0.5 * z\n", "    return even + 0.5 * z\n",
           "B(z) series: −z/2 → +z/2 (B(−z) instead of B(z) near 0)", FV_FAST),
    Mutant("sg-bernoulli-exact", FV_KERNELS, "        return z * e / (1.0 - e)\n",
           "        return 1.01 * z * e / (1.0 - e)\n",
           "B(z) for z > 1: ×1.01", FV_FAST),
    Mutant("sg-weight-minus", FV_KERNELS,
           "        bd = _bernoulli_series(abs(delta))\n        w_plus[c] = bd + max(-delta, 0.0)\n"
           "        w_minus[c] = bd + max(delta, 0.0)\n",
           "        bd = _bernoulli_series(abs(delta))\n        w_plus[c] = bd + max(-delta, 0.0)\n"
           "        w_minus[c] = bd + 1.01 * max(delta, 0.0)\n",
           "SG weight B(−δ) = B(|δ|) + δ⁺ → B(|δ|) + 1.01 δ⁺ (drift 1 % too strong)", FV_FAST),
    Mutant("sg-delta-sign", FV_KERNELS,
           "        delta = (right[c] - left[c]) * inv_D\n        bd = _bernoulli_series",
           "        delta = (left[c] - right[c]) * inv_D\n        bd = _bernoulli_series",
           "SG δ = (φ_r − φ_l)/D → (φ_l − φ_r)/D (drift reversed, series branch)", FV_FAST),
    Mutant("sg-face-coef", FV_KERNELS,
           "    return coef * (w[k, 0, a, b, c] * rho_left - w[k, 1, a, b, c] * rho_right)",
           "    return 1.01 * coef * (w[k, 0, a, b, c] * rho_left - w[k, 1, a, b, c] * rho_right)",
           "SG face flux D/h² → 1.01 D/h² (diffusion and drift 1 % fast)", FV_FAST),
    Mutant("sg-pure-diffusion", FV_KERNELS, "        return coef * (rho_left - rho_right)\n",
           "        return 1.01 * coef * (rho_left - rho_right)\n",
           "pure diffusion (B ≡ 1) flux ×1.01", FV_FAST),
    # -- Carrillo–Chertock–Huang upwind flux and the minmod limiter ----------------------------
    Mutant("cch-velocity-sign", FV_KERNELS, "    u = (xi_left - xi_right) * inv_h\n",
           "    u = (xi_right - xi_left) * inv_h\n",
           "CCH u = −Δξ/h → +Δξ/h (downwind, anti-gradient flow)", FV_FAST),
    Mutant("cch-velocity-factor", FV_KERNELS, "    u = (xi_left - xi_right) * inv_h\n",
           "    u = 1.01 * (xi_left - xi_right) * inv_h\n",
           "CCH velocity ×1.01", FV_FAST),
    Mutant("cch-upwind-choice", FV_KERNELS, "    return u * (east if u > 0.0 else west) * inv_h\n",
           "    return u * (west if u > 0.0 else east) * inv_h\n",
           "CCH: face value taken downwind", FV_FAST),
    Mutant("cch-first-order", FV_KERNELS,
           "    east = rho_l + 0.5 * minmod(rho_r - rho_l, rho_l - rho_ll)\n"
           "    west = rho_r - 0.5 * minmod(rho_rr - rho_r, rho_r - rho_l)\n",
           "    east = rho_l + 0.0 * minmod(rho_r - rho_l, rho_l - rho_ll)\n"
           "    west = rho_r - 0.0 * minmod(rho_rr - rho_r, rho_r - rho_l)\n",
           "CCH reconstruction dropped: first-order upwind", FV_FAST),
    Mutant("cch-slope-half", FV_KERNELS,
           "    west = rho_r - 0.5 * minmod(rho_rr - rho_r, rho_r - rho_l)\n",
           "    west = rho_r - 0.25 * minmod(rho_rr - rho_r, rho_r - rho_l)\n",
           "CCH west face value: slope/2 → slope/4", FV_FAST),
    Mutant("minmod-max", FV_KERNELS, "    m = min(a, b) if a > 0.0 else max(a, b)\n",
           "    m = max(a, b) if a > 0.0 else min(a, b)\n",
           "minmod → maxmod (the larger slope: not positivity-limited)", FV_FAST),
    Mutant("minmod-no-sign-test", FV_KERNELS, "    return m if a * b > 0.0 else 0.0\n",
           "    return m\n",
           "minmod keeps a slope across an extremum", FV_FAST),
    # -- SSP-RK3 and the step control -----------------------------------------------------------
    Mutant("rk3-stage2", FV, "ok = self._stage(0.75, rho, 0.25, s1, dt, s2)[0] == 0",
           "ok = self._stage(0.7, rho, 0.3, s1, dt, s2)[0] == 0",
           "SSP-RK3 second stage ¾, ¼ → 0.7, 0.3 (consistent, first order in time)", FV_FAST),
    Mutant("rk3-stage3", FV, "self._stage(1.0 / 3.0, rho, 2.0 / 3.0, s2, dt, s1,",
           "self._stage(0.5, rho, 0.5, s2, dt, s1,",
           "SSP-RK3 last stage ⅓, ⅔ → ½, ½ (consistent, first order in time)", FV_FAST),
    Mutant("rk3-dt-scale", FV, "ok = self._stage(0.0, rho, 1.0, rho, dt, s1)[0] == 0",
           "ok = self._stage(0.0, rho, 1.0, rho, 1.01 * dt, s1)[0] == 0",
           "first stage takes 1.01 dt", FV_FAST),
    Mutant("cfl-cch-bound", FV, "            inv_dt += 2.0 * speed / h\n",
           "            inv_dt += 0.5 * speed / h\n",
           "CCH positivity step dx/(2d max|u|) → 4× larger", FV_FAST),
    Mutant("cfl-sg-bound", FV_KERNELS, "        inv_dt += 2.0 * (rate * coef[k])\n",
           "        inv_dt += 0.5 * (rate * coef[k])\n",
           "SG positivity step 4× larger than the forward-Euler bound", FV_FAST),
    Mutant("cfl-sg-one-sided", FV_KERNELS, "        rate = max(rate, w_plus[c], w_minus[c])\n",
           "        rate = max(rate, w_plus[c])\n",
           "SG step bound from B(δ) only, not max(B(δ), B(−δ)) (too large against the drift)",
           FV_FAST),
    Mutant("cfl-diffusion-bound", FV, "            diffusion += 2.0 * pressure / h**2\n",
           "            diffusion += 0.5 * pressure / h**2\n",
           "porous-medium diffusion step limit 4× larger", FV_FAST),
    Mutant("blowup-threshold", FV, "blowup_density = 0.1 * self.mass0 / grid.cell_volume",
           "blowup_density = 10.0 * self.mass0 / grid.cell_volume",
           "blow-up declared at 10 M/|cell| instead of 0.1 M/|cell|", (FV_PROP,)),
    # -- kernels' normalisations and the convolution -------------------------------------------
    Mutant("newton2d-strength", KERNEL_FILE, "                return -np.log(r) / (2 * np.pi)\n",
           "                return -1.015 * np.log(r) / (2 * np.pi)\n",
           "2D Newtonian kernel 1.5 % too strong (away from the origin)", (KERNELS, FV_PROP)),
    Mutant("newton2d-2pi", KERNEL_FILE, "                return -np.log(r) / (2 * np.pi)\n",
           "                return -np.log(r) / (np.pi)\n",
           "2D Newtonian kernel: 2π → π", (KERNELS, FV_PROP)),
    Mutant("newton3d-4pi", KERNEL_FILE, "            return 1.0 / (4 * np.pi * r)\n",
           "            return 1.0 / (2 * np.pi * r)\n",
           "3D Newtonian kernel: 4π → 2π", (KERNELS, FV_PROP)),
    # the origin averages are mutated downwards: ×1.1 to ×1.2 happens to cancel part of the
    # O(h²) error of the rest of the quadrature (the average alone is not the optimal weight)
    Mutant("newton2d-origin", KERNEL_FILE, "            return -mean_log_r / (2 * np.pi)\n",
           "            return -0.9 * mean_log_r / (2 * np.pi)\n",
           "2D cell average at the origin ×0.9", (KERNELS, FV_PROP)),
    Mutant("newton2d-origin-term", KERNEL_FILE, "a * b * np.log(a * a + b * b) - 3 * a * b",
           "a * b * np.log(a * a + b * b) - 2 * a * b",
           "2D cell average at the origin: −3ab → −2ab", (KERNELS, FV_PROP)),
    Mutant("newton3d-origin", KERNEL_FILE, "        return _mean_inverse_distance(*half) / (4 * np.pi)\n",
           "        return 0.9 * _mean_inverse_distance(*half) / (4 * np.pi)\n",
           "3D cell average at the origin ×0.9", (KERNELS, FV_PROP)),
    Mutant("newton1d-origin", KERNEL_FILE, "            return -dx[0] / 8.0",
           "            return -dx[0] / 4.0",
           "1D cell average at the origin h/8 → h/4", (KERNELS, FV_PROP)),
    Mutant("newton1d-strength", KERNEL_FILE, "            return -0.5 * r\n",
           "            return -0.505 * r\n",
           "1D Newtonian kernel −r/2 → −0.505 r", (KERNELS, FV_PROP)),
    Mutant("newton-periodic-symbol", KERNEL_FILE,
           "symbol = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)",
           "symbol = np.where(k2 > 0, 1.01 / np.where(k2 > 0, k2, 1.0), 0.0)",
           "periodic Newtonian symbol 1/|k|² ×1.01", (KERNELS, FV_PROP)),
    Mutant("convolution-cell-volume", CONVOLUTION,
           "transform = strength * np.fft.rfftn(self._kernel_on_offsets(kernel)) * grid.cell_volume",
           "transform = strength * np.fft.rfftn(self._kernel_on_offsets(kernel)) * grid.cell_volume"
           " * 1.01",
           "convolution sum: |cell| ×1.01", (KERNELS, FV_PROP)),
    Mutant("convolution-padding", CONVOLUTION, "tuple(n if p else 2 * n for n, p in zip(",
           "tuple(n if p else n + n // 2 for n, p in zip(",
           "free-space padding 2n → 1.5n (wrap-around reaches the far cells)", (KERNELS, FV_PROP)),
    # -- particles --------------------------------------------------------------------------------
    Mutant("particles-noise", "pdeflow/solvers/particles.py",
           "amplitude = np.sqrt(2.0 * self.brownian_D * dt)",
           "amplitude = np.sqrt(2.2 * self.brownian_D * dt)",
           "Euler–Maruyama noise √(2 D dt) → √(2.2 D dt)", PARTICLES),
    Mutant("particles-noise-dt", "pdeflow/solvers/particles.py",
           "amplitude = np.sqrt(2.0 * self.brownian_D * dt)",
           "amplitude = np.sqrt(2.0 * self.brownian_D) * dt",
           "Euler–Maruyama noise √(2 D dt) → √(2 D) dt", PARTICLES),
    Mutant("particles-newton2d", "pdeflow/solvers/_particle_kernels.py",
           "return -1.0 / (2.0 * math.pi * r2) if r2 > 0.0 else 0.0",
           "return -1.015 / (2.0 * math.pi * r2) if r2 > 0.0 else 0.0",
           "particle 2D Newtonian force 1.5 % too strong", PARTICLES),
    Mutant("particles-blob-norm", "pdeflow/solvers/_particle_kernels.py",
           "    norm = (2.0 * math.pi * eps * eps) ** (-0.5 * d)\n",
           "    norm = 1.01 * (2.0 * math.pi * eps * eps) ** (-0.5 * d)\n",
           "blob velocity: Gaussian normalisation ×1.01",
           ("tests/test_particles.py::test_blob_cell_list_sums_match_brute_force",
            "tests/test_particles.py::test_blob_porous_medium_approaches_barenblatt")),
    # -- JKO ----------------------------------------------------------------------------------------
    Mutant("jko-entropy-pressure", "pdeflow/solvers/_jko_lagrangian.py",
           "        return internal.D * rho\n", "        return 1.01 * internal.D * rho\n",
           "JKO heat step: entropy pressure Dρ → 1.01 Dρ (gradient only)", (JKO,)),
    Mutant("jko-proximal", "pdeflow/solvers/_jko_lagrangian.py",
           "return self.energy(X) + float(self.w @ (X - Y) ** 2) / (2 * tau)",
           "return self.energy(X) + float(self.w @ (X - Y) ** 2) / (2.02 * tau)",
           "JKO objective: W2²/(2τ) → W2²/(2.02τ)", (JKO,)),
    Mutant("jko-proximal-gradient", "pdeflow/solvers/_jko_lagrangian.py",
           "        g = self.w * (X - Y) / tau\n", "        g = self.w * (X - Y) / (1.01 * tau)\n",
           "JKO Newton gradient: (X − Y)/τ → (X − Y)/(1.01τ)", (JKO,)),
    # -- finite elements --------------------------------------------------------------------------
    Mutant("fem-lumped-mass", "pdeflow/mesh.py",
           "np.add.at(m, self.triangles.ravel(), np.repeat(self.areas / 3.0, 3))",
           "np.add.at(m, self.triangles.ravel(), np.repeat(self.areas / 3.03, 3))",
           "lumped mass |T|/3 → |T|/3.03", (FEM,)),
    Mutant("fem-stiffness", "pdeflow/solvers/_fem_forms.py",
           "    return w.weight * dot(grad(u), grad(v))\n",
           "    return 1.01 * w.weight * dot(grad(u), grad(v))\n",
           "stiffness ∫ ∇u·∇v ×1.01", (FEM,)),
    Mutant("fem-theta", "pdeflow/solvers/fem.py",
           "A = (sp.diags(self.M) + self.theta * dt * G).tocsc()",
           "A = (sp.diags(self.M) + 1.01 * self.theta * dt * G).tocsc()",
           "θ-scheme matrix: θ dt G → 1.01 θ dt G", (FEM,)),
    Mutant("fem-theta-rhs", "pdeflow/solvers/fem.py",
           "rhs = rhs - (1.0 - self.theta) * dt * (G @ self.x)",
           "rhs = rhs - (1.01 - self.theta) * dt * (G @ self.x)",
           "θ-scheme right-hand side (1 − θ) → (1.01 − θ)", (FEM,)),
    Mutant("fem-drift-sign", "pdeflow/solvers/_fem_forms.py",
           "    dphi = phi[j] - phi[i]\n", "    dphi = phi[i] - phi[j]\n",
           "FEM edge SG flux: δ sign flipped (drift reversed)", (FEM,)),
    # -- the implicit step, the reaction step, the diagnostics, the 1D BDF2 step --------------------
    Mutant("implicit-never-moves", FV_IMPLICIT,
           "            rho_new = self._advance(dt).reshape(fv.grid.shape)\n",
           "            rho_new = fv.rho.copy()\n",
           "implicit Euler returns the old density (the solver never moves)", IMPLICIT),
    Mutant("implicit-off-diagonal", FV_IMPLICIT,
           "            vals += [-g_left, g_right, g_left, -g_right]\n",
           "            vals += [-g_left, g_right, 1.01 * g_left, -g_right]\n",
           "implicit operator: one off-diagonal ×1.01 (column sums no longer zero)", IMPLICIT),
    Mutant("implicit-no-energy-control", FV_IMPLICIT,
           "            if energy_after <= energy_before + slack or not np.isfinite(energy_after):\n",
           "            if True:\n",
           "implicit step: every step accepted (no energy control)", IMPLICIT),
    Mutant("implicit-first-order-cch", FV_IMPLICIT,
           "            return np.maximum(u, 0.0) * theta_east / h, -np.minimum(u, 0.0) * theta_west / h\n",
           "            return np.maximum(u, 0.0) / h, -np.minimum(u, 0.0) / h\n",
           "implicit CCH operator without the reconstruction (first-order upwind)", IMPLICIT),
    Mutant("krylov-no-refactor", FV_LINEAR,
           "        if not converged:\n",
           "        if False:\n",
           "Krylov: an unconverged GMRES result accepted (no refactorisation)", IMPLICIT),
    Mutant("krylov-no-positivity-check", FV_LINEAR,
           "        if x.min() < 0.0 or abs(x.sum() - b.sum()) > KRYLOV_MASS * np.abs(b).sum():\n",
           "        if abs(x.sum() - b.sum()) > KRYLOV_MASS * np.abs(b).sum():\n",
           "Krylov: a negative result accepted (no fallback to the LU)", IMPLICIT),
    Mutant("krylov-no-mass-check", FV_LINEAR,
           "        if x.min() < 0.0 or abs(x.sum() - b.sum()) > KRYLOV_MASS * np.abs(b).sum():\n",
           "        if x.min() < 0.0:\n",
           "Krylov: a result with drifted mass accepted (no fallback to the LU)", IMPLICIT),
    Mutant("krylov-givens-sign", FV_LINEAR,
           "        g[k + 1], g[k] = -sn[k] * g[k], cs[k] * g[k]\n",
           "        g[k + 1], g[k] = sn[k] * g[k], cs[k] * g[k]\n",
           "GMRES: residual rotation sign flipped", IMPLICIT),
    Mutant("bdf2-rhs", FV_IMPLICIT,
           "            rhs = ((1.0 + w) ** 2 * rho - w**2 * self.previous) / (1.0 + 2.0 * w)\n",
           "            rhs = ((1.0 + w) ** 2 * rho - w**2 * self.previous) / (1.0 + 2.01 * w)\n",
           "BDF2 right-hand side: 1 + 2w -> 1 + 2.01w", IMPLICIT),
    Mutant("bdf2-lagged-coefficients", FV_IMPLICIT,
           "                at = np.maximum((1.0 + w) * rho - w * self.previous, 0.0)\n",
           "                at = rho\n",
           "BDF2 coefficients frozen at rho^n instead of the extrapolation", IMPLICIT),
    Mutant("bdf2-gamma", FV_IMPLICIT,
           "                c = dt * (1.0 + w) / (1.0 + 2.0 * w)\n",
           "                c = dt * (1.0 + w) / (1.0 + 2.0 * w) * 1.01\n",
           "BDF2 implicit coefficient x1.01", IMPLICIT),
    Mutant("bdf2-no-ratio-limit", FV_IMPLICIT,
           "RATIO_MAX = 2.0\n",
           "RATIO_MAX = 1e9\n",
           "BDF2 after a landing step at any step ratio", IMPLICIT),
    Mutant("drift-diffusion-weight", "pdeflow/solvers/drift_diffusion.py",
           "    return upwind + np.where(positive, D * bernoulli_nonnegative(a), 0.0)\n",
           "    return upwind + np.where(positive, 1.01 * D * bernoulli_nonnegative(a), 0.0)\n",
           "implicit/FEM SG weight: diffusive part ×1.01", IMPLICIT + (FEM,)),
    Mutant("reaction-decay", "pdeflow/solvers/fv_reaction.py",
           "            decay = np.exp(-a * self.D * s)\n",
           "            decay = np.exp(-1.01 * a * self.D * s)\n",
           "Fisher–Rao entropy reaction: rate ×1.01", ("tests/test_metric.py",)),
    Mutant("reaction-no-midpoint", "pdeflow/solvers/fv_reaction.py",
           "            rest = self.rest(self.flow(rho, 0.5 * s, rest, mass))\n", "            pass\n",
           "Fisher–Rao step: R frozen at the start, not the midpoint (first order)",
           ("tests/test_metric.py",)),
    Mutant("diagnostics-log-mean", "pdeflow/_numba/grid_sums.py",
           "        return (a - b) / (math.log(a) - math.log(b))\n", "        return 0.5 * (a + b)\n",
           "dissipation: arithmetic instead of logarithmic face mean", ("tests/test_grid_sums.py",)),
    Mutant("bdf2-coefficient", "pdeflow/solvers/_jko_lagrangian.py",
           "        a = (1 + 2 * omega) / (1 + omega)\n", "        a = (1 + 2.2 * omega) / (1 + omega)\n",
           "variational BDF2: the step weight (1 + 2ω)/(1 + ω) perturbed", ("tests/test_jko_bdf2.py",)),
]


def copy_repository(dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files of the repository into ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if not src.is_file() or "__pycache__" in rel:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def run_tests(copy: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    """pytest -x -q on ``tests`` in ``copy`` with a fresh Numba cache; (outcome, seconds, tail)."""
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(copy),
               "PYTHONDONTWRITEBYTECODE": "1"}
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                   "-p", "no:randomly", *tests]
        start = time.monotonic()
        proc = subprocess.Popen(command, cwd=copy, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            outcome = "survived" if proc.returncode == 0 else "killed"
            if proc.returncode not in (0, 1):  # 2: interrupted or collection error; 3-5: usage
                outcome = f"killed (pytest exit {proc.returncode})"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: pytest and its children
            out, _ = proc.communicate()
            outcome = "timeout"
        seconds = time.monotonic() - start
    lines = out.decode(errors="replace").strip().splitlines()
    failed = [line.split()[1] for line in lines if line.startswith(("FAILED ", "ERROR "))]
    summary = lines[-1] if lines else ""
    if failed:  # which test killed it (the -ra summary lines)
        summary = failed[0].split("::", 1)[-1] + "; " + summary.strip("= ")
    return outcome, seconds, summary


def apply(copy: Path, mutant: Mutant) -> tuple[Path, str] | str:
    """Patch the mutant into ``copy``; returns (path, original text) or why it could not."""
    path = copy / mutant.file
    if not path.is_file():
        return "file not found"
    text = path.read_text()
    count = text.count(mutant.snippet)
    if count == 0:
        return "snippet not found"
    if count > 1:
        return f"snippet ambiguous ({count} matches)"
    path.write_text(text.replace(mutant.snippet, mutant.replacement))
    return path, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="run the mutants whose name starts with one of these")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds per mutant (default 300); a mutant that runs out is undecided")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    parser.add_argument("--tests", nargs="+", help="run these tests for every mutant instead of its own")
    parser.add_argument("--report", type=Path, default=REPORT, help="markdown report to write")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.prefixes or m.name.startswith(tuple(args.prefixes))]
    if args.tests:
        chosen = [replace(m, tests=tuple(args.tests)) for m in chosen]
    if args.list:
        for m in chosen:
            print(f"{m.name:26s} {m.file:38s} {m.description}")
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="pdeflow-mutants-") as tmp:
        copy = Path(tmp) / "repo"
        copy_repository(copy)
        if not args.no_baseline:
            subsets = tuple(sorted({t for m in chosen for t in m.tests}))
            probe = subprocess.run(
                [sys.executable, "-c", "import pdeflow; print(pdeflow.__file__)"], cwd=copy,
                env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True, text=True)
            if not probe.stdout.strip().startswith(str(copy)):
                print(f"the copy does not import its own pdeflow ({probe.stdout.strip()}{probe.stderr})")
                return 2
            outcome, seconds, tail = run_tests(copy, subsets, 4 * args.timeout)
            print(f"baseline (unmutated): {outcome} in {seconds:.0f} s: {tail}", flush=True)
            if outcome != "survived":
                print("the unmutated tests fail: fix them before judging mutants")
                return 2
        for m in chosen:
            patched = apply(copy, m)
            if isinstance(patched, str):
                outcome, seconds, tail = patched, 0.0, ""
            else:
                path, original = patched
                try:
                    outcome, seconds, tail = run_tests(copy, m.tests, args.timeout)
                finally:
                    path.write_text(original)
            rows.append((m, outcome, seconds, tail))
            flag = ""
            if outcome == "survived":
                flag = "  (expected: " + m.expect_survive + ")" if m.expect_survive else "  <-- SURVIVED"
            print(f"{m.name:26s} {outcome:18s} {seconds:6.0f} s  {tail[:90]}{flag}", flush=True)
    write_report(rows, args.report)
    return 0


def write_report(rows, path: Path) -> None:
    judged = [r for r in rows if r[1] == "survived" or r[1].startswith("killed")]
    killed = sum(1 for r in judged if r[1] != "survived")
    survived = [r for r in judged if r[1] == "survived"]
    timeouts = sum(1 for r in rows if r[1] == "timeout")
    unexpected = [r for r in survived if not r[0].expect_survive]
    lines = [
        "# Mutation report",
        "",
        f"Generated by `python tests/mutations.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        f"{len(judged)} mutants judged: {killed} killed, {len(survived)} survived "
        f"({len(unexpected)} not expected to); {timeouts} timed out (undecided: rerun with a "
        f"longer --timeout); {len(rows) - len(judged) - timeouts} not applied.",
        "",
        "| mutant | file | change | tests run | outcome | first failing test | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, outcome, seconds, tail in rows:
        note = outcome + (f" (expected: {m.expect_survive})" if outcome == "survived" and m.expect_survive
                          else "")
        tests = ", ".join(Path(t).name for t in m.tests)
        killer = tail.split(";")[0] if ";" in tail else ""
        lines.append(f"| {m.name} | {m.file} | {m.description} | {tests} | {note} | {killer} | "
                     f"{seconds:.0f} |")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}: {killed}/{len(judged)} killed, {len(survived)} survived")


if __name__ == "__main__":
    sys.exit(main())
