"""Fuzzed inputs to the ``pdeflow`` command: random TOML specs and random argument lists.

Every case must end in one of two ways, called in-process through ``pdeflow.cli.main`` under a
``signal.alarm`` guard:

- exit 0, and the output file loads with every run "finished" or "blow-up" (anything else on
  stderr is a one-line ``pdeflow: warning: ...``);
- exit 2 with exactly one stderr line ``pdeflow: error: ...`` (never an "internal error", never a
  traceback, never an escaping exception, never a hang), and an output file, if one is there,
  loads and holds no run left "running".

The specs are small valid specs mutated (wrong types, missing and unknown keys, huge, negative
and non-finite numbers, strings for numbers, nested tables in wrong places, ...). Grids stay tiny
by construction: a mutation either keeps a size small or makes it larger than pdeflow's limits
(which must then be refused before anything is allocated), and the fixed-step solvers get
``max_steps = 3000``, so an extreme parameter ends in a clear "max_steps" error, not a long run.

HYPOTHESIS_PROFILE=nightly runs ten times more cases.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import re
import signal
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

import h5py
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pdeflow as pf
from pdeflow.cli import main
from pdeflow.spec_validation import MAX_CELLS, MAX_OPTION, MAX_SNAPSHOTS

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SCALE = 10 if PROFILE == "nightly" else 1


def fuzz(examples: int) -> settings:
    """Settings of a fuzz test: ``examples`` cases in CI, ten times more in the nightly profile."""
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


CASE_SECONDS = 300  # a hang guard: a warm case takes well under a second, but a fuzzed case can
# meet a new kernel signature (3D, periodic, no weights, ...) whose cold Numba compile takes tens
# of seconds on a loaded machine

BOUNDING = {  # every spec carries these: a run stays short whatever the mutation
    "fv": {"max_steps": 3000},
    "particles": {"n_particles": 64, "seed": 1, "max_steps": 3000},
    "jko": {"n_quantiles": 64, "max_iter": 60},
}
BASES = [
    {"equation": "heat", "grid": {"bounds": [[-3.0, 3.0]], "cells": 8},
     "initial": {"kind": "gaussian", "mean": 0.0, "cov": 0.5, "mass": 1.0},
     "parameters": {"D": 1.0}, "run": {"t_end": 0.01, "snapshots": 3, "methods": ["fv", "jko"]}},
    {"equation": "fokker_planck", "description": "1D, double well",
     "grid": {"bounds": [[-2.0, 2.0]], "cells": 10, "periodic": False},
     "initial": {"kind": "box", "low": -1.0, "high": 1.0, "mass": 2.0},
     "parameters": {"D": 0.5, "V": "(x**2 - 1)**2"},
     "run": {"t_end": 0.01, "snapshots": 3, "methods": ["fv", "particles"]}},
    {"equation": "porous_medium", "grid": {"bounds": [[-2.0, 2.0]], "cells": 12},
     "initial": {"kind": "barenblatt", "t0": 0.1, "mass": 1.0},
     "parameters": {"m": 2.0}, "run": {"t_end": 0.01, "snapshots": 2, "methods": ["jko"]}},
    {"equation": "ornstein_uhlenbeck", "grid": {"bounds": [[-3.0, 3.0], [-3.0, 3.0]], "cells": [6, 5]},
     "initial": {"kind": "gaussian", "mean": [0.5, 0.0], "cov": [[0.5, 0.1], [0.1, 0.4]]},
     "parameters": {"D": 1.0, "gamma": 1.0, "center": [0.0, 0.0]},
     "run": {"t_end": 0.01, "snapshots": 3}},
    {"equation": "keller_segel", "grid": {"bounds": [[-4.0, 4.0], [-4.0, 4.0]], "cells": 8,
                                          "periodic": [False, True]},
     "initial": {"kind": "uniform", "mass": 3.0}, "parameters": {"chi": 1.0, "D": 1.0},
     "run": {"t_end": 0.01, "snapshots": 2, "methods": ["fv"]}, "fv": {"scheme": "implicit"}},
]
for _base in BASES:
    for _method, _options in BOUNDING.items():
        _base[_method] = {**_options, **_base.get(_method, {})}

NAMES = ["equation", "grid", "bounds", "cells", "periodic", "initial", "kind", "mean", "cov", "mass",
         "low", "high", "t0", "parameters", "D", "V", "m", "chi", "gamma", "center", "run", "t_end",
         "snapshots", "methods", "fv", "jko", "particles", "fem", "scheme", "cfl", "dt", "tau",
         "n_quantiles", "n_particles", "max_steps", "unknown", "", "a b", "ü"]
WORDS = ["heat", "fokker_planck", "porous_medium", "keller_segel", "ornstein_uhlenbeck", "Heat",
         "fv", "jko", "particles", "fem", "magic", "gaussian", "box", "uniform", "barenblatt",
         "explicit", "implicit", "graded", "x**2", "exp(-x)", "1/x", "sqrt(x)", "log(x)",
         "9**9**9**9", "1 << 10**10", "'a' * 10**10", "x[0]", "{1: 2}", "__import__('os')",
         "x.__class__", "(lambda: 0)()", "nan", "inf", "1e400*x", "x" * 3000, "(" * 300 + "x",
         "\x00", "exp(exp(exp(x)))", "where(x > 0, x, -x)", "clip(x)", "1j*x", "True"]
INTS = st.one_of(st.integers(-3, 40),
                 st.sampled_from([0, -1, 2**31, 2**63, 10**9, 10**12, 10**30, 10**400]))
FLOATS = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1e300, 1.7976931348623157e308,
                                                  -1e300, 0.5, 2.0, math.nan, math.inf, -math.inf]))
SCALARS = st.one_of(
    INTS, FLOATS, st.booleans(), st.text(max_size=12), st.sampled_from(WORDS),
    st.datetimes(timezones=st.sampled_from([None, timezone.utc])), st.dates(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


# -- TOML ----------------------------------------------------------------------------------------
def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def to_toml(spec: dict) -> str:
    """A TOML document for ``spec``: top-level values, then one ``[table]`` per dict."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in spec.items() if not isinstance(v, dict)]
    for name, table in spec.items():
        if isinstance(table, dict):
            lines.append(f"[{_toml_key(name)}]")
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def test_toml_writer_round_trips_every_base_spec():
    import tomllib

    for spec in BASES:
        assert tomllib.loads(to_toml(spec)) == spec
    assert tomllib.loads(to_toml({"a": [math.inf, -0.0, 10**400, "\x7f\n"]}))["a"][1:] == [
        -0.0, 10**400, "\x7f\n"]


# -- mutations -----------------------------------------------------------------------------------
EXPRESSIONS = st.recursive(
    st.sampled_from(["x", "y", "z", "1", "0.5", "pi", "e", "1e-3", "1e3", "0"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "<", ">="]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["sin", "cos", "exp", "log", "sqrt", "abs", "tanh", "cbrt",
                                   "sign", "floor", "arctan", "log1p", "cosh"]), inner).map(
            lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["minimum", "maximum", "hypot", "arctan2", "heaviside"]),
                  inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"where({t[0]}, {t[1]}, {t[2]})"),
        inner.map(lambda t: f"-{t}"),
    ),
    max_leaves=6,
)
NUMBERS = st.one_of(
    st.floats(-10.0, 10.0), st.floats(1e-3, 1e3), st.integers(-3, 40), FLOATS,
    st.tuples(st.floats(0.1, 10.0), st.integers(-320, 310)).map(lambda t: _scaled(*t)),
)


def _scaled(value, exponent: int) -> float:
    """``value × 10^exponent``, inf where that overflows."""
    try:
        return value * 10.0**exponent
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _perturb(draw, value, key=""):
    """A value of the same shape: a number for a number, an expression for V, a name for a name."""
    if isinstance(value, bool):
        return draw(st.booleans() | SCALARS)
    if isinstance(value, int | float):
        if draw(st.booleans()):  # same sign, another scale: mostly valid, sometimes extreme
            return _scaled(value, draw(st.integers(-12, 12)))
        return draw(NUMBERS)
    if isinstance(value, str):
        return draw(EXPRESSIONS if key == "V" else st.sampled_from(WORDS))
    if isinstance(value, list) and value:
        value = list(value)
        k = draw(st.integers(0, len(value) - 1))
        how = draw(st.sampled_from(["one", "one", "drop", "append"]))
        if how == "one":
            value[k] = _perturb(draw, value[k], key)
        elif how == "drop":
            del value[k]
        else:
            value.append(_perturb(draw, value[k], key))
        return value
    return draw(VALUES)


@st.composite
def mutated_specs(draw) -> dict:
    spec = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        leaves = [(t, k) for t, v in spec.items() if isinstance(v, dict) for k in v]
        paths = [(k,) for k in spec] + leaves * 3  # mostly entries, sometimes whole tables
        path = draw(st.sampled_from(paths))
        parent = spec if len(path) == 1 else spec[path[0]]
        if not isinstance(parent, dict):
            continue
        key = path[-1]
        op = draw(st.sampled_from(["perturb"] * 6 + ["replace", "replace", "delete", "add", "wrap"]))
        if op == "perturb":
            parent[key] = _perturb(draw, parent[key], key)
        elif op == "replace":
            parent[key] = draw(VALUES)
        elif op == "delete":
            del parent[key]
        elif op == "add":
            parent[draw(st.sampled_from(NAMES))] = draw(VALUES)
        elif key in parent:
            wrapped = {draw(st.sampled_from(NAMES)): parent[key]}
            parent[key] = [parent[key]] if draw(st.booleans()) else wrapped
    _keep_runs_small(spec)
    return spec


def _number(v) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # a huge TOML integer
        return False


def _keep_runs_small(spec: dict) -> None:
    """Sizes within pdeflow's limits but beyond a fast run go back to small values (a size above
    the limits stays: it must be refused up front). The run stays seconds long whatever else."""
    grid = spec.get("grid")
    if isinstance(grid, dict):
        cells = grid.get("cells")
        counts = cells if isinstance(cells, list) else [cells]
        if all(_number(c) for c in counts) and 512 < math.prod(max(abs(c), 1) for c in counts) <= MAX_CELLS:
            grid["cells"] = 8
    run = spec.get("run")
    if isinstance(run, dict) and _number(run.get("snapshots")) and 20 < run["snapshots"] <= MAX_SNAPSHOTS:
        run["snapshots"] = 5
    limits = {"max_steps": (3000, 10**7), "n_particles": (500, MAX_OPTION["n_particles"]),
              "n_quantiles": (200, MAX_OPTION["n_quantiles"]), "max_iter": (200, 10**9),
              "mesh_refine": (4, MAX_OPTION["mesh_refine"])}
    for method, bounding in BOUNDING.items():  # put back what a mutation deleted
        table = spec.setdefault(method, {})
        if isinstance(table, dict):
            for key in ("max_steps", "max_iter", "n_quantiles"):
                if key in bounding:
                    table.setdefault(key, bounding[key])
    for method in ("fv", "particles", "jko", "fem"):
        table = spec.get(method)
        if not isinstance(table, dict):
            continue
        for key, (small, limit) in limits.items():
            if _number(table.get(key)) and small < table[key] <= limit:
                table[key] = small
        for key in ("tau", "dt"):  # at most ~2000 fixed steps over t_end <= 0.02
            if _number(table.get(key)) and 0 < table[key] < 1e-5:
                table[key] = 1e-5


# -- running a case ------------------------------------------------------------------------------
class Hang(BaseException):
    """Raised by the alarm: not an Exception, so that nothing in pdeflow can swallow it."""


def _alarm(signum, frame):
    raise Hang(f"a case ran longer than {CASE_SECONDS} s")


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` in this process: (exit code, stdout, stderr). Escaping exceptions propagate."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except Hang as hang:  # an AssertionError, so that hypothesis shrinks the case
        raise AssertionError(f"{hang}: pdeflow {' '.join(argv)}") from hang
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


def check_outcome(code: int, stderr: str, output: Path | list[Path] | None) -> str:
    """Assert the contract of the module docstring for the output file(s); return the error
    line ('' on success)."""
    outputs = output if isinstance(output, list) else [] if output is None else [output]
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr, stderr
    if code == 0:
        assert all(line.startswith("pdeflow: warning: ") for line in lines), stderr
        for path in outputs:
            statuses = {name: traj.status for name, traj in pf.load(path).items()}
            assert set(statuses.values()) <= {"finished", "blow-up"}, statuses
        return ""
    assert code == 2, (code, stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith("pdeflow: error: "), stderr
    assert "internal error" not in lines[0], lines[0]
    for path in outputs:
        if path.exists():
            statuses = {name: traj.status for name, traj in pf.load(path).items()}
            assert "running" not in statuses.values(), (statuses, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """Compile the numba kernels once (outside the per-case alarm)."""
    folder = tmp_path_factory.mktemp("warm")
    for k, spec in enumerate(BASES):
        path = folder / f"base{k}.toml"
        path.write_text(to_toml(spec))
        out = folder / f"base{k}.h5"
        code, _, stderr = run_cli(["run", str(path), "--out", str(out), "--no-plot", "--quiet"])
        assert code == 0, stderr
        assert set(t.status for t in pf.load(out).values()) == {"finished"}
    return folder


def test_every_base_spec_runs_and_finishes(warm):
    assert sorted(p.name for p in warm.glob("*.h5")) == [f"base{k}.h5" for k in range(len(BASES))]


@fuzz(800)
@given(spec=mutated_specs(), t_end=st.sampled_from(["0.01", "0.002", "1e-9", "0.02"]))
def test_fuzzed_specs_run_or_fail_with_one_line(warm, spec, t_end):
    with tempfile.TemporaryDirectory() as folder:
        path, out = Path(folder) / "spec.toml", Path(folder) / "out.h5"
        path.write_text(to_toml(spec), encoding="utf-8")
        code, _, stderr = run_cli(["run", str(path), "--out", str(out), "--t-end", t_end,
                                   "--no-plot", "--quiet"])
        check_outcome(code, stderr, out)
        left = {p.name for p in Path(folder).iterdir()}
        assert left in ({"spec.toml"}, {"spec.toml", "out.h5"}, {"spec.toml", "out.h5", "out.xmf"}), left


@st.composite
def broken_texts(draw) -> bytes:
    """Damaged TOML: a base spec cut, with bytes inserted, or replaced by garbage."""
    text = to_toml(draw(st.sampled_from(BASES))).encode()
    how = draw(st.sampled_from(["cut", "insert", "garbage", "empty", "repeat"]))
    if how == "cut":
        return text[: draw(st.integers(0, len(text)))]
    if how == "insert":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.binary(min_size=1, max_size=8)) + text[at:]
    if how == "garbage":
        return draw(st.binary(max_size=300))
    if how == "repeat":  # duplicate tables and keys
        return text + text[: draw(st.integers(0, len(text)))]
    return b""


@fuzz(200)
@given(data=broken_texts())
def test_damaged_spec_files_fail_with_one_line(warm, data):
    with tempfile.TemporaryDirectory() as folder:
        path, out = Path(folder) / "spec.toml", Path(folder) / "out.h5"
        path.write_bytes(data)
        code, _, stderr = run_cli(["run", str(path), "--out", str(out), "--t-end", "0.01",
                                   "--no-plot", "--quiet"])
        check_outcome(code, stderr, out)


# -- argument lists ------------------------------------------------------------------------------
ARG_VALUES = st.one_of(
    st.sampled_from(["", "-1", "0", "1", "8", "0.01", "1e-9", "1e400", "nan", "inf", "-inf", "abc",
                     "fv", "fv,jko", "jko,fv,fv", ",", "particles", "magic", "2**8", " 8", "1_0",
                     str(10**9), str(10**30), "1" * 5000, "--quiet", "-", "heat", "\x00"]),
    st.integers(-5, 40).map(str),
    st.text(max_size=10),
)
FLAGS = ["--out", "--t-end", "--cells", "--methods", "--particles", "--overwrite", "--resume",
         "--no-plot", "--quiet", "--help", "--version", "--bogus", "-x"]


@st.composite
def argument_lists(draw) -> list[str]:
    command = draw(st.sampled_from(["run", "run", "run", "info", "plot", "compare", "presets",
                                    "", "bogus", "--version", "RUN"]))
    argv = [command] if command else []
    target = draw(st.sampled_from(["@spec@", "@spec@", "heat", "@out@", "@garbage@", "@missing@",
                                   "@folder@", "nope.toml", ""]))
    if command not in ("presets", "--version") or draw(st.booleans()):
        argv.append(target)
    for _ in range(draw(st.integers(0, 5))):
        flag = draw(st.sampled_from(FLAGS))
        argv.append(flag)
        if flag in ("--out", "--t-end", "--cells", "--methods", "--particles") and draw(
                st.integers(0, 9)):
            if flag == "--out":
                argv.append(draw(st.sampled_from(["@out@", "@new@", "@folder@", "@missing@/x.h5",
                                                  "@garbage@", "", "@spec@"])))
            else:
                argv.append(draw(ARG_VALUES))
    if command == "run" and "--t-end" not in argv and target != "heat":
        argv += ["--t-end", "0.01"]
    if command == "run" and ("--no-plot" not in argv) and draw(st.integers(0, 9)):
        argv.append("--no-plot")
    if command == "run" and target == "heat":  # a preset: keep it small
        argv += ["--cells", "12", "--t-end", "0.001"]
    return argv


@contextlib.contextmanager
def _inside(folder: Path):
    here = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


@fuzz(200)
@given(argv=argument_lists(), spec=st.sampled_from(BASES))
def test_fuzzed_argument_lists_run_or_fail_with_one_line(warm, argv, spec):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        names = {"spec": folder / "spec.toml", "out": folder / "out.h5", "new": folder / "new.h5",
                 "garbage": folder / "garbage.h5", "missing": folder / "missing", "folder": folder}
        names["spec"].write_text(to_toml(spec))
        garbage = b"\x89HDF\r\n\x1a\n" + bytes(range(256))  # an HDF5 signature, then nothing
        names["garbage"].write_bytes(garbage)
        code, _, _ = run_cli(["run", str(names["spec"]), "--out", str(names["out"]), "--no-plot",
                              "--quiet"])
        assert code == 0
        before = [t.density(-1) for t in pf.load(names["out"]).values()]
        for name, value in names.items():  # the placeholders @spec@, @out@, ... become paths
            argv = [a.replace(f"@{name}@", str(value)) for a in argv]
        with _inside(folder):  # default outputs (heat.h5, out.png) land here
            code, stdout, stderr = run_cli(argv)
        if any(a in ("--help", "--version") for a in argv) and code == 0:
            assert stdout, "help or version text expected"
            return
        written = [p for p in folder.iterdir() if p.is_file() and h5py.is_hdf5(p)
                   and not (p == names["garbage"] and p.read_bytes() == garbage)]
        check_outcome(code, stderr, written)
        if "--overwrite" not in argv and "--resume" not in argv:  # an earlier file stays as it was
            after = [t.density(-1) for t in pf.load(names["out"]).values()]
            assert len(after) == len(before) and all(
                (a == b).all() for a, b in zip(after, before, strict=True))


# -- regressions the fuzzer found (each was a traceback, a hang or a second stderr line) ---------
def _spec_file(folder: Path, text: str) -> Path:
    path = folder / "spec.toml"
    path.write_text(text)
    return path


HEAT = to_toml(BASES[0])


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("cells = 8", "cells = 1000000000000",
         "grid.cells = 1000000000000 gives 1e+12 cells, more than the 2e+08 pdeflow allocates"),
        ("cells = 8", "cells = 100000000000000000000000000000",
         "gives 1e+29 cells, more than the 2e+08 pdeflow allocates; use fewer cells per axis"),
        ("mass = 1.0", "mass = 1" + "0" * 400,
         "initial.mass must be a finite number, got an integer of about 400 digits"),
        ("bounds = [[-3.0, 3.0]]", "bounds = [[0.0, 1e-300]]",
         "grid.bounds [0.0, 1e-300] with 8 cells gives cells of width 1.25e-301 on axis 0; "
         "pdeflow needs 1e-100 <= dx <= 1e+100"),
        ("bounds = [[-3.0, 3.0]]", "bounds = [[-1e308, 1e308]]", "gives cells of width inf on axis 0"),
        ("snapshots = 3", "snapshots = 1000000000000",
         "run.snapshots = 1000000000000 is more than the 100000 snapshots pdeflow stores"),
        ("max_steps = 3000", "max_steps = [1]", "fv.max_steps must be a finite number, got [1]"),
        ("max_steps = 3000", "max_steps = 1" + "0" * 400,  # was: OverflowError in math.isnan
         "fv.max_steps must be a finite number, got an integer of about 400 digits"),
        ("max_steps = 3000", "max_steps = 3000\nblowup_density = nan",
         "fv.blowup_density must be a finite number, got nan"),
        ("max_steps = 3000", "max_steps = 3000\ncfl = [1]", "fv.cfl must be a finite number, got [1]"),
        ("max_steps = 3000", "max_steps = 3000\nimplicit_factor = -1.0",
         "fv.implicit_factor must be > 0, got -1.0"),
        ("max_steps = 3000", "max_steps = 3000\ndt = 1e-300",
         "fv.dt = 1e-300 needs 1e+298 steps to reach t_end = 0.01, more than 3e+03"),
        ("n_quantiles = 64", "n_quantiles = 10000000000",
         "jko.n_quantiles = 10000000000 is more than the 1e+07 pdeflow allocates"),
        ("n_quantiles = 64", "n_quantiles = 64\ntau = 1e-300",
         "jko.tau = 1e-300 needs 1e+298 steps to reach t_end = 0.01, more than 1e+07"),
        ("n_particles = 64", "n_particles = 10000000000000",
         "particles.n_particles = 10000000000000 is more than the 1e+08 pdeflow allocates"),
        ("seed = 1", "seed = 1.5", "particles.seed must be a whole number, got 1.5"),
        ("[run]", "[run]\nx = " + "[" * 5000 + "]" * 5000,
         "TOML pdeflow cannot read (RecursionError"),
        ("mass = 1.0", "mass = 1" + "0" * 5000, "TOML pdeflow cannot read (ValueError: Exceeds the limit"),
    ],
)
def test_regression_bad_spec_values_are_refused_up_front(tmp_path, old, new, message):
    assert old in HEAT
    path = _spec_file(tmp_path, HEAT.replace(old, new, 1))
    out = tmp_path / "out.h5"
    code, _, stderr = run_cli(["run", str(path), "--out", str(out), "--no-plot", "--quiet"])
    line = check_outcome(code, stderr, out)
    assert message in line, line
    assert not out.exists()


@pytest.mark.parametrize(
    ("V", "message"),
    [
        ("9**9**9**9", "evaluating '9**9**9**9' failed (OverflowError"),  # was: hang
        ("1 << 10**10", "failed (TypeError: unsupported operand type(s) for <<: 'float' and 'float')"),
        ("'a' * 10**10", "holds the constant 'a'; an expression may use real numbers only"),
        ("-" * 3000 + "x", "the expression has 3001 characters, more than 2000"),  # was: MemoryError
        ("+".join(["0.001*x"] * 250), ""),  # 1999 characters: fine
        ("where(x)", "evaluating 'where(x)' failed (ValueError"),
        ("{1: 2}", "uses Dict; an expression may use numbers"),  # was: TypeError traceback
        ("x[0]", "uses Subscript"),
        ("1j*x", "holds the constant 1j"),  # was: a ComplexWarning line on stderr
        ("sqrt(x - 10)", "potential V = 'sqrt(x - 10)' has 10 non-finite values on the grid"),  # was: 2 lines
        ("1e400*x", "the number inf in '1e400*x' is too large for a float"),
    ],
)
def test_regression_potential_expressions(tmp_path, V, message):
    text = to_toml(BASES[1]).replace('"(x**2 - 1)**2"', json.dumps(V))
    path = _spec_file(tmp_path, text)
    out = tmp_path / "out.h5"
    code, _, stderr = run_cli(["run", str(path), "--out", str(out), "--no-plot", "--quiet",
                               "--methods", "fv"])
    line = check_outcome(code, stderr, out)
    if message:
        assert message in line, line
    else:
        assert code == 0 and pf.load(out)["fv"].status == "finished"


def test_blowup_density_inf_means_no_limit(tmp_path):
    path = _spec_file(tmp_path, HEAT.replace("max_steps = 3000", "max_steps = 3000\nblowup_density = inf", 1))
    code, _, stderr = run_cli(["run", str(path), "--out", str(tmp_path / "o.h5"), "--no-plot",
                               "--quiet", "--methods", "fv"])
    assert code == 0, stderr
    assert pf.load(tmp_path / "o.h5")["fv"].status == "finished"


def test_regression_cli_sizes_are_refused_up_front(tmp_path):
    path = _spec_file(tmp_path, HEAT)
    cases = [
        (["--cells", "99999999999999999999"], "grid.cells = 99999999999999999999 gives 1e+20 cells"),
        (["--methods", "particles", "--particles", "100000000000000"],
         "particles.n_particles = 100000000000000 is more than the 1e+08 pdeflow allocates"),
        (["--t-end", "nan"], "run.t_end must be a finite number, got nan"),
    ]
    for extra, message in cases:
        code, _, stderr = run_cli(["run", str(path), "--out", str(tmp_path / "o.h5"), "--no-plot",
                                   *extra])
        assert message in check_outcome(code, stderr, tmp_path / "o.h5")
    assert not (tmp_path / "o.h5").exists()


def test_regression_overwrite_keeps_the_old_file_when_the_new_run_cannot_start(tmp_path):
    path = _spec_file(tmp_path, HEAT)
    out = tmp_path / "out.h5"
    assert run_cli(["run", str(path), "--out", str(out), "--no-plot", "--quiet"])[0] == 0
    before = pf.load(out)["fv"].density(-1)
    bad = _spec_file(tmp_path, HEAT.replace("mean = 0.0", "mean = 100.0"))  # zero on the grid
    code, _, stderr = run_cli(["run", str(bad), "--out", str(out), "--overwrite", "--no-plot"])
    assert "gaussian: the density is zero on every cell" in check_outcome(code, stderr, out)
    assert (pf.load(out)["fv"].density(-1) == before).all()  # was: deleted before the failure
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5", "spec.toml"]


def test_regression_internal_errors_still_print_one_line(monkeypatch, capsys):
    import pdeflow.cli as cli

    def broken(args):
        raise KeyError("boom")

    monkeypatch.setattr(cli, "_cmd_presets", broken)
    assert main(["presets"]) == 2
    err = capsys.readouterr().err
    assert err == ("pdeflow: error: internal error (KeyError: 'boom'); please report it with the "
                   "command line\n")
