"""Keller–Segel on a disk with finite elements: sub- and supercritical mass
========================================================================

::

    ∂t ρ = Δρ − ∇·(ρ∇c),   −Δc = ρ − ρ̄ (Neumann, ∫c = 0),   no flux through ∂Ω

on the disk of radius 2 (P1 elements, implicit in ρ with the potential of the previous step).
Below the critical mass 8π the density spreads and the free energy decreases; above it a centred
bump concentrates and the run stops with status "blow-up" at the time its maximum crosses the
threshold. The script runs M = 4π and M = 12π and draws each run (snapshots, mass drift, free
energy).

::

    python examples/fem_keller_segel_disk.py [--out fem_keller_segel_disk.png]

Writes ``<out stem>_4pi.png`` and ``<out stem>_12pi.png``; a few seconds.
"""

import argparse
from pathlib import Path

import numpy as np

import pdeflow as pf
from pdeflow.plot import plot_trajectory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", default="fem_keller_segel_disk.png")
    args = parser.parse_args()
    out = Path(args.out)

    mesh = pf.Mesh.disk(radius=2.0, refine=5)
    for mass in (4 * np.pi, 12 * np.pi):
        rho0 = pf.gaussian(mesh, mean=(0.0, 0.0), cov=0.1, mass=mass)
        problem = pf.problems.keller_segel(mesh, rho0, chi=1.0)
        traj = pf.solve(problem, t_end=0.5, method="fem", snapshots=26, dt=1e-3, progress=False)
        label = f"M = {mass / np.pi:.0f}π"
        ending = (f"blow-up at t = {traj.meta['blowup_time']:.3f}" if traj.status == "blow-up"
                  else f"finished at t = {traj.times[-1]:g}")
        print(f"{label}: {ending}, max ρ {traj.diagnostics['max_density'][0]:.3g} -> "
              f"{traj.diagnostics['max_density'][-1]:.3g}, energy {traj.energy[0]:.3f} -> "
              f"{traj.energy[-1]:.3f}")
        path = out.with_name(f"{out.stem}_{mass / np.pi:.0f}pi.png")
        plot_trajectory(traj, path, title=(
            f"Keller–Segel ∂tρ = Δρ − ∇·(ρ∇c), −Δc = ρ − ρ̄ on the disk r < 2, {label} "
            f"({'below' if mass < 8 * np.pi else 'above'} 8π): P1 finite elements, dt = 1e-3, {ending}"))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
