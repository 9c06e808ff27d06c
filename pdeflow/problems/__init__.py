"""Equation families: each builds a :class:`Problem` (free energy, grid, initial density, exact
solution where one is known). An equation is data; every solver takes every problem."""

from .aggregation import aggregation_diffusion
from .base import Problem
from .fokker_planck import fokker_planck, ornstein_uhlenbeck
from .heat import heat
from .keller_segel import keller_segel
from .kinetic import kinetic_fokker_planck, kramers_harmonic
from .kinetic_network import kinetic_mean_field_network
from .mean_field import mean_field_network
from .porous_medium import barenblatt, porous_medium

__all__ = [
    "Problem",
    "aggregation_diffusion",
    "barenblatt",
    "fokker_planck",
    "heat",
    "keller_segel",
    "kinetic_fokker_planck",
    "kinetic_mean_field_network",
    "kramers_harmonic",
    "mean_field_network",
    "ornstein_uhlenbeck",
    "porous_medium",
]
