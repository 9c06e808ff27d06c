"""Comparisons stored next to the runs: the tables of :func:`pdeflow.compare` in a group of a
pdeflow file (``Comparison.write``), read back by ``pdeflow info``.

Layout of the group (``compare``)::

    /compare                attrs: content = "comparison", w2_method, created, grid (JSON)
    /compare/time, pair, run        dimension scales (pair and run: strings)
    /compare/w2, l1, ...    (time, pair)
    /compare/energy         (time, run)

The ``content`` mark keeps it apart from the runs (:func:`pdeflow.storage.is_run`); groups written
before the mark existed are recognised by their ``pair`` table and the missing ``status``.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from ._h5 import IO_ERRORS, damaged, open_file, os_reason
from .errors import StorageError

COMPARISON = "comparison"  # the ``content`` attribute of a stored comparison


def is_comparison(g) -> bool:
    """Whether ``g`` (an HDF5 object) is a stored comparison."""
    if not isinstance(g, h5py.Group):
        return False
    return g.attrs.get("content") == COMPARISON or ("pair" in g and "status" not in g.attrs)


def write_comparison(path: str | os.PathLike, group: str, attributes: dict, scales: dict,
                     tables: dict) -> None:
    """Write a comparison to ``group`` of the HDF5 file ``path`` (replacing that group).

    ``scales``: ``{dimension: values}`` (numbers, or a list of strings); ``tables``: ``{name:
    (array, dimensions)}``; ``attributes`` go on the group after ``content``.
    """
    path = Path(path)
    try:
        with open_file(path, "a") as f:
            if group in f:
                del f[group]
            g = f.create_group(group)
            g.attrs["content"] = COMPARISON
            for key, value in attributes.items():
                g.attrs[key] = value
            datasets = {}
            for name, values in scales.items():
                strings = len(values) > 0 and isinstance(values[0], str)
                data = np.array(values, dtype=h5py.string_dtype()) if strings else values
                datasets[name] = g.create_dataset(name, data=data)
                datasets[name].make_scale(name)
            for name, (values, dims) in tables.items():
                ds = g.create_dataset(name, data=values)
                for k, dim in enumerate(dims):
                    ds.dims[k].attach_scale(datasets[dim])
    except IO_ERRORS as err:
        raise StorageError(f"writing the comparison to {path} failed ({os_reason(err)}); free space "
                           "or fix the file system, or write to another file") from err


def comparisons(path: str | os.PathLike) -> dict[str, dict]:
    """The comparisons stored in a pdeflow file: ``{group: {"method", "runs", "pairs", "times"}}``."""
    found = {}
    with open_file(Path(path), "r") as f, damaged(path):
        for name, g in f.items():
            if is_comparison(g) and "pair" in g:
                found[name] = {
                    "method": str(g.attrs.get("w2_method", g.attrs.get("method", "?"))),
                    "runs": [_text(s) for s in g["run"][()]],
                    "pairs": [_text(s) for s in g["pair"][()]],
                    "times": g["time"][()],
                }
    return found


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
