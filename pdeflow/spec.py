"""Problem specs: a gradient-flow run described as plain data (a dict, or a TOML file).

A spec names the equation, the grid, the initial density, the equation's parameters, the run
(final time, snapshots, methods) and, optionally, one table of options per method::

    equation = "keller_segel"   # heat | fokker_planck | ornstein_uhlenbeck | porous_medium | keller_segel
    description = "..."         # optional, free text

    [grid]
    bounds = [[-8.0, 8.0], [-8.0, 8.0]]   # one [low, high] per axis (1 to 3 axes)
    cells = 128                 # int (every axis) or a list, one per axis
    periodic = false            # bool or a list, one per axis (default false: no-flux walls)

    [initial]
    kind = "gaussian"           # gaussian (mean, cov, mass) | uniform (mass) | box (low, high, mass)
    mean = [0.0, 0.0]           #   | barenblatt (t0, mass; porous_medium only)
    cov = 1.0                   # a variance, or a d×d matrix
    mass = 15.0

    [parameters]                # keywords of the pdeflow.problems function
    chi = 1.0

    [run]
    t_end = 1.0
    snapshots = 21              # default 11
    methods = ["fv"]            # default ["fv"]

    [fv]                        # passed to pdeflow.solve(..., **options) for method "fv"
    scheme = "explicit"

Parameters per equation: heat (D), fokker_planck (D, V), ornstein_uhlenbeck (D, gamma, center;
Gaussian initial data), porous_medium (D, m, V), keller_segel (D, chi), mean_field_network (x, y:
lists of data inputs and targets; activation, weight_decay, beta; a 2D grid over (a, w)).

A potential ``V`` is a string expression of the coordinates ``x``, ``y``, ``z`` (as many as the
grid has axes), e.g. ``"0.5*(x**2 + y**2)"`` or ``"cos(pi*x)"``. It is evaluated with
:func:`eval` in a namespace holding only the coordinates and the NumPy functions and constants
of :data:`~pdeflow.spec_validation.EXPRESSION_NAMES`, with no builtins; any other name, attribute
access, lambda or comprehension is rejected when the spec is validated. Still, treat a spec from
a stranger as code.

Sizes are refused before anything is allocated (the limits are in :mod:`pdeflow.spec_validation`):
too many grid cells or snapshots, method options out of range, cell widths too small or too large,
and a fixed step (``dt``, ``tau``) that would need more than ``max_steps`` steps to reach ``t_end``.

This module loads a spec (:func:`load_spec`, :func:`apply_overrides`), builds its problem and runs
it (:func:`build_problem`, :func:`run_spec`), and reads it back from a file
(:func:`spec_from_file`, :func:`exact_from_file`). The tables and checks of a valid spec are in
:mod:`pdeflow.spec_validation`.

>>> from pdeflow.spec import load_spec, build_problem
>>> build_problem(load_spec("heat")).name
'heat'
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import PdeflowError
from .spec_validation import compile_expression, validate_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# -- loading -----------------------------------------------------------------------------------
def load_spec(source) -> dict:
    """A validated spec from a preset name, a path to a ``.toml`` file, or a dict.

    Raises
    ------
    PdeflowError
        Unknown preset (the message lists the known ones), missing file, TOML syntax error
        (with its line), or any invalid entry (see :func:`validate_spec`).
    """
    from .presets import PRESETS, get_preset

    if isinstance(source, dict):
        return validate_spec(source)
    if not isinstance(source, str | os.PathLike):
        raise PdeflowError(f"a spec source is a preset name or a .toml path, got {source!r}")
    path = Path(source)
    name = str(source)
    if path.suffix.lower() != ".toml" and not path.is_file():
        spec = get_preset(name)  # raises, listing the presets, when unknown
        return validate_spec(spec, source=f"preset '{name.replace('_', '-')}'")
    if not path.is_file():
        raise PdeflowError(
            f"spec file {path} does not exist; give a .toml file or one of the presets "
            f"{', '.join(PRESETS)}"
        )
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise PdeflowError(f"{path}: invalid TOML: {err}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise PdeflowError(f"{path} cannot be read: {err}") from err
    except (ValueError, RecursionError, MemoryError) as err:  # a 5000-digit integer, deep nesting
        raise PdeflowError(f"{path}: TOML pdeflow cannot read ({type(err).__name__}: "
                           f"{str(err)[:100] or 'nested too deeply'})") from err
    return validate_spec(data, source=str(path))


def apply_overrides(spec: dict, t_end: float | None = None, cells=None) -> dict:
    """A validated copy of ``spec`` with ``run.t_end`` and/or ``grid.cells`` replaced."""
    spec = copy.deepcopy(spec)
    if t_end is not None:
        spec.setdefault("run", {})["t_end"] = t_end
    if cells is not None:
        spec.setdefault("grid", {})["cells"] = cells
    return validate_spec(spec, source="spec (with overrides)")


def spec_to_toml(spec: dict, header: str = "") -> str:
    """``spec`` as the text of a TOML file that :func:`load_spec` reads back to the same spec.

    Top-level keys first, then one table per section (``[grid]``, ``[initial]``, ``[parameters]``,
    ``[run]``, one per method). ``header`` is written first as ``#`` comment lines.

    >>> from pdeflow.spec import load_spec, spec_to_toml
    >>> print(spec_to_toml(load_spec("heat")).splitlines()[0])
    equation = "heat"
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    tables = []
    for key, value in spec.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables:
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if value != value else
                                                          ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise PdeflowError(f"cannot write {value!r} ({type(value).__name__}) to TOML")


# -- building and running ------------------------------------------------------------------------
def build_problem(spec: dict):
    """The :class:`~pdeflow.problems.Problem` a (validated) spec describes.

    The spec itself is kept in ``problem.parameters["spec"]``, so it is stored in the HDF5 file
    (root attribute ``problem``) and :func:`exact_from_file` can rebuild the exact solution.
    """
    from . import initial as init
    from . import problems
    from .grid import Grid
    from .metric import FisherRao, Wasserstein, WassersteinFisherRao

    spec = validate_spec(spec)
    g, ini, par = spec["grid"], spec["initial"], dict(spec.get("parameters", {}))
    grid = Grid(g["bounds"], g["cells"], g["periodic"])
    if "metric" in spec:
        kind = {"wasserstein": Wasserstein, "fisher_rao": FisherRao,
                "wasserstein_fisher_rao": WassersteinFisherRao}[spec["metric"]["name"]]
        par["metric"] = kind(**{k: v for k, v in spec["metric"].items() if k != "name"})
    equation, kind = spec["equation"], ini["kind"]
    if "V" in par:
        V = compile_expression(par["V"], grid.ndim, where="parameters.V")
        grid.evaluate(V, f"potential V = {par['V']!r}")  # fails early on NaN / inf
        par["V"] = V
    if equation == "ornstein_uhlenbeck":
        problem = problems.ornstein_uhlenbeck(grid, ini["mean"], ini["cov"], ini["mass"], **par)
    elif equation == "kramers_harmonic":  # the grid is phase space (θ, v)
        problem = problems.kramers_harmonic(grid, mean=ini["mean"], cov=ini["cov"],
                                            mass=ini["mass"], **par)
    elif kind == "barenblatt":
        problem = problems.porous_medium(grid, None, t0=ini["t0"], mass=ini["mass"], **par)
    else:
        if kind == "gaussian":
            rho0 = init.gaussian(grid, ini["mean"], ini["cov"], ini["mass"])
        elif kind == "box":
            rho0 = init.box(grid, ini["low"], ini["high"], ini["mass"])
        else:
            rho0 = init.uniform(grid, ini["mass"])
        if equation == "heat" and kind == "gaussian":
            par["exact_gaussian"] = (ini["mean"], ini["cov"], ini["mass"])
        problem = getattr(problems, equation)(grid=grid, rho0=rho0, **par)
    problem.parameters["spec"] = spec
    return problem


def run_spec(
    spec: dict,
    out: str | os.PathLike,
    methods: list[str] | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    method_options: dict[str, dict] | None = None,
    resume: bool = False,
) -> dict:
    """Run every method of ``spec`` (or ``methods``) into the HDF5 file ``out``.

    ``resume=True`` continues unfinished runs of ``out`` from their last complete snapshot
    (finished runs are kept as they are).

    Everything is checked before anything runs: the spec, the methods and their options
    (``method_options[m]`` updates the spec's ``[m]`` table), and that ``out`` is writable.

    Returns
    -------
    dict[str, Trajectory]
        One trajectory per method, in run order.
    """
    from .solvers import check_methods, solve
    from .storage import check_writable

    spec = copy.deepcopy(spec)
    if methods is not None:
        spec.setdefault("run", {})["methods"] = list(methods)
    for m, options in (method_options or {}).items():
        spec[m] = {**spec.get(m, {}), **options}
    spec = validate_spec(spec)
    methods = spec["run"]["methods"]
    for m in set(method_options or {}) - set(methods):
        raise PdeflowError(f"options were given for {m!r}, which is not among the methods {methods}")
    if not resume:
        for m in methods:
            check_writable(out, m, overwrite)
    problem = build_problem(spec)
    check_methods(problem, methods)  # every method, before the first one runs
    return {
        m: solve(
            problem, spec["run"]["t_end"], method=m, snapshots=spec["run"]["snapshots"],
            store=out, overwrite=overwrite, progress=progress, resume=resume, **spec.get(m, {}),
        )
        for m in methods
    }


def spec_from_file(path: str | os.PathLike) -> dict | None:
    """The spec stored in a pdeflow HDF5 file (root ``problem`` → parameters → spec), or None."""
    from .storage import root_attributes

    text = root_attributes(path).get("problem")
    if text is None:
        return None
    try:
        problem = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return None
    spec = problem.get("parameters", {}).get("spec") if isinstance(problem, dict) else None
    return spec if isinstance(spec, dict) else None


def exact_from_file(path: str | os.PathLike) -> Callable | None:
    """The exact solution ``t -> density`` of the problem stored in ``path``, when known."""
    spec = spec_from_file(path)
    if spec is None:
        return None
    return build_problem(validate_spec(spec, source=f"spec stored in {path}")).exact
