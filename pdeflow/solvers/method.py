"""A method, declared: its name, its typed options and its stepper factory.

Each method module (``solvers/fv.py``, ``particles.py``, ``jko.py``, ``fem.py``) ends with one
declaration,

    METHOD = Method(name="fv", options=FiniteVolumeOptions, build=_build, summary="...")

and everything that needs to know about methods asks the declarations (:func:`pdeflow.methods`):
:func:`pdeflow.solve`, the spec validator, the command line (``--help`` lists each method's
options with their defaults), sweeps (``stochastic``) and resume (the stored options are read back
through the same :class:`Options`).

An :class:`Options` is a frozen dataclass whose fields are made with :func:`option`: a default, a
line of documentation, a kind (what values are allowed) and, where they apply, bounds, choices,
units and the grids the option applies to. ``Options.from_dict`` refuses unknown names (listing the
valid ones with their defaults) and :meth:`Options.validate` checks every value, with messages that
name the option (``cfl must be in (0, 1], got 2``; a spec prefixes the table: ``fv.cfl``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..checks import is_finite_number, short_repr
from ..errors import PdeflowError
from .stepper import MAX_STEPS, MAX_STEPS_LIMIT

KINDS = {  # what each kind of option accepts, in words (also the TOML reference)
    "positive": "a number > 0",
    "non-negative": "a number >= 0",
    "fraction": "a number in (0, 1]",
    "interval": "a number in [low, high]",
    "count": "a whole number",
    "seed": "a whole number >= 0",
    "threshold": "a number > 0, or inf (never)",
    "choice": "one of the names listed",
    "any": "a number or a function",
}


def option(default: Any, doc: str, kind: str, *, choices: tuple = (), low: float | None = None,
           high: float | None = None, limit: int | None = None, units: str = "", only: str = "",
           hint: str = ""):
    """A field of an :class:`Options` dataclass.

    Parameters
    ----------
    default : value or None
        None: the method chooses at run time (``doc`` says how).
    doc : str
        One line: what the option does, and its default when chosen at run time.
    kind : str
        A key of :data:`KINDS`.
    choices : tuple of str
        The allowed names (kind "choice").
    low, high : float
        Bounds of kinds "interval" and "count" (inclusive).
    limit : int
        Counts above it are refused before anything is allocated.
    units : str
        The option's units ("time", "length²", ...), for the reference.
    only : str
        Where it applies ("1D", "2D/3D"), for the reference.
    hint : str
        Words added to the range error (what the ends of the range mean).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown option kind {kind!r}")
    metadata = {"doc": doc, "kind": kind, "choices": tuple(choices), "low": low, "high": high,
                "limit": limit, "units": units, "only": only, "hint": hint}
    return field(default=default, metadata=metadata)


def max_steps_option():
    """The ``max_steps`` option every stepping method declares."""
    return option(MAX_STEPS, "steps allowed in the whole run", "count", low=1,
                  high=MAX_STEPS_LIMIT)


def seed_option():
    """The ``seed`` option of a random method (its runs record the seed they drew)."""
    return option(None, "random seed (default: a fresh one, recorded with the run)", "seed")


@dataclass(frozen=True)
class Options:
    """The options of one method (a subclass per method, fields made with :func:`option`)."""

    method: ClassVar[str] = "method"

    # -- the declared fields -----------------------------------------------------------------
    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def defaults(cls) -> dict:
        """``{name: default}`` (None: chosen by the method at run time)."""
        return {f.name: f.default for f in dataclasses.fields(cls)}

    @classmethod
    def describe(cls) -> list[dict]:
        """One dict per option: name, default and the metadata of :func:`option`."""
        return [{"name": f.name, "default": f.default, **f.metadata} for f in dataclasses.fields(cls)]

    # -- construction, validation, JSON --------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict, where: str = "") -> Options:
        """Options from ``{name: value}`` (missing names take their defaults), validated.

        ``where`` prefixes option names in messages (a spec passes ``"fv."``).
        """
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            defaults = ", ".join(f"{k}={v!r}" for k, v in sorted(cls.defaults().items()))
            raise PdeflowError(
                f"unknown {cls.method} option(s) {unknown}; known: {sorted(cls.names())} "
                f"(defaults: {defaults}; None: chosen at run time)"
            )
        return cls(**values).validate(where)

    def validate(self, where: str = "") -> Options:
        """Check every value against its declaration; return the options with counts as ints
        and numbers as floats."""
        normal = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                normal[f.name] = _checked(f"{where}{f.name}", value, f.metadata)
        return dataclasses.replace(self, **normal)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Options:
        return cls.from_dict(json.loads(text))


def _checked(name: str, value, meta: dict):
    """``value`` normalised (whole numbers as int, numbers as float), or a PdeflowError naming
    ``name``."""
    kind = meta["kind"]
    if kind == "any":
        return value
    if kind == "choice":
        if value not in meta["choices"]:
            raise PdeflowError(f"{name} must be one of {', '.join(map(repr, meta['choices']))}, "
                               f"got {short_repr(value)}")
        return value
    if kind == "threshold" and not isinstance(value, bool) and value == math.inf:
        return math.inf
    if not is_finite_number(value):
        raise PdeflowError(f"{name} must be a finite number, got {short_repr(value)}")
    low, high = meta["low"], meta["high"]
    if kind in ("count", "seed"):
        low = 0 if kind == "seed" else low
        if value != int(value):
            raise PdeflowError(f"{name} must be a whole number, got {short_repr(value)}")
        if kind == "seed" and value < 0:
            raise PdeflowError(f"{name} must be >= 0, got {short_repr(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high:.0e}" if high is not None else f">= {low}"
            raise PdeflowError(f"{name} must be a whole number {bounds}, got {short_repr(value)}")
        if meta["limit"] is not None and value > meta["limit"]:
            raise PdeflowError(f"{name} = {short_repr(value)} is more than the {meta['limit']:.0e} "
                               "pdeflow allocates; use fewer")
        return int(value)
    if kind in ("positive", "threshold") and not value > 0:
        raise PdeflowError(f"{name} must be > 0, got {short_repr(value)}; give a positive number")
    if kind == "non-negative" and not value >= 0:
        raise PdeflowError(f"{name} must be >= 0, got {short_repr(value)}")
    if kind == "fraction" and not 0 < value <= 1:
        raise PdeflowError(f"{name} must be in (0, 1], got {short_repr(value)}")
    if kind == "interval" and not low <= value <= high:
        raise PdeflowError(f"{name} must be in [{low:g}, {high:g}]{meta['hint']}, "
                           f"got {short_repr(value)}")
    return float(value)


def low_rank_refusal(problem, method: str) -> str | None:
    """The words for a method without low-rank interactions (the mean-field network), or None."""
    if problem.energy.low_rank:
        return (f"method={method!r} does not support low-rank interactions (the mean-field "
                "network); use method='fv' or method='particles'")
    return None


@dataclass(frozen=True)
class Method:
    """One method of solving a problem.

    Attributes
    ----------
    name : str
        What ``solve(method=...)`` and a spec's ``run.methods`` call it.
    options : type[Options]
        Its options.
    build : callable
        ``build(problem, t_end, options) -> Stepper``, the options validated.
    summary : str
        One line for ``--help`` and the reference.
    stochastic : bool
        Its runs draw random numbers (a ``seed`` option; sweeps repeat them per seed).
    reaction : bool
        It solves flows with a reaction part (Fisher–Rao, Wasserstein–Fisher–Rao), not only
        Wasserstein gradient flows.
    kinetic : bool
        It solves kinetic problems (a density on phase space, ``problem.kinetic``), and only
        those; the other methods refuse them.
    requires : callable or None
        ``requires(problem) -> str | None``: why the method cannot solve ``problem`` (None: it
        can). Default: a problem on a :class:`~pdeflow.Grid` (or without any grid).
    """

    name: str
    options: type[Options]
    build: Callable
    summary: str
    stochastic: bool = False
    reaction: bool = False
    kinetic: bool = False
    requires: Callable | None = None

    def stepper(self, problem, t_end: float, **options):
        """The stepper for ``problem`` on ``[0, t_end]`` with ``options`` (validated)."""
        return self.build(problem, float(t_end), self.options.from_dict(options))
