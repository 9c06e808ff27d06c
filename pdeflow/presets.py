"""Preset problem specs (see :mod:`pdeflow.spec` for the format), each a few seconds on 2 cores.

================== =====================================================================
heat               1D heat equation from a Gaussian; exact: N(0, 0.5 + 2t)
fokker-planck      2D Ornstein–Uhlenbeck (V = |x|²/2) from an off-centre Gaussian; exact Gaussian
porous-medium      2D porous medium, m = 2, from the Barenblatt profile at t0 = 0.1; exact
keller-segel       2D Keller–Segel, subcritical mass M = 0.6·8π: spreads, no blow-up
keller-segel-blowup 2D Keller–Segel, supercritical mass M = 1.4·8π: blows up before
                   T* = 2π M₂(0) / (M (M − 8π)) = 0.625
================== =====================================================================

Preset names use hyphens; ``get_preset`` also accepts underscores.
"""

from __future__ import annotations

import copy
import math

from .errors import PdeflowError

EIGHT_PI = 8.0 * math.pi

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
