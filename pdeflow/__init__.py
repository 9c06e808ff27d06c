"""pdeflow: Wasserstein gradient flows ∂t ρ = ∇·(ρ ∇ δE/δρ), solved three ways and cross-checked.

    E[ρ] = ∫ U(ρ) + ∫ V ρ + ½ ∬ W(x − y) ρ(x) ρ(y)

>>> import pdeflow as pf
>>> grid = pf.Grid(bounds=[(-5.0, 5.0)], shape=200)
>>> p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), D=1.0)
>>> traj = pf.solve(p, t_end=0.1, snapshots=3, progress=False)
>>> traj.status
'finished'
"""

from __future__ import annotations

from . import kernels, problems
from ._version import __version__
from .compare import Comparison, compare
from .convergence import particle_convergence
from .deposit import particles_to_density
from .energy import Entropy, FreeEnergy, Interaction, LowRankInteraction, Potential, PowerLaw
from .errors import PdeflowError, StorageError
from .grid import Grid
from .initial import box, from_function, gaussian, uniform, validate_density
from .kernels import GaussianKernel, Newtonian, RadialKernel
from .mesh import Mesh
from .metric import FisherRao, Wasserstein, WassersteinFisherRao
from .solvers import available_methods, methods, register_method, solve, unregister_method
from .solvers.method import Method, Options, option
from .solvers.stepper import StepperBase
from .storage import load
from .sweep import sweep
from .trajectory import Trajectory

__all__ = [
    "Comparison",
    "Entropy",
    "FisherRao",
    "FreeEnergy",
    "GaussianKernel",
    "Grid",
    "Interaction",
    "LowRankInteraction",
    "Mesh",
    "Method",
    "Newtonian",
    "Options",
    "PdeflowError",
    "Potential",
    "PowerLaw",
    "RadialKernel",
    "StepperBase",
    "StorageError",
    "Trajectory",
    "Wasserstein",
    "WassersteinFisherRao",
    "__version__",
    "available_methods",
    "box",
    "compare",
    "from_function",
    "gaussian",
    "kernels",
    "load",
    "methods",
    "option",
    "particle_convergence",
    "particles_to_density",
    "problems",
    "register_method",
    "solve",
    "sweep",
    "uniform",
    "unregister_method",
    "validate_density",
]
