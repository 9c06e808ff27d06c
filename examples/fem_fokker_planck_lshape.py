"""Fokker–Planck on an L-shaped domain with P1 finite elements, relaxing to the Gibbs state
=========================================================================================

::

    ∂t ρ = ∇·(ρ∇V) + D Δρ  in Ω = [−1, 1]² \\ (0, 1]²,  no flux through ∂Ω,  V = 2|x − c|²,

with c = (−0.5, 0.5) in the upper-left arm and D = 0.5. The density starts as a narrow Gaussian
in the far (lower-right) arm, flows round the re-entrant corner and relaxes to the Gibbs state
ρ∞ ∝ exp(−V/D). The script prints the mass drift (round-off: the lumped mass matrix and the
zero column sums of the operator), the smallest nodal density, the free energy at the start and
at the end, and the L1 distance to the Gibbs state; it draws four snapshots, the mass drift and
the free energy (``pdeflow.plot.plot_trajectory``).

::

    python examples/fem_fokker_planck_lshape.py [--out fem_lshape.png]

Writes the figure, ``<out stem>.h5`` and the ParaView sidecar ``<out stem>.xmf`` (open the .xmf:
a triangle mesh with a nodal time series); a few seconds.
"""

import argparse
from pathlib import Path

import numpy as np

import pdeflow as pf
from pdeflow.plot import plot_trajectory

D = 0.5


def V(x, y):
    return 2.0 * ((x + 0.5) ** 2 + (y - 0.5) ** 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", default="fem_lshape.png")
    args = parser.parse_args()
    out = Path(args.out)

    mesh = pf.Mesh.l_shape(refine=4)
    rho0 = pf.gaussian(mesh, mean=(0.5, -0.5), cov=0.02)          # starts in the far arm
    problem = pf.problems.fokker_planck(mesh, rho0, V=V, D=D)
    traj = pf.solve(problem, t_end=3.0, method="fem", snapshots=31, dt=0.01,
                    store=out.with_suffix(".h5"), overwrite=True, progress=False)

    gibbs = np.exp(-V(*mesh.coords()) / D)
    gibbs /= mesh.integrate(gibbs)
    print(mesh)
    print(f"mass drift    {np.max(np.abs(traj.mass / traj.mass[0] - 1)):.2e}")
    print(f"min density   {traj.diagnostics['min_density'].min():.2e}")
    print(f"energy        {traj.energy[0]:.4f} -> {traj.energy[-1]:.4f}")
    print(f"L1 to Gibbs   {mesh.integrate(np.abs(traj.density() - gibbs)):.2e}")
    plot_trajectory(traj, out, exact=lambda t: gibbs, title=(
        f"Fokker–Planck ∂tρ = ∇·(ρ∇V) + DΔρ, V = 2|x − c|², D = {D}, on an L-shape: "
        f"P1 finite elements (implicit Euler, dt = 0.01), t = 0 … {traj.times[-1]:g}; "
        "dashed: the Gibbs state"))
    print(f"wrote {out}, {out.with_suffix('.h5')} and {out.with_suffix('.xmf')}")


if __name__ == "__main__":
    main()
