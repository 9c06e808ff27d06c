"""The ``pdeflow`` command: run presets or TOML specs, inspect, plot and compare HDF5 runs.

::

    pdeflow run PRESET|SPEC.toml [--out FILE] [--t-end T] [--cells N] [--snapshots N]
                                 [--methods fv,particles] [--particles N] [--seed N] [--dt DT]
                                 [--tau TAU] [--epsilon EPS] [--option [METHOD.]NAME=VALUE ...]
                                 [--overwrite] [--resume] [--no-plot] [--quiet]
    pdeflow info FILE
    pdeflow plot FILE [--out PNG]
    pdeflow compare FILE [--out PNG]
    pdeflow presets [PRESET [--toml]]
    pdeflow sweep PRESET|SPEC.toml --param NAME=V1,V2,... [--param ...] [--seeds N] [--zip]
                                   [--workers N | --scheduler ADDRESS] [--out DIR] [--overwrite]

Every method of a run is checked against the problem before the first one starts; a particle
run without ``--seed`` uses seed 0 (recorded with the run's options, see ``pdeflow info``).

Every user error (bad arguments, unknown preset, bad spec, unreadable file, ...) prints one line
``pdeflow: error: <message>`` to stderr and exits with status 2; Ctrl-C exits with status 130
after saying which snapshots the output file keeps. The library's messages name its arguments
(``overwrite=True``); printed here they name the flags (``--overwrite``, see :func:`in_flags`).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from .domain import is_mesh
from .errors import PdeflowError

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130
DEFAULT_SEED = 0  # of the particles method when neither the spec nor --seed sets one


class _UsageError(Exception):
    """A bad command line (raised instead of argparse's print-usage-and-exit)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def main(argv: list[str] | None = None) -> int:
    """Run the ``pdeflow`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise _UsageError("give a command: run, info, plot, compare, presets or sweep "
                              "(see 'pdeflow --help')")
        with warnings.catch_warnings(record=True) as caught:  # shown after success, one line each
            warnings.simplefilter("always", UserWarning)  # pdeflow's own, every call
            code = args.handler(args) or 0
        for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught
                                     if not issubclass(w.category, RuntimeWarning)):
            print(f"pdeflow: warning: {message}", file=sys.stderr)
        return code
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("pdeflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `pdeflow info run.h5 | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (_UsageError, PdeflowError, ValueError, OSError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        if isinstance(err, PdeflowError):
            message = in_flags(message)
        print(f"pdeflow: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # a bug, still one line: the fuzz tests fail on "internal error"
        message = " ".join(f"{type(err).__name__}: {err}".split())
        print(f"pdeflow: error: internal error ({message[:300]}); please report it with the "
              "command line", file=sys.stderr)
        return EXIT_USAGE


FLAGS = {  # the library's errors name a Python argument; the command line's, the flag setting it
    "store=": "--out", "out_dir=": "--out", "overwrite=True": "--overwrite", "resume=True": "--resume",
}


def in_flags(message: str) -> str:
    """A library error message in the command line's words (:data:`FLAGS`)."""
    for argument, flag in FLAGS.items():
        message = message.replace(argument, flag)
    return message


def _build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = _Parser(prog="pdeflow", description="Wasserstein gradient flows: run, inspect, plot.")
    parser.add_argument("--version", action="version", version=f"pdeflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run a preset or a TOML spec into an HDF5 file (and a PNG)",
                         epilog=_method_options_help(),
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("spec", metavar="PRESET|SPEC.toml")
    run.add_argument("--out", type=Path, help="HDF5 output (default: <preset or spec stem>.h5)")
    run.add_argument("--t-end", type=float, help="final time (overrides run.t_end)")
    run.add_argument("--cells", type=int, help="cells per axis (overrides grid.cells)")
    run.add_argument("--methods", help="comma-separated methods, e.g. fv,particles: fv, particles and jko "
                                       "solve grid problems (every preset and spec; 'pdeflow presets' "
                                       "lists each one's); fem needs a mesh (Python API: pf.Mesh)")
    run.add_argument("--particles", type=int, metavar="N", help="n_particles of the particles method")
    run.add_argument("--seed", type=int, metavar="N",
                     help=f"seed of the particles method (default {DEFAULT_SEED}, recorded in the file)")
    run.add_argument("--dt", type=float, help="fixed time step of every method of the run that has one "
                                              "(fv, particles, fem)")
    run.add_argument("--tau", type=float, help="JKO step tau (method jko)")
    run.add_argument("--epsilon", type=float, help="entropic regularisation of the JKO step "
                                                   "(method jko, solver entropic; accepts its blur)")
    run.add_argument("--snapshots", type=int, metavar="N",
                     help="number of snapshots (overrides run.snapshots)")
    run.add_argument("--option", action="append", default=[], metavar="[METHOD.]NAME=VALUE",
                     help="a method option, e.g. --option fv.scheme=implicit or --option cfl=0.5 (every "
                          "method of the run that has it); repeat for more; 'pdeflow presets NAME "
                          "--toml' lists them")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    run.add_argument("--resume", action="store_true",
                     help="continue the unfinished runs of --out from their last snapshot")
    run.add_argument("--no-plot", action="store_true", help="do not write <out stem>.png")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    run.set_defaults(handler=_cmd_run)

    info = sub.add_parser("info", help="describe the runs of an HDF5 file")
    info.add_argument("file", type=Path)
    info.set_defaults(handler=_cmd_info)

    plot = sub.add_parser("plot", help="plot every run of an HDF5 file")
    plot.add_argument("file", type=Path)
    plot.add_argument("--out", type=Path, help="PNG output (default: <file stem>.png)")
    plot.set_defaults(handler=_cmd_plot)

    compare = sub.add_parser("compare", help="compare the runs of a file (and the exact solution)")
    compare.add_argument("file", type=Path)
    compare.add_argument("--out", type=Path, help="PNG output (default: <file stem>_compare.png)")
    compare.set_defaults(handler=_cmd_compare)

    presets = sub.add_parser("presets", help="list the preset problems, or print one as a TOML spec")
    presets.add_argument("name", nargs="?", metavar="PRESET", help="one preset")
    presets.add_argument("--toml", action="store_true",
                         help="print the preset as an editable TOML spec (with every method option)")
    presets.set_defaults(handler=_cmd_presets)

    sweep = sub.add_parser("sweep", help="run a spec over parameter values (Dask), gather one table")
    sweep.add_argument("spec", metavar="PRESET|SPEC.toml")
    sweep.add_argument("--param", action="append", required=True, metavar="NAME=V1,V2,...",
                       help="a swept parameter: short name (mass, cells, chi, t_end, ...) or dotted "
                            "spec path (initial.mass); repeat for more")
    sweep.add_argument("--seeds", type=int, metavar="N", help="an ensemble of N seeds (particles)")
    sweep.add_argument("--zip", action="store_true", help="pair the i-th values instead of all combinations")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="local Dask workers (default 2; 0: serial)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://host:8786")
    sweep.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: sweep-<stem>)")
    sweep.add_argument("--overwrite", action="store_true", help="rerun every run, replacing its file")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=_cmd_sweep)
    return parser


# -- commands ----------------------------------------------------------------------------------
def _cmd_run(args) -> int:
    from .spec import apply_overrides, load_spec, run_spec

    spec = load_spec(args.spec)
    if args.t_end is not None or args.cells is not None:
        spec = apply_overrides(spec, t_end=args.t_end, cells=args.cells)
    if args.snapshots is not None:
        spec = {**spec, "run": {**spec["run"], "snapshots": args.snapshots}}
    methods = None
    if args.methods is not None:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise _UsageError(f"--methods {args.methods!r} names no method; e.g. --methods fv")
    options = _method_options(args, methods or spec["run"]["methods"], spec)
    out = args.out if args.out is not None else Path(f"{Path(args.spec).stem}.h5")
    png = out.with_suffix(".png")
    _check(spec, methods, options)  # before any file is touched
    if out.is_dir():
        raise PdeflowError(f"--out {out} is a directory; give a file name such as run.h5")
    if args.resume and args.overwrite:
        raise _UsageError("--resume and --overwrite exclude each other")
    replaced = []  # (old file, its backup): put back if the new run fails before writing a file
    if out.exists() and not args.resume:
        if not args.overwrite:
            raise PdeflowError(f"{out} exists; pass --overwrite to replace it, or --out another file")
        from ._h5 import check_unlocked

        check_unlocked(out)  # never replace a file another process is writing
        for old in (out, out.with_suffix(".xmf")):
            if old.exists():
                replaced.append((old, old.with_name(f".{old.name}.replaced")))
                os.replace(*replaced[-1])
    try:
        runs = run_spec(spec, out, methods=methods, progress=False if args.quiet else None,
                        method_options=options, resume=args.resume)
    except KeyboardInterrupt:
        print(f"pdeflow: run interrupted; {_kept(out)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        new_file = out.exists()
        for old, backup in replaced:
            if new_file:
                backup.unlink(missing_ok=True)
            else:
                os.replace(backup, old)
    if not args.no_plot:
        from .plot import plot_file

        plot_file(out, png)
    if not args.quiet:
        for name, traj in runs.items():
            print(_summary(name, traj))
        written = [out] + [p for p in (out.with_suffix(".xmf"),) if p.exists()]
        written += [] if args.no_plot else [png]
        print(f"wrote {', '.join(map(str, written[:-1]))} and {written[-1]}" if len(written) > 1
              else f"wrote {out}")
    return 0


def _method_options_help() -> str:
    """Every method's options with their defaults (the epilog of ``pdeflow run --help``), read
    from the methods' declarations."""
    import textwrap

    from .solvers import methods

    lines = ["method options (--option METHOD.NAME=VALUE, or a [METHOD] table of the spec;",
             "unset: chosen when the run starts):"]
    for name, declared in methods().items():
        items = ", ".join(f"{k}={'unset' if v is None else repr(v)}"
                          for k, v in declared.options.defaults().items())
        lines += textwrap.wrap(f"{name}: {items}", width=100, initial_indent="  ",
                               subsequent_indent="      ")
    return "\n".join(lines)


def _method_options(args, methods: list[str], spec: dict) -> dict[str, dict]:
    """The method options of the command line (``--particles``, ``--seed``, ``--dt``, ``--tau``,
    ``--epsilon``, ``--option``), ``{method: {name: value}}``, checked against the declarations."""
    from .solvers import methods as declared

    for m in methods:
        if m not in declared():
            raise _UsageError(f"unknown or unavailable method {m!r} in run.methods; available: "
                              f"{', '.join(declared())}")
    known = {m: declared()[m].options.defaults() for m in methods}
    options: dict[str, dict] = {}

    def put(method, name, value, flag):
        if method not in methods:
            raise _UsageError(f"{flag} sets an option of {method!r}, which is not among the methods "
                              f"{methods}; add it with --methods")
        if name not in known[method]:
            raise _UsageError(f"{flag}: {method} has no option {name!r}; its options: "
                              f"{', '.join(sorted(known[method]))}")
        options.setdefault(method, {})[name] = value

    def put_all(name, value, flag):
        takers = [m for m in methods if name in known[m]]
        if not takers:
            raise _UsageError(f"{flag}: no method of this run ({', '.join(methods)}) has an option "
                              f"{name!r}")
        for m in takers:
            put(m, name, value, flag)

    if args.particles is not None:
        if args.particles < 1:
            raise _UsageError(f"--particles must be a positive integer, got {args.particles}")
        if "particles" not in methods:
            raise _UsageError("--particles needs the particles method; add --methods fv,particles")
        put("particles", "n_particles", args.particles, "--particles")
    if args.seed is not None:
        put("particles", "seed", args.seed, "--seed")
    for flag, name, value in (("--dt", "dt", args.dt), ("--tau", "tau", args.tau),
                              ("--epsilon", "epsilon", args.epsilon)):
        if value is not None:
            put_all(name, value, f"{flag} {value}")
    for text in args.option:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise _UsageError(f"--option {text!r} must look like NAME=VALUE or METHOD.NAME=VALUE, "
                              "e.g. fv.scheme=implicit")
        value = _parse_value(raw)
        method, dot, name = key.strip().rpartition(".")
        if dot:
            put(method, name, value, f"--option {text}")
        else:
            put_all(name, value, f"--option {text}")
    if "particles" in methods and "seed" not in {**spec.get("particles", {}),
                                                 **options.get("particles", {})}:
        put("particles", "seed", DEFAULT_SEED, "the default seed")
    return options


def _parse_value(text: str):
    """A command-line value read as JSON (``10``, ``2.5``, ``true``, ``[1, 2]``), else a string."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip()


def _check(spec, methods, options) -> None:
    """Validate what :func:`run_spec` would run, without touching any file."""
    from .solvers import check_methods
    from .spec import build_problem, validate_spec

    spec = {**spec, **{m: {**spec.get(m, {}), **o} for m, o in options.items()}}
    if methods is not None:
        spec["run"] = {**spec["run"], "methods": methods}
    spec = validate_spec(spec)
    check_methods(build_problem(spec), spec["run"]["methods"])


def _status(traj) -> str:
    """A run's status in words: "not finished" for a run still marked running; the blow-up time."""
    status = "not finished" if traj.status == "running" else traj.status
    return status + (f" at t={float(traj.meta['blowup_time']):.4g}" if "blowup_time" in traj.meta else "")


def _summary(name: str, traj) -> str:
    parts = [f"{name:<10} {_status(traj):<22} {len(traj):>4} snapshots"]
    mass = traj.diagnostics.get("mass")
    if mass is not None and len(mass) and mass[0] != 0:
        parts.append(f"mass drift {np.max(np.abs(mass - mass[0])) / abs(mass[0]):.1e}")
    energy = traj.diagnostics.get("energy")
    if energy is not None and len(energy):
        parts.append(f"energy {energy[0]:.5g} -> {energy[-1]:.5g} ({energy[-1] - energy[0]:+.3g})")
    parts.append(f"wall {traj.wall_time:.2f} s")
    return "  ".join(parts)


def _cmd_info(args) -> int:
    from .storage import load
    from .stored_comparisons import comparisons

    runs = load(args.file)
    first = next(iter(runs.values()))
    problem = first.meta.get("problem", {})
    equation = problem.get("name", "?") if isinstance(problem, dict) else "?"
    print(f"{args.file}: {len(runs)} run(s), equation {equation}")
    for name, traj in runs.items():
        print(f"[{name}] method {traj.method}, status {_status(traj)}")
        times = traj.times
        span = f"t = {times[0]:.4g} .. {times[-1]:.4g}" if len(times) else "no times"
        print(f"  snapshots {len(traj)} ({span}), wall time {traj.wall_time:.3g} s")
        options = traj.meta.get("options")
        if isinstance(options, dict) and options:
            print("  options " + ", ".join(f"{k}={v}" for k, v in options.items() if v is not None))
        for key in ("time_scheme", "spatial_scheme", "scheme_choice", "solver"):
            if key in traj.meta:
                print(f"  {key.replace('_', ' '):<14} {traj.meta[key]}")
        if "entropic_diffusion_fraction" in traj.meta:
            fraction = float(traj.meta["entropic_diffusion_fraction"])
            flag = " (above the 5 % threshold)" if traj.meta.get("blur_exceeds_threshold") else ""
            print(f"  entropic blur  adds {fraction:.1%} of D{flag}")
        if traj.grid is not None:
            print(f"  {_describe_domain(traj.grid)}")
        mass = traj.diagnostics.get("mass")
        if mass is not None and len(mass) and mass[0] != 0:
            print(f"  mass drift     {np.max(np.abs(mass - mass[0])) / abs(mass[0]):.2e} (relative)")
        for key, values in traj.diagnostics.items():
            if len(values):
                print(f"  {key:<14} {np.min(values):.6g} .. {np.max(values):.6g}"
                      f" (first {values[0]:.6g}, last {values[-1]:.6g})")
    for name, c in comparisons(args.file).items():
        times = c["times"]
        span = f"t = {times[0]:.4g} .. {times[-1]:.4g}" if len(times) else "no times"
        print(f"[{name}] comparison of {', '.join(c['runs'])} at {len(times)} times ({span}); "
              f"pairs {', '.join(c['pairs'])}")
        print(f"  {c['method']}")
    return 0


def _describe_domain(g) -> str:
    """One line for the grid or the mesh a run lives on."""
    bounds = " x ".join(f"[{a:g}, {b:g}]" for a, b in g.bounds)
    if is_mesh(g):
        return (f"mesh {getattr(g, 'kind', 'user')}: {g.size} nodes, {g.n_triangles} triangles "
                f"in {bounds}, h = {g.h:.3g}")
    walls = ["periodic" if p else "walls" for p in g.periodic]
    return f"grid {' x '.join(map(str, g.shape))} cells on {bounds}, {', '.join(walls)}"


def _cmd_plot(args) -> int:
    from .plot import plot_file

    out = args.out if args.out is not None else args.file.with_suffix(".png")
    plot_file(args.file, out)
    print(f"wrote {out}")
    return 0


def _cmd_compare(args) -> int:
    from .compare import compare
    from .spec import exact_from_file
    from .storage import load

    runs = load(args.file)
    exact = exact_from_file(args.file)
    report = compare(*runs.values(), exact=exact)
    print(str(report))
    out = args.out if args.out is not None else args.file.with_name(f"{args.file.stem}_compare.png")
    report.plot(out)
    print(f"wrote {out}" + (" (against the exact solution)" if exact is not None else ""))
    return 0


def _cmd_presets(args) -> int:
    from .presets import describe_presets, preset_methods, preset_toml

    if args.name is not None:
        if args.toml:
            print(preset_toml(args.name), end="")
        else:
            from .presets import get_preset

            get_preset(args.name)  # raises for an unknown name, listing the presets
            items = dict(describe_presets())
            key = args.name.replace("_", "-")
            print(f"{key}  {items[key]}\nmethods: {', '.join(preset_methods(key))}\n"
                  f"(pdeflow presets {key} --toml prints it as a TOML spec)")
        return 0
    if args.toml:
        raise _UsageError("--toml needs a preset name, e.g. pdeflow presets heat --toml")
    items = describe_presets()
    width = max(len(name) for name, _ in items)
    for name, description in items:
        print(f"{name:<{width}}  {description}")
        print(f"{'':<{width}}  methods: {', '.join(preset_methods(name))}")
    return 0


def _cmd_sweep(args) -> int:
    from .sweep import SweepWarning, format_table, sweep

    if args.workers is not None and args.workers < 0:
        raise _UsageError(f"--workers must be >= 0, got {args.workers}")
    parameters = dict(_parse_param(text) for text in args.param)
    if len(parameters) < len(args.param):
        raise _UsageError(f"--param names a parameter twice: {args.param}")
    out = args.out if args.out is not None else Path(f"sweep-{Path(args.spec).stem}")
    with warnings.catch_warnings():  # failed runs are in the table, with their error
        warnings.simplefilter("ignore", SweepWarning)
        table = sweep(args.spec, parameters, seeds=args.seeds, client=args.scheduler,
                      mode="zip" if args.zip else "product", out_dir=out, workers=args.workers,
                      progress=not args.quiet, overwrite=args.overwrite, figure=out / "sweep.png")
    print(format_table(table))
    failed = int((table.status == "failed").sum())
    print(f"wrote {out / 'sweep.nc'} and {out / 'sweep.png'} ({table.status.size} runs, {failed} failed)")
    return 1 if failed else 0


def _parse_param(text: str) -> tuple[str, list]:
    """``--param NAME=V1,V2,...`` as ``(NAME, [V1, V2, ...])``; a value is read as JSON (``10``,
    ``2.5``, ``[32, 64]``, ``true``), else kept as a string."""
    import re

    name, sep, rest = text.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise _UsageError(f"--param {text!r} must look like NAME=V1,V2,... e.g. mass=10,20,30")
    parts = re.split(r",(?![^\[]*\])", rest)  # at the commas outside brackets
    return name.strip(), [_parse_value(part) for part in parts]


def _kept(out: Path) -> str:
    """What the output file keeps after an interrupted run, in words."""
    if not Path(out).exists():
        return f"no snapshots were written to {out}"
    from .storage import load

    try:
        runs = load(out)
    except PdeflowError:
        return f"{out} holds no complete snapshot"
    kept = []
    for name, traj in runs.items():
        end = f" up to t={traj.times[-1]:.4g}" if len(traj) else ""
        kept.append(f"{name}: {len(traj)} snapshots{end} ({traj.status})")
    return f"{out} keeps " + "; ".join(kept)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
