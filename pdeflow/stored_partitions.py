"""A field stored by its partitions: the particle positions of a run on Dask.

Each partition (the particles one Dask worker holds) appends its rows of every snapshot to a file
of its own, next to the run's file::

    run.h5                          /<run>/position (time, particle, dim): a virtual dataset
    run.<run>.part000.h5            /position (time, particle_0, dim)   partition 0's rows
    run.<run>.part001.h5            /position (time, particle_1, dim)   ...

and the run's group holds an HDF5 virtual dataset (VDS) that maps the partitions' rows, one after
the other, onto one ``position(time, particle, dim)``: ``pf.load(path)[run].positions(i)`` and
h5py read it like the dataset of any particle run. Its time axis is unlimited: the VDS is as long
as the partitions' files (HDF5 resolves their names relative to the run's file, so the files
move together). A snapshot is complete when the run's ``time`` has it, written after every
partition flushed its rows, as for every run (:class:`~pdeflow.storage.RunWriter`).

Two processes never write one HDF5 file: each partition file has one writer (its worker), the
run's file has the driver. The partition files are opened without the HDF5 file lock, which the
driver's handle on the VDS may hold on them while it reads.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

FIELD = "position"
COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
MAX_CHUNK = 4 << 20  # bytes of a chunk: a slab of rows of one frame


def partition_paths(path: str | os.PathLike, group: str, partitions: int) -> list[Path]:
    """The files of the partitions of run ``group`` stored in ``path``."""
    path = Path(path)
    tag = group.strip("/").replace("/", "_")
    return [path.with_name(f"{path.stem}.{tag}.part{p:03d}.h5") for p in range(partitions)]


def append_partition_frame(path: str | os.PathLike, k: int, X: np.ndarray) -> None:
    """Write frame ``k`` of one partition's rows ``X`` (n, d) to its file and flush (frame 0
    creates the file anew; frames after ``k`` are dropped)."""
    n, d = X.shape
    with h5py.File(path, "w" if k == 0 else "a", locking=False) as f:
        if FIELD not in f:
            rows = int(max(1, min(n, MAX_CHUNK // (8 * d))))
            f.create_dataset(FIELD, (0, n, d), maxshape=(None, n, d), dtype="f8",
                             chunks=(1, rows, d), **COMPRESSION)
        ds = f[FIELD]
        ds.resize(k + 1, axis=0)
        ds[k] = X


def link_partitions(group: h5py.Group, paths: list[Path], rows: list[int], d: int,
                    time: h5py.Dataset) -> h5py.Dataset:
    """The virtual dataset ``group/position`` (time, particle, dim) over the partitions' files
    (``rows[p]`` particles in ``paths[p]``), its time axis unlimited; with the dimension scales
    ``time``, ``particle`` and ``dim`` of a particle run."""
    unlimited = h5py.h5s.UNLIMITED
    N = int(sum(rows))
    layout = h5py.VirtualLayout(shape=(1, N, d), maxshape=(None, N, d), dtype="f8")
    start = 0
    for path, n in zip(paths, rows, strict=True):
        source = h5py.VirtualSource(Path(path).name, FIELD, shape=(1, n, d), maxshape=(None, n, d))
        layout[:unlimited, start:start + n, :] = source[:unlimited, :, :]
        start += n
    ds = group.create_virtual_dataset(FIELD, layout, fillvalue=np.nan)
    for name, size in (("particle", N), ("dim", d)):
        if name not in group:
            group.create_dataset(name, data=np.arange(size)).make_scale(name)
    ds.dims[0].attach_scale(time)
    ds.dims[1].attach_scale(group["particle"])
    ds.dims[2].attach_scale(group["dim"])
    return ds


def truncate_sources(ds: h5py.Dataset, n: int) -> None:
    """Drop the frames from ``n`` on in the files of the virtual dataset ``ds`` (resume: frames
    written after the last complete snapshot)."""
    folder = Path(ds.file.filename).parent
    for source in {s.file_name for s in ds.virtual_sources()}:
        path = folder / source
        if not path.exists():
            continue
        with h5py.File(path, "a", locking=False) as f:
            if FIELD in f and f[FIELD].shape[0] > n:
                f[FIELD].resize(n, axis=0)
