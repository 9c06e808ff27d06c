"""Keller–Segel on a disk with finite elements: sub- and supercritical mass.

    ∂t ρ = Δρ − ∇·(ρ∇c),   −Δc = ρ − ρ̄ (Neumann, ∫c = 0),   no flux through ∂Ω

Below 8π the density spreads and the free energy decreases; above 8π a centred bump
concentrates and the run stops with status "blow-up".
"""

import numpy as np

import pdeflow as pf
from pdeflow.mesh import Mesh

mesh = Mesh.disk(radius=2.0, refine=5)
for mass in (4 * np.pi, 12 * np.pi):
    rho0 = pf.gaussian(mesh, mean=(0.0, 0.0), cov=0.1, mass=mass)
    problem = pf.problems.keller_segel(mesh, rho0, chi=1.0)
    traj = pf.solve(problem, t_end=0.5, method="fem", snapshots=11, dt=1e-3, progress=False)
    print(f"M = {mass / np.pi:.0f}π: {traj.status}"
          + (f" at t = {traj.meta['blowup_time']:.3f}" if traj.status == "blow-up" else "")
          + f", max ρ {traj.diagnostics['max_density'][0]:.3g} -> "
          f"{traj.diagnostics['max_density'][-1]:.3g}, energy {traj.energy[0]:.3f} -> "
          f"{traj.energy[-1]:.3f}")
