"""Preset problem specs (see :mod:`pdeflow.spec` for the format), each a few seconds on 2 cores.

================== =====================================================================
heat               1D heat equation from a Gaussian; exact: N(0, 0.5 + 2t)
fokker-planck      2D Ornstein–Uhlenbeck (V = |x|²/2) from an off-centre Gaussian; exact Gaussian
porous-medium      2D porous medium, m = 2, from the Barenblatt profile at t0 = 0.1; exact
keller-segel       2D Keller–Segel, subcritical mass M = 0.6·8π: spreads, no blow-up
keller-segel-blowup 2D Keller–Segel, supercritical mass M = 1.4·8π: blows up before
                   T* = 2π M₂(0) / (M (M − 8π)) = 0.625
mean-field         two-layer relu network (a, w) fitting y = relu(x) − relu(−x)/2 on 16
                   points: the PDE on an 80² grid over [−4, 4]² (fv; the box holds all but
                   1e-3 of the mass up to t = 2) and gradient descent on a width-2000 network
                   in mean-field scaling (particles, learning rate 0.005)
fisher-rao         1D Fisher–Rao flow of KL(ρ | e^{−V}), V = (x² − 1)²: mass reweighted into
                   the other well without transport; closed form ρ0^{e^{−t}} π^{1−e^{−t}}
wfr-network        the mean-field preset in the Wasserstein–Fisher–Rao metric (rate 2):
                   neurons move and are reweighted (birth–death); PDE and 2000 neurons
kramers            Kramers' equation on phase space (x, v), V = x²/2, γ = 1, T = 1/2, from
                   N((2, 0), I/4): phase-space finite volumes and 20 000 underdamped
                   Langevin particles; exact Gaussian moments
================== =====================================================================

Preset names use hyphens; ``get_preset`` also accepts underscores.
"""

from __future__ import annotations

import copy
import math

from .errors import PdeflowError

EIGHT_PI = 8.0 * math.pi
TEACHER_X = [-2.0 + 4.0 * k / 15 for k in range(16)]  # the mean-field preset's data
TEACHER_Y = [max(x, 0.0) - 0.5 * max(-x, 0.0) for x in TEACHER_X]

PRESETS: dict[str, dict] = {
    "heat": {
        "equation": "heat",
        "description": "1D heat equation from N(0, 0.5); exact solution N(0, 0.5 + 2t)",
        "grid": {"bounds": [[-10.0, 10.0]], "cells": 200, "periodic": False},
        "initial": {"kind": "gaussian", "mean": 0.0, "cov": 0.5, "mass": 1.0},
        "parameters": {"D": 1.0},
        "run": {"t_end": 1.0, "snapshots": 11, "methods": ["fv"]},
    },
    "fokker-planck": {
        "equation": "ornstein_uhlenbeck",
        "description": "2D Ornstein-Uhlenbeck (V = |x|^2/2) from N((2, 0), 0.5 I); exact Gaussian",
        "grid": {"bounds": [[-6.0, 6.0], [-6.0, 6.0]], "cells": 96, "periodic": False},
        "initial": {"kind": "gaussian", "mean": [2.0, 0.0], "cov": 0.5, "mass": 1.0},
        "parameters": {"D": 1.0, "gamma": 1.0, "center": [0.0, 0.0]},
        "run": {"t_end": 2.0, "snapshots": 11, "methods": ["fv"]},
    },
    "porous-medium": {
        "equation": "porous_medium",
        "description": "2D porous medium (m = 2) from the Barenblatt profile at t0 = 0.1; exact",
        "grid": {"bounds": [[-3.0, 3.0], [-3.0, 3.0]], "cells": 96, "periodic": False},
        "initial": {"kind": "barenblatt", "t0": 0.1, "mass": 1.0},
        "parameters": {"m": 2.0, "D": 1.0},
        "run": {"t_end": 1.0, "snapshots": 11, "methods": ["fv"]},
    },
    "keller-segel": {
        "equation": "keller_segel",
        "description": "2D Keller-Segel, subcritical mass 0.6*8pi: the density spreads",
        "grid": {"bounds": [[-8.0, 8.0], [-8.0, 8.0]], "cells": 128, "periodic": False},
        "initial": {"kind": "gaussian", "mean": [0.0, 0.0], "cov": 1.0, "mass": 0.6 * EIGHT_PI},
        "parameters": {"chi": 1.0, "D": 1.0},
        "run": {"t_end": 1.0, "snapshots": 11, "methods": ["fv"]},
    },
    "keller-segel-blowup": {
        "equation": "keller_segel",
        "description": "2D Keller-Segel, supercritical mass 1.4*8pi: blow-up before t = 0.625",
        "grid": {"bounds": [[-8.0, 8.0], [-8.0, 8.0]], "cells": 128, "periodic": False},
        "initial": {"kind": "gaussian", "mean": [0.0, 0.0], "cov": 0.5, "mass": 1.4 * EIGHT_PI},
        "parameters": {"chi": 1.0, "D": 1.0},
        "run": {"t_end": 1.0, "snapshots": 11, "methods": ["fv"]},
    },
    "mean-field": {
        "equation": "mean_field_network",
        "description": "two-layer relu network fitting relu(x) - relu(-x)/2: the PDE on (a, w) "
                       "and width-2000 gradient descent",
        "grid": {"bounds": [[-4.0, 4.0], [-4.0, 4.0]], "cells": 80, "periodic": False},
        "initial": {"kind": "gaussian", "mean": [0.0, 0.0], "cov": 0.3, "mass": 1.0},
        "parameters": {"x": TEACHER_X, "y": TEACHER_Y, "activation": "relu"},
        "run": {"t_end": 2.0, "snapshots": 11, "methods": ["fv", "particles"]},
        "particles": {"n_particles": 2000, "seed": 0, "dt": 0.005},
    },
    "fisher-rao": {
        "equation": "fokker_planck",
        "description": "1D Fisher-Rao flow of KL(rho | e^-V), V = (x^2 - 1)^2: mass reweighted "
                       "between the wells, none transported; closed form rho0^(e^-t) pi^(1-e^-t)",
        "grid": {"bounds": [[-3.0, 3.0]], "cells": 300, "periodic": False},
        "initial": {"kind": "gaussian", "mean": 1.0, "cov": 0.1, "mass": 1.0},
        "parameters": {"D": 1.0, "V": "(x**2 - 1)**2"},
        "metric": {"name": "fisher_rao", "rate": 1.0},
        "run": {"t_end": 2.0, "snapshots": 11, "methods": ["fv"]},
    },
    "wfr-network": {
        "equation": "mean_field_network",
        "description": "the mean-field preset trained in the Wasserstein-Fisher-Rao metric (rate "
                       "2): transport and birth-death of neurons; the PDE and 2000 neurons",
        "grid": {"bounds": [[-4.0, 4.0], [-4.0, 4.0]], "cells": 80, "periodic": False},
        "initial": {"kind": "gaussian", "mean": [0.0, 0.0], "cov": 0.3, "mass": 1.0},
        "parameters": {"x": TEACHER_X, "y": TEACHER_Y, "activation": "relu"},
        "metric": {"name": "wasserstein_fisher_rao", "rate": 2.0},
        "run": {"t_end": 2.0, "snapshots": 11, "methods": ["fv", "particles"]},
        "particles": {"n_particles": 2000, "seed": 0, "dt": 0.005},
    },
    "kramers": {
        "equation": "kramers_harmonic",
        "description": "Kramers' equation on phase space (x, v), V = x^2/2, gamma = 1, T = 1/2, "
                       "from N((2, 0), I/4): grid and Langevin particles; exact Gaussian",
        "grid": {"bounds": [[-6.0, 6.0], [-6.0, 6.0]], "cells": 96, "periodic": False},
        "initial": {"kind": "gaussian", "mean": [2.0, 0.0], "cov": 0.25, "mass": 1.0},
        "parameters": {"omega": 1.0, "gamma": 1.0, "T": 0.5},
        "run": {"t_end": 3.0, "snapshots": 11, "methods": ["kinetic", "kinetic_particles"]},
        "kinetic_particles": {"n_particles": 20000, "seed": 0, "dt": 0.01},
    },
}


def get_preset(name: str) -> dict:
    """A copy of the preset ``name`` (hyphens or underscores).

    Raises
    ------
    PdeflowError
        For an unknown name; the message lists the presets.
    """
    key = str(name).replace("_", "-")
    if key not in PRESETS:
        raise PdeflowError(
            f"unknown preset '{name}'; known presets: {', '.join(PRESETS)} "
            "(or give a path to a .toml spec)"
        )
    return copy.deepcopy(PRESETS[key])


def describe_presets() -> list[tuple[str, str]]:
    """``(name, description)`` of every preset."""
    return [(name, spec.get("description", "")) for name, spec in PRESETS.items()]


def preset_methods(name: str) -> list[str]:
    """The methods that solve the preset ``name`` (the others are refused before a run starts)."""
    from .solvers import available_methods, unsupported
    from .spec import build_problem, validate_spec

    problem = build_problem(validate_spec(get_preset(name)))
    return [m for m in available_methods() if unsupported(problem, m) is None]


def preset_toml(name: str) -> str:
    """The preset ``name`` as the text of an editable TOML spec: every entry, then, commented out,
    every option of each of its methods with its default (``pdeflow presets NAME --toml``)."""
    from .solvers import get_method
    from .spec import load_spec, spec_to_toml

    get_preset(name)  # a preset's name, not a path: raises, listing the presets
    key = str(name).replace("_", "-")
    spec = load_spec(key)
    text = spec_to_toml(spec, header=f"pdeflow preset '{key}'; run it with: pdeflow run {key}.toml\n"
                                     f"methods that solve it: {', '.join(preset_methods(key))}")
    for method in spec["run"]["methods"]:
        given = spec.get(method, {})
        defaults = get_method(method).options.defaults()
        rest = {k: v for k, v in defaults.items() if k not in given}
        if not rest:
            continue
        if method not in spec:
            text += f"\n[{method}]\n"
        text += f"# the other options of {method}, at their defaults (uncomment to change):\n"
        for option, default in rest.items():
            shown = "...  # default: chosen by the method" if default is None else _toml_default(default)
            text += f"# {option} = {shown}\n"
    return text


def _toml_default(value) -> str:
    from .spec import spec_to_toml

    return spec_to_toml({"v": value}).split(" = ", 1)[1].strip()
