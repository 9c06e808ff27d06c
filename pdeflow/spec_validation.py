"""What a valid spec is: the tables of allowed entries, the size limits, and the checks.

:func:`validate_spec` checks every entry of a spec (the format is in :mod:`pdeflow.spec`) and fills
in the defaults; each error names the entry (``grid.cells``), the value and what is expected.

- :data:`PARAMETERS`, :data:`INITIAL`, :data:`VALUES`: the entries each table allows and what
  each value must be; a method's table (``[fv]``, ...) is checked by the method's declared
  options (:class:`pdeflow.solvers.method.Options`).
- :data:`MAX_CELLS`, :data:`MAX_SNAPSHOTS`, :data:`MAX_STEPS`, :data:`CELL_WIDTH`: sizes refused
  before anything is allocated (the methods declare their own, :func:`option_limits`).
- :func:`compile_expression`: a potential ``V`` written as text, parsed and checked (only numbers,
  arithmetic, comparisons, the coordinates and the NumPy names of :data:`EXPRESSION_NAMES`), then
  evaluated with :func:`eval` without builtins.
"""

from __future__ import annotations

import ast
import copy
import inspect
import math
from collections.abc import Callable

import numpy as np

from .checks import is_finite_number as _is_finite_number
from .checks import short_repr as _short
from .errors import PdeflowError
from .solvers import get_method, solve
from .solvers import methods as declared_methods
from .solvers.stepper import MAX_STEPS

PARAMETERS = {
    "heat": ("D",), "fokker_planck": ("D", "V"), "ornstein_uhlenbeck": ("D", "gamma", "center"),
    "porous_medium": ("D", "m", "V"), "keller_segel": ("D", "chi"),
    "mean_field_network": ("x", "y", "activation", "weight_decay", "beta"),
    "kramers_harmonic": ("omega", "gamma", "T"),
}
INITIAL = {
    "gaussian": ("mean", "cov", "mass"), "uniform": ("mass",), "box": ("low", "high", "mass"),
    "barenblatt": ("t0", "mass"),
}
DEFAULTS = {"mass": 1.0, "mean": 0.0, "cov": 1.0}  # of [initial]
VALUES = {  # what each entry of [initial] and [parameters] must be
    "D": "positive", "gamma": "positive", "mass": "positive", "t0": "positive", "chi": "number",
    "m": "above 1", "mean": "vector", "low": "vector", "high": "vector", "center": "vector",
    "cov": "covariance", "V": "expression",
    "x": "numbers", "y": "numbers", "activation": "name", "weight_decay": "non-negative", "beta": "positive",
    "omega": "positive", "T": "non-negative",
}
FORBIDDEN_NODES = (ast.Attribute, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                   ast.GeneratorExp, ast.NamedExpr, ast.Starred, ast.Dict, ast.Set, ast.List,
                   ast.Tuple, ast.Subscript, ast.JoinedStr)
MAX_EXPRESSION = 2000  # characters of an expression (deeper nesting exhausts the parser)
# Sizes checked before anything is allocated (each is one array of 8-byte numbers or more):
MAX_CELLS = 200_000_000       # grid cells, all axes together (1.6 GB per density array)
MAX_SNAPSHOTS = 100_000       # run.snapshots
CELL_WIDTH = (1e-100, 1e100)  # dx per axis: dx², dx^d and 1/dx² stay normal floats
TABLES = {"grid": ("bounds", "cells", "periodic"), "run": ("t_end", "snapshots", "methods"),
          "metric": ("name", "rate", "normalized")}
METRICS = ("wasserstein", "fisher_rao", "wasserstein_fisher_rao")  # [metric] name
EXPRESSION_NAMES = {
    name: getattr(np, name)
    for name in (
        "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh",
        "exp", "expm1", "log", "log1p", "log10", "sqrt", "cbrt", "abs", "sign", "minimum",
        "maximum", "where", "hypot", "pi", "e", "heaviside", "floor", "ceil", "clip",
    )
}


# -- validation --------------------------------------------------------------------------------
def validate_spec(spec: dict, source: str = "spec") -> dict:
    """Check every entry of ``spec``; return a copy with the defaults filled in.

    Each error names the entry (``grid.cells``), the value and what is expected.
    """
    if not isinstance(spec, dict):
        raise PdeflowError(f"{source}: a spec is a table (dict), got {type(spec).__name__}")
    check = _Checker(source)
    spec = copy.deepcopy(spec)
    available = list(declared_methods())
    method_tables = set(available)
    check.keys("the spec", spec, ("equation", "description", "grid", "initial", "parameters", "run",
                                  "metric",
                                  *method_tables), required=("equation", "grid", "initial", "run"))
    equation = spec["equation"]
    if not isinstance(equation, str) or equation not in PARAMETERS:
        check.fail(f"unknown equation {equation!r}; choose one of {', '.join(PARAMETERS)}")
    if not isinstance(spec.get("description", ""), str):
        check.fail("description must be a string")

    grid = check.table(spec, "grid")
    check.keys("[grid]", grid, TABLES["grid"], required=("bounds", "cells"))
    ndim = check.bounds(grid["bounds"])
    grid.setdefault("periodic", False)
    for key, test, wanted in (("cells", lambda n: not isinstance(n, bool) and isinstance(n, int)
                               and n >= 2, "an integer >= 2"),
                              ("periodic", lambda p: isinstance(p, bool), "true or false")):
        value = grid[key]
        if isinstance(value, list):
            check.length(f"grid.{key}", value, ndim)
        if not all(test(v) for v in (value if isinstance(value, list) else [value])):
            check.fail(f"grid.{key} must be {wanted} (or a list, one per axis), got {value!r}")
    check.grid_size(grid["bounds"], grid["cells"], ndim)

    initial = check.table(spec, "initial")
    kind = initial.get("kind")
    if not isinstance(kind, str) or kind not in INITIAL:
        check.fail(f"initial.kind {kind!r} is unknown; choose one of {', '.join(INITIAL)}")
    check.keys(f"[initial] of kind {kind!r}", initial, ("kind", *INITIAL[kind]),
               required=("low", "high", "t0"))
    for key in INITIAL[kind]:
        if key in DEFAULTS:
            initial.setdefault(key, DEFAULTS[key])
    if kind == "barenblatt" and equation != "porous_medium":
        check.fail(f"initial.kind 'barenblatt' needs equation 'porous_medium', not {equation!r}")
    if equation in ("ornstein_uhlenbeck", "kramers_harmonic") and kind != "gaussian":
        check.fail(f"{equation} starts from Gaussian data; set initial.kind = 'gaussian', "
                   f"not {kind!r}")

    parameters = check.table(spec, "parameters", default={})
    check.keys(f"[parameters] of {equation}", parameters, PARAMETERS[equation],
               required=("V",) if equation == "fokker_planck" else ())
    for table, name in ((initial, "initial"), (parameters, "parameters")):
        for key, value in table.items():
            if key != "kind":
                check.value(f"{name}.{key}", VALUES[key], value, ndim)

    if "metric" in spec:
        metric = check.table(spec, "metric")
        check.keys("[metric]", metric, TABLES["metric"], required=("name",))
        if metric["name"] not in METRICS:
            check.fail(f"metric.name {metric['name']!r} is unknown; choose one of {', '.join(METRICS)}")
        if metric["name"] != "wasserstein":
            metric.setdefault("rate", 1.0)
            metric.setdefault("normalized", True)
            check.value("metric.rate", "positive", metric["rate"], 1)
            if not isinstance(metric["normalized"], bool):
                check.fail(f"metric.normalized must be true or false, got {metric['normalized']!r}")
        elif set(metric) - {"name"}:
            check.fail("metric 'wasserstein' takes no rate or normalized")

    run = check.table(spec, "run")
    check.keys("[run]", run, TABLES["run"], required=("t_end",))
    check.value("run.t_end", "positive", run["t_end"], ndim)
    run.setdefault("snapshots", 11)
    if isinstance(run["snapshots"], bool) or not isinstance(run["snapshots"], int) or run["snapshots"] < 2:
        check.fail(f"run.snapshots must be an integer >= 2, got {_short(run['snapshots'])}")
    if run["snapshots"] > MAX_SNAPSHOTS:
        check.fail(f"run.snapshots = {_short(run['snapshots'])} is more than the {MAX_SNAPSHOTS} "
                   "snapshots pdeflow stores; use fewer")
    methods = run.setdefault("methods", ["fv"])
    if isinstance(methods, str):
        methods = run["methods"] = [methods]
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
        check.fail(f"run.methods must be a non-empty list of method names, got {methods!r}")
    for m in methods:
        if m not in available:
            check.fail(f"unknown or unavailable method {m!r} in run.methods; available: "
                       f"{', '.join(available)}")
    if len(set(methods)) != len(methods):
        check.fail(f"run.methods lists a method twice: {methods}")
    for m in sorted(method_tables & set(spec)):
        check.options(m, check.table(spec, m))
        check.step_count(m, spec[m], run["t_end"])
    return spec


class _Checker:
    """Type and range checks that raise one :class:`PdeflowError` naming the entry."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, message: str):
        raise PdeflowError(f"{self.source}: {message}")

    def keys(self, where: str, table: dict, allowed, required=()):
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            self.fail(f"unknown key(s) {unknown} in {where}; allowed: {', '.join(allowed)}")
        missing = [k for k in required if k in allowed and k not in table]
        if missing:
            self.fail(f"{where} is missing {', '.join(missing)}")

    def table(self, spec: dict, key: str, default=None) -> dict:
        if default is not None:
            spec.setdefault(key, default)
        if not isinstance(spec[key], dict):
            self.fail(f"'{key}' must be a table ([{key}]), got {spec[key]!r}")
        return spec[key]

    def value(self, where: str, what: str, value, ndim: int):
        """``what``: "number", "positive", "non-negative", "above 1", "vector" (a number or one per
        axis), "covariance" (a variance or an SPD matrix), "numbers" (a non-empty list), "name" (a
        string) or "expression" (see :func:`compile_expression`)."""
        if what == "expression":
            compile_expression(value, ndim, where=f"{self.source}: {where}")
        elif what == "name":
            if not isinstance(value, str):
                self.fail(f"{where} must be a name (a string), got {_short(value)}")
        elif what == "numbers":  # a non-empty list of finite numbers (the network's data)
            if not isinstance(value, list) or not value or not all(map(_is_finite_number, value)):
                self.fail(f"{where} must be a non-empty list of finite numbers, got {_short(value)}")
        elif isinstance(value, list) and what in ("vector", "covariance"):
            rows = value if what == "covariance" else [value]
            if what == "covariance" and not all(isinstance(r, list) for r in rows):
                self.fail(f"{where} must be a variance or a {ndim}x{ndim} matrix, got {value!r}")
            self.length(where, rows, ndim if what == "covariance" else 1)
            for row in rows:
                self.length(where, row, ndim)
                for v in row:
                    self.value(where, "number", v, ndim)
            matrix = np.asarray(rows, dtype=float)
            if what == "covariance" and (not np.allclose(matrix, matrix.T)
                                         or np.any(np.linalg.eigvalsh(matrix) <= 0)):
                self.fail(f"{where} {value!r} is not symmetric positive definite")
        elif not _is_finite_number(value):
            self.fail(f"{where} must be a finite number, got {_short(value)}")
        elif what in ("positive", "covariance") and not value > 0:
            self.fail(f"{where} must be > 0, got {value!r}")
        elif what == "non-negative" and not value >= 0:
            self.fail(f"{where} must be >= 0, got {value!r}")
        elif what == "above 1" and not value > 1:
            self.fail(f"{where} must be > 1, got {value!r}")

    def length(self, where, value: list, n: int):
        if len(value) != n:
            self.fail(f"{where} has {len(value)} entries but the grid has {n} axes: {value!r}")

    def bounds(self, value) -> int:
        pairs = [value] if isinstance(value, list) and len(value) == 2 and not any(
            isinstance(v, list) for v in value) else value
        if not isinstance(pairs, list) or not 1 <= len(pairs) <= 3 or not all(
                isinstance(p, list) and len(p) == 2 for p in pairs):
            self.fail(f"grid.bounds must be 1 to 3 pairs [low, high], got {value!r}")
        for low, high in pairs:
            self.value("grid.bounds", "number", low, 1)
            self.value("grid.bounds", "number", high, 1)
            if not low < high:
                self.fail(f"grid.bounds needs low < high on every axis, got {value!r}")
        return len(pairs)

    def grid_size(self, bounds, cells, ndim: int) -> int:
        """The total cell count, checked against :data:`MAX_CELLS` and :data:`CELL_WIDTH`."""
        pairs = bounds if ndim > 1 or isinstance(bounds[0], list) else [bounds]
        per_axis = cells if isinstance(cells, list) else [cells] * ndim
        total = math.prod(per_axis)
        if total > MAX_CELLS:
            count = f"{float(total):.3g}" if total < 1e300 else _short(total)
            self.fail(f"grid.cells = {_short(cells)} gives {count} cells, more than the "
                      f"{MAX_CELLS:.0e} pdeflow allocates; use fewer cells per axis")
        for axis, ((low, high), n) in enumerate(zip(pairs, per_axis, strict=True)):
            dx = (high - low) / n
            if not CELL_WIDTH[0] <= dx <= CELL_WIDTH[1]:
                self.fail(f"grid.bounds {[low, high]!r} with {n} cells gives cells of width "
                          f"{dx:.3g} on axis {axis}; pdeflow needs {CELL_WIDTH[0]:g} <= dx <= "
                          f"{CELL_WIDTH[1]:g}: rescale the problem")
        return total

    def step_count(self, method: str, options: dict, t_end: float) -> None:
        """A fixed step (``dt``, or jko's ``tau``) must reach ``t_end`` within ``max_steps``."""
        limit = options.get("max_steps")
        limit = limit if _is_finite_number(limit) else MAX_STEPS
        for key in ("dt", "tau"):
            step = options.get(key)
            if _is_finite_number(step) and step > 0 and t_end / step > limit:
                self.fail(f"{method}.{key} = {step:.3g} needs {t_end / step:.3g} steps to reach "
                          f"t_end = {t_end:.4g}, more than {limit:.3g}; use a larger {key}")

    def options(self, method: str, options: dict):
        """The ``[method]`` table: names and values checked by the method's declared options."""
        own = sorted(set(options) & set(inspect.signature(solve).parameters) - {"options"})
        if own:  # they would collide with solve()'s own arguments
            self.fail(f"{own} in [{method}] are not {method} options; set t_end and snapshots in "
                      "[run], the output file on the command line")
        declared = get_method(method).options
        unknown = sorted(set(options) - set(declared.names()))
        if unknown:
            defaults = ", ".join(f"{k} = {v!r}" for k, v in declared.defaults().items()
                                 if v is not None)
            self.fail(f"unknown {method} option(s) {unknown} in [{method}]; known: "
                      f"{', '.join(sorted(declared.names()))} (defaults: {defaults}; the others "
                      "are chosen when the run starts)")
        try:
            declared.from_dict(options, where=f"{method}.")
        except PdeflowError as err:
            self.fail(str(err))


def option_limits() -> dict[str, int]:
    """``{option: limit}``: the counts each method refuses above (before allocating)."""
    return {item["name"]: item["limit"] for declared in declared_methods().values()
            for item in declared.options.describe() if item["limit"] is not None}


MAX_OPTION = option_limits()  # {"n_particles": 1e8, "n_quantiles": 1e7, "mesh_refine": 64}


def compile_expression(text, ndim: int, where: str = "V") -> Callable:
    """``f(x, y, ...)`` evaluating the expression ``text`` with NumPy (see the module docstring)."""
    if not isinstance(text, str):
        raise PdeflowError(f"{where} must be a string expression of x, y, z, got {text!r}")
    coords = ("x", "y", "z")[:ndim]
    if len(text) > MAX_EXPRESSION:
        raise PdeflowError(f"{where}: the expression has {len(text)} characters, more than "
                           f"{MAX_EXPRESSION}; write it shorter")
    shown = _short(text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise PdeflowError(f"{where}: {shown} is not a valid expression ({err.msg})") from err
    except (ValueError, RecursionError, MemoryError) as err:  # NUL bytes, too deeply nested
        raise PdeflowError(f"{where}: {shown} is not a valid expression "
                           f"({type(err).__name__}: {err})") from err
    nodes = list(ast.walk(tree))
    forbidden = sorted({type(n).__name__ for n in nodes if isinstance(n, FORBIDDEN_NODES)})
    if forbidden:
        raise PdeflowError(f"{where}: {shown} uses {', '.join(forbidden)}; an expression may use "
                           "numbers, arithmetic, comparisons and function calls only")
    names = {n.id for n in nodes if isinstance(n, ast.Name)}
    unknown = sorted(names - set(EXPRESSION_NAMES) - set(coords))
    if unknown:
        raise PdeflowError(
            f"{where}: {shown} uses unknown name(s) {unknown}; use the coordinates "
            f"{', '.join(coords)} and numpy functions such as exp, sqrt, cos, pi"
        )
    for node in nodes:
        if isinstance(node, ast.Constant):
            # real numbers only; integers become floats, so that 9**9**9 overflows at once instead
            # of computing a huge integer, and ``<<`` or string repetition cannot run away
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise PdeflowError(f"{where}: {shown} holds the constant {_short(node.value)}; "
                                   "an expression may use real numbers only")
            if _is_finite_number(node.value):
                node.value = float(node.value)
            else:
                raise PdeflowError(f"{where}: the number {_short(node.value)} in {shown} is "
                                   "too large for a float")
    try:
        code = compile(tree, "<V>", "eval")
    except (RecursionError, MemoryError) as err:
        raise PdeflowError(f"{where}: {shown} is nested too deeply to compile") from err

    def V(*x):
        namespace = {"__builtins__": {}, **EXPRESSION_NAMES, **dict(zip(coords, x, strict=True))}
        try:
            with np.errstate(all="ignore"):  # NaN / inf are reported by the caller, per cell
                value = eval(code, namespace)  # noqa: S307 - names checked above, no builtins
                return np.broadcast_to(np.asarray(value, dtype=float), np.broadcast(*x).shape)
        except Exception as err:
            message = " ".join(str(err).split()) or type(err).__name__
            raise PdeflowError(f"{where}: evaluating {shown} failed ({type(err).__name__}: "
                               f"{message[:200]})") from err

    return V
