"""The package's import graph: layers point down, private names stay home, modules stay short.

Every module of ``pdeflow`` is read with :mod:`ast` (every import, those inside functions too)
and given a layer; a module may import its own layer and the ones below, never one above:

===== ==================================================================================
0     errors, checks (of user values), _version, _numba (Numba loops several modules share)
1     grids and meshes (grid, mesh, domain), kernels, convolution, energies, initial
      densities, metrics, activations, and opening HDF5 files (_h5)
2     problems, deposits, Wasserstein distances, trajectories and everything stored:
      storage, stored_frames, stored_comparisons, checkpoints, xdmf; blow-up estimates
3     solvers (methods, steppers, the driver, ``solve``)
4     workflow: compare, convergence, network, sweep, spec, spec_validation,
      spec_reference, presets, and the plot modules (plot, plot_compare, plot_sweep,
      plot_network), which draw what the others compute
5     the front doors: cli, the package itself (``pdeflow/__init__.py``), __main__
===== ==================================================================================

No module imports another module's underscore name (``from .energy import _log_mean``, or
``module._name`` through an imported module): what two modules share is public in the lower one.
Private modules (``_h5``, ``solvers/_fv_kernels``) are imported only from within the package
that holds them. No module is longer than :data:`MAX_LINES` lines.
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1] / "pdeflow"
MAX_LINES = 500
LAYERS = {  # a module's layer: the longest matching prefix of its dotted name below pdeflow
    "errors": 0, "checks": 0, "_version": 0, "_numba": 0,
    "grid": 1, "mesh": 1, "domain": 1, "kernels": 1, "convolution": 1, "energy": 1, "initial": 1,
    "spectral": 1, "metric": 1, "activations": 1, "_h5": 1,
    "problems": 2, "deposit": 2, "wasserstein": 2, "ot_grid": 2, "trajectory": 2, "stored_frames": 2,
    "stored_partitions": 2, "stored_comparisons": 2, "checkpoints": 2, "storage": 2, "xdmf": 2, "blowup": 2,
    "solvers": 3,
    "compare": 4, "convergence": 4, "network": 4, "sweep": 4, "spec": 4, "spec_validation": 4,
    "spec_reference": 4, "presets": 4, "plot": 4, "plot_compare": 4, "plot_sweep": 4,
    "plot_network": 4, "optimizers": 4,
    "cli": 5, "": 5, "__main__": 5,
}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of the package (``pdeflow``, ``pdeflow.grid``, ...)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = ("pdeflow", *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def layer(name: str) -> int:
    """The layer of module ``name``; a module missing from :data:`LAYERS` fails the test."""
    parts = name.split(".")[1:]
    if not parts:
        return LAYERS[""]
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in LAYERS:
            return LAYERS[".".join(parts[:k])]
    raise AssertionError(f"module {name} has no layer: add it to LAYERS in {__file__}")


def imports(name: str, path: Path, known: dict[str, Path]):
    """``(line, imported module, imported name or None, text)`` for every import of pdeflow in
    the module, and ``(line, module, name, text)`` for every underscore name read through a module
    it imported (``pk._corner``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    aliases: dict[str, str] = {}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pdeflow":
                    found.append((node.lineno, alias.name, None, f"import {alias.name}"))
                    if alias.asname:
                        aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "pdeflow":
                continue
            for alias in node.names:
                text = f"from {'.' * node.level}{node.module or ''} import {alias.name}"
                submodule = f"{target}.{alias.name}"
                if submodule in known:  # ``from . import grid``: the module pdeflow.grid
                    found.append((node.lineno, submodule, None, text))
                    aliases[alias.asname or alias.name] = submodule
                else:
                    found.append((node.lineno, target, alias.name, text))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases):
            module = aliases[node.value.id]
            if private(node.attr) and f"{module}.{node.attr}" not in known:
                found.append((node.lineno, module, node.attr, f"{node.value.id}.{node.attr}"))
    return found


def private(word: str) -> bool:
    return word.startswith("_") and not (word.startswith("__") and word.endswith("__"))


def violations(root: Path = ROOT) -> list[str]:
    """What breaks the rules of the module docstring, one line each."""
    known = modules(root)
    found = []
    for name, path in known.items():
        where = f"{path.relative_to(root.parent)}"
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            found.append(f"{where}: {lines} lines (at most {MAX_LINES})")
        own = layer(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for line, module, imported, text in imports(name, path, known):
            if module not in known:
                found.append(f"{where}:{line}: {text}: no module {module}")
                continue
            if layer(module) > own:
                found.append(f"{where}:{line}: {text}: layer {own} imports layer {layer(module)} "
                             f"({module})")
            parts = module.split(".")
            for k, part in enumerate(parts):  # a private module: only from inside its package
                holder = ".".join(parts[:k])
                if private(part) and not (package == holder or package.startswith(holder + ".")):
                    found.append(f"{where}:{line}: {text}: {'.'.join(parts[:k + 1])} is private "
                                 f"to {holder}")
                    break
            if imported is not None and private(imported) and module != name:
                found.append(f"{where}:{line}: {text}: {imported} is private to {module}")
    return found


def test_layers_point_down_private_names_stay_home_and_modules_are_short():
    assert violations() == []


def test_an_upward_import_or_a_reach_for_a_private_name_is_caught(tmp_path):
    """The check itself, on a copy of the package with three faults planted in it."""
    copy = tmp_path / "pdeflow"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for module, line in (("grid.py", "def _late():\n    from .storage import load\n"),
                         ("spec.py", "from .energy import _face_pairs\n"),
                         ("deposit.py", "from .solvers import _fv_kernels\n"),
                         ("_numba/cic.py", "x = 1\n" * MAX_LINES)):
        path = copy / module
        path.write_text(path.read_text() + "\n" + line)
    found = "\n".join(violations(copy))
    assert len(violations(copy)) == 5, found
    assert "grid.py:" in found and "from .storage import load: layer 1 imports layer 2" in found
    assert "from .energy import _face_pairs: _face_pairs is private to pdeflow.energy" in found
    assert ("from .solvers import _fv_kernels: layer 2 imports layer 3 (pdeflow.solvers._fv_kernels)"
            in found)
    assert "from .solvers import _fv_kernels: pdeflow.solvers._fv_kernels is private to " \
           "pdeflow.solvers" in found
    assert f"pdeflow/_numba/cic.py: {len((copy / '_numba/cic.py').read_text().splitlines())} lines" \
           in found


def test_every_module_has_a_layer_and_a_new_one_must_be_given_one(tmp_path):
    assert all(0 <= layer(name) <= 5 for name in modules())
    with pytest.raises(AssertionError, match="module pdeflow.newcomer has no layer"):
        layer("pdeflow.newcomer")


def _factories():
    import numpy as np

    import pdeflow as pf

    grid = pf.Grid([(-4.0, 4.0)], 40)
    rho0 = pf.gaussian(grid, 0.0, 0.5)
    x = np.linspace(-1.0, 1.0, 8)
    square = pf.Grid([(-2.0, 2.0)] * 2, 16)
    return {
        "heat": lambda: pf.problems.heat(grid, rho0, exact_gaussian=(0.0, 0.5, 1.0)),
        "fokker_planck": lambda: pf.problems.fokker_planck(grid, rho0, V=lambda x: x**2),
        "ornstein_uhlenbeck": lambda: pf.problems.ornstein_uhlenbeck(grid, mean=0.5, cov=0.3),
        "porous_medium": lambda: pf.problems.porous_medium(grid, None, t0=0.1),
        "keller_segel": lambda: pf.problems.keller_segel(square, pf.gaussian(square, (0.0, 0.0), 1.0)),
        "network_grid": lambda: pf.problems.mean_field_network(
            x, np.abs(x), grid=square, rho0=pf.gaussian(square, (0.0, 0.0), 0.3)),
        "network_particles": lambda: pf.problems.mean_field_network(
            x, np.abs(x), theta0=np.zeros((10, 2))),
    }


@pytest.mark.parametrize("factory", sorted(_factories()))
def test_problems_set_only_their_declared_fields(factory):
    """A problem is what its dataclass declares: no attribute bolted on after construction."""
    import dataclasses

    problem = _factories()[factory]()
    assert set(vars(problem)) == {f.name for f in dataclasses.fields(problem)}


def test_the_version_is_the_packaging_version():
    from pdeflow._version import __version__

    with open(ROOT.parent / "pyproject.toml", "rb") as f:
        assert tomllib.load(f)["project"]["version"] == __version__
