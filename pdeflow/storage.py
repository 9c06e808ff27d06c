"""HDF5 storage: one group per run, snapshots appended and flushed as they are computed.

Layout (netCDF-compatible through HDF5 dimension scales, so ``xarray.open_dataset(path,
group="fv", engine="h5netcdf")`` names the dimensions)::

    /                       attrs: pdeflow_version, created, problem (JSON)
    /<run>/time             (time,)            unlimited, dimension scale
    /<run>/x, y, z          (x,), ...          cell centres, dimension scales (grid runs; a kinetic
                                               run's axes: theta, v or theta1, theta2, v1, v2)
    /<run>/density          (time, x, y, z)    one frame per chunk, gzip + shuffle
    /<run>/nodes, triangles (node, xy), (triangle, vertex)   mesh runs; density (time, node)
    /<run>/position         (time, particle, dim)   particle runs
    /<run>/weight           (particle,)
    /<run>/mass, energy...  (time,)            diagnostics
    /<run>/checkpoint/      slot_0, slot_1 (byte,), crc32 (2,): the resume checkpoint (JSON)
    /<run>                  attrs: method, options (JSON), status, wall_time, axes (JSON: the
                            names of the grid's coordinate datasets; files without it: x, y, z)

A sidecar ``<file>.xmf`` (XDMF) describes the 2D/3D grid runs and the triangle-mesh runs for
ParaView (4D phase-space runs have none). Opening files and explaining their failures is
:mod:`pdeflow._h5`; the resume checkpoints are :mod:`pdeflow.checkpoints`, the tables of
``pf.compare`` stored next to the runs :mod:`pdeflow.stored_comparisons`.
"""

from __future__ import annotations

import errno
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np

from ._h5 import IO_ERRORS, check_writable, damaged, open_file, os_reason, readable, space_left
from ._version import __version__
from .checkpoints import resume_checkpoint, write_checkpoint
from .domain import is_grid, is_mesh
from .errors import StorageError
from .grid import Grid
from .stored_comparisons import is_comparison
from .stored_frames import StoredFrames
from .stored_partitions import link_partitions, partition_paths, truncate_sources
from .trajectory import FAILED, RUNNING, Trajectory
from .xdmf import write_xdmf

COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
MIN_FREE = 1 << 20  # bytes a snapshot leaves free on the disk, for the run's final status
MAX_CHUNK = 4 << 20  # bytes of a frame chunk (larger frames are chunked in slabs along their first axis)


def _json(obj) -> str:
    return json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else repr(o))


class RunWriter:
    """Streams one run into a group of an HDF5 file.

    The group is created at once with status ``running``; every :meth:`append` writes one
    snapshot and flushes; :meth:`close` records the final status. A process that dies leaves
    the finished frames and status ``running`` (read back as not finished).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        group: str,
        *,
        method: str,
        grid: Grid | None,
        problem: dict,
        options: dict,
        overwrite: bool = False,
        axis_names: tuple[str, ...] | None = None,
        field_axes: dict[str, tuple[str, ...]] | None = None,
    ):
        self.path = Path(path)
        self.group_name = group
        self.grid = grid
        self.axis_names = tuple(axis_names or (grid.axis_names if is_grid(grid) else ()))
        self.field_axes = dict(field_axes or {})  # observables along some grid axes: their names
        check_writable(self.path, group, overwrite)
        existed = self.path.exists()
        self.file = open_file(self.path, "a")
        try:
            if group in self.file:
                del self.file[group]
            root = self.file.attrs
            root["pdeflow_version"] = __version__
            root["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            root["problem"] = _json(problem)
            self.group = self.file.create_group(group)
            self.group.attrs["method"] = method
            self.group.attrs["run_id"] = self.run_id = uuid.uuid4().hex
            self.group.attrs["options"] = _json(options)
            self.group.attrs["status"] = RUNNING
            self.group.attrs["problem"] = _json(problem)
            self.time = self.group.create_dataset("time", (0,), maxshape=(None,), dtype="f8",
                                                  chunks=(256,))
            self.time.make_scale("time")
            if is_mesh(grid):
                _write_mesh(self.group, grid)
            elif grid is not None:
                for name, centres in zip(self.axis_names, grid.axes, strict=True):
                    ds = self.group.create_dataset(name, data=centres)
                    ds.make_scale(name)
                self.group.attrs["axes"] = _json(list(self.axis_names))
                self.group.attrs["bounds"] = np.asarray(grid.bounds)
                self.group.attrs["periodic"] = np.asarray(grid.periodic, dtype=np.int8)
            self.file.flush()
        except BaseException as err:
            self._abandon(existed)
            if isinstance(err, IO_ERRORS):
                raise StorageError(
                    f"creating run '{group}' in {self.path} failed ({os_reason(err)}); free space or "
                    "fix the file system, or write to another file"
                ) from err
            raise
        self.n = 0

    def _abandon(self, existed: bool) -> None:
        """Undo a run that could not be created: drop its group, or the file if it was new."""
        try:
            if existed and self.group_name in self.file:
                del self.file[self.group_name]
            self.file.close()
        except (*IO_ERRORS, KeyError):
            pass
        if not existed:
            self.path.unlink(missing_ok=True)

    @classmethod
    def reopen(cls, path: str | os.PathLike, group: str) -> RunWriter:
        """Open an unfinished run to append snapshots after its last complete one (resume)."""
        self = cls.__new__(cls)
        self.path = Path(path)
        self.group_name = group
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise StorageError(f"{path} is read-only; make it writable or write to another file")
        self.file = open_file(self.path, "a")
        if group not in self.file:
            self.file.close()
            raise StorageError(f"{path} has no run '{group}' to resume")
        self.group = self.file[group]
        self.run_id = str(self.group.attrs["run_id"]) if "run_id" in self.group.attrs else None
        self.time = self.group["time"]
        self.grid, self.axis_names = _stored_grid(self.group)
        self.field_axes = {}  # the fields of a run to resume exist already
        self.n = _complete_frames(self.group)
        self.checkpoint = resume_checkpoint(self.group, self.n)
        if self.checkpoint is not None:  # the frames after it have no checkpoint: drop them
            self.n = self.checkpoint["frame"] + 1
        self.previous_status = str(self.group.attrs.get("status", RUNNING))  # before it changes
        self._truncate(self.n)
        self.group.attrs["status"] = RUNNING
        self.file.flush()
        return self

    def _truncate(self, n: int) -> None:
        """Drop partial frames beyond the last complete snapshot (a write cut by a crash)."""
        for ds in self.group.values():
            if isinstance(ds, h5py.Dataset) and ds.is_virtual:  # the partitions' files hold it
                truncate_sources(ds, n)
            elif isinstance(ds, h5py.Dataset) and ds.maxshape[0] is None and ds.shape[0] > n:
                ds.resize(n, axis=0)

    def _create_field(self, name: str, value: np.ndarray) -> h5py.Dataset:
        g = self.group
        if name == "density" and self.grid is not None and value.shape == self.grid.shape:
            dims = ("node",) if is_mesh(self.grid) else self.axis_names
        elif name in self.field_axes and all(a in g for a in self.field_axes[name]):  # rho(time, θ)
            dims = self.field_axes[name]
        elif name == "weight" and value.ndim == 1:  # weights that change: weight(time, particle)
            if "particle" not in g:
                g.create_dataset("particle", data=np.arange(len(value))).make_scale("particle")
            dims = ("particle",)
        elif name == "position":
            n, d = value.shape
            if "particle" not in g:
                g.create_dataset("particle", data=np.arange(n)).make_scale("particle")
            if "dim" not in g:
                g.create_dataset("dim", data=np.arange(d)).make_scale("dim")
            dims = ("particle", "dim")
        else:
            dims = []
            for k, n in enumerate(value.shape):
                dname = f"{name}_{k}"
                g.create_dataset(dname, data=np.arange(n)).make_scale(dname)
                dims.append(dname)
        ds = g.create_dataset(
            name, (0, *value.shape), maxshape=(None, *value.shape), dtype="f8",
            chunks=_frame_chunks(value.shape), **COMPRESSION,
        )
        ds.dims[0].attach_scale(self.time)
        for k, dname in enumerate(dims, start=1):
            ds.dims[k].attach_scale(g[dname])
        return ds

    def frames(self, name: str) -> StoredFrames:
        """An empty on-disk view of field ``name``, counting the frames :meth:`append` stores
        (what a trajectory streamed to this file holds instead of the arrays)."""
        return StoredFrames(self.path, self.group_name, name, 0, self.run_id, self.open_group)

    def open_group(self) -> h5py.Group | None:
        """The run's group while this writer holds the file open, else None."""
        return self.group if self.file.id.valid else None

    def set_static(self, name: str, value: np.ndarray) -> None:
        """A per-run array that does not change with time (particle weights)."""
        if name == "weight" and "particle" not in self.group:
            self.group.create_dataset("particle", data=np.arange(len(value))).make_scale("particle")
        ds = self.group.create_dataset(name, data=value)
        if name == "weight":
            ds.dims[0].attach_scale(self.group["particle"])

    def append(
        self, t: float, fields: dict[str, np.ndarray], diagnostics: dict[str, float],
        checkpoint: dict | None = None,
    ):
        """Write one snapshot and flush it to disk (frames, diagnostics, checkpoint; the time last).

        ``checkpoint`` (JSON-able: random-generator state, ...) is what a stepper needs besides
        the frame to continue exactly; it is stored with the snapshot for ``resume`` (see
        :func:`pdeflow.checkpoints.write_checkpoint`).

        Raises
        ------
        StorageError
            When the write fails (disk full, ...); the snapshots written before stay readable
            (a frame cut short is not counted: its time is written last).
        """
        k = self.n
        try:
            self._append(t, fields, diagnostics, checkpoint)
        except IO_ERRORS as err:
            kept = (f"the file keeps the {k} snapshot(s) before it" if self._salvage()
                    else "the file cannot be read back")
            raise StorageError(
                f"writing snapshot {k} (t={t:.6g}) of run '{self.group_name}' to {self.path} "
                f"failed ({os_reason(err)}); {kept}; free space or fix the file system, then "
                "continue with resume=True"
            ) from err

    def _salvage(self) -> bool:
        """After a failed write: record status "failed" if the disk still takes it, close the
        file; whether it still opens."""
        try:
            self.group.attrs["status"] = FAILED
            self.file.flush()
        except IO_ERRORS:
            pass
        try:
            self.file.close()
        except IO_ERRORS:
            pass
        return readable(self.path)

    def _append(self, t, fields, diagnostics, checkpoint) -> None:
        need = sum(getattr(v, "nbytes", None) or np.asarray(v).nbytes for v in fields.values())
        need += 8 * (len(diagnostics) + 1)
        left = space_left(self.path)
        if left is not None and left < 2 * need + MIN_FREE:  # stop while the file is whole
            raise OSError(errno.ENOSPC, f"{max(left, 0)} bytes left to write (free disk space or "
                                        f"the file-size limit), a snapshot needs about {need}")
        g, k = self.group, self.n
        for name, value in fields.items():
            if hasattr(value, "partition_rows"):  # a distributed run's: its partitions write it
                paths = partition_paths(self.path, self.group_name, len(value.partition_rows))
                if name not in g:
                    link_partitions(g, paths, value.partition_rows, value.shape[1], self.time)
                value.store_partitions(paths, k)
                continue
            ds = g[name] if name in g else self._create_field(name, np.asarray(value))
            ds.resize(k + 1, axis=0)
            ds[k] = value
        for name, value in diagnostics.items():
            if name not in g:
                ds = g.create_dataset(name, (0,), maxshape=(None,), dtype="f8", chunks=(256,))
                ds.dims[0].attach_scale(self.time)
            ds = g[name]
            ds.resize(k + 1, axis=0)
            ds[k] = value
        if checkpoint is not None:  # into the slot of the snapshot before last: that one stays
            write_checkpoint(g, {"frame": k, **checkpoint})
        self.time.resize(k + 1, axis=0)
        self.time[k] = t
        self.n = k + 1
        self.file.flush()
        if self.grid is not None and 2 <= self.grid.ndim <= 3 and "density" in fields:
            write_xdmf(self.path, self.file)

    def close(self, status: str, **attrs) -> None:
        """Record ``status`` and the run attributes, and close the file (always, even on error)."""
        if not self.file.id.valid:
            return
        error = None
        try:
            self.group.attrs["status"] = status
            for key, value in attrs.items():
                self.group.attrs[key] = value if np.isscalar(value) else _json(value)
            self.file.flush()
        except IO_ERRORS as err:
            error = err
        try:
            self.file.close()
        except IO_ERRORS as err:
            error = error or err
        if error is not None:
            raise StorageError(
                f"recording the status {status!r} of run '{self.group_name}' in {self.path} failed "
                f"({os_reason(error)}); its snapshots stay readable, the run reads as not finished"
            ) from error


def _frame_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """One frame per chunk, or a slab of it along its first axis where a frame is larger than
    :data:`MAX_CHUNK`: the compression filters hold two chunk-sized buffers while a chunk is
    written, so a whole 256³ frame per chunk would cost 256 MiB of memory at every snapshot."""
    row = 8 * int(np.prod(shape[1:], dtype=np.int64))
    rows = int(min(shape[0], max(1, MAX_CHUNK // max(row, 1)))) if shape else 1
    return (1, rows, *shape[1:]) if shape else (1,)


def load(path: str | os.PathLike) -> dict[str, Trajectory]:
    """Read every run of a pdeflow HDF5 file: ``{run name: Trajectory}``.

    Raises
    ------
    StorageError
        If the file is missing, not HDF5, corrupt, or not written by pdeflow.
    """
    path = Path(path)
    if not path.exists():
        raise StorageError(f"{path} does not exist")
    runs = {}
    with open_file(path, "r") as f, damaged(path):
        _check_written_by_pdeflow(f, path)
        for name, g in f.items():
            if is_run(g):
                runs[name] = read_group(g)
    if not runs:
        raise StorageError(f"{path} holds no pdeflow runs")
    return runs


def has_run(path: str | os.PathLike, name: str) -> bool:
    """Whether the pdeflow file ``path`` holds a run ``name``: its group and attributes are read,
    no frame (False when there is no file; a file pdeflow did not write raises as in :func:`load`)."""
    path = Path(path)
    if not path.exists():
        return False
    with open_file(path, "r") as f, damaged(path):
        _check_written_by_pdeflow(f, path)
        return name in f and is_run(f[name])


def _check_written_by_pdeflow(f: h5py.File, path: Path) -> None:
    if "pdeflow_version" not in f.attrs:
        raise StorageError(f"{path} is HDF5 but was not written by pdeflow (no pdeflow_version)")


def root_attributes(path: str | os.PathLike) -> dict:
    """The attributes of the file's root group (``pdeflow_version``, ``problem``, a sweep's
    ``sweep_spec``, ...)."""
    path = Path(path)
    with open_file(path, "r") as f, damaged(path):
        return dict(f.attrs)


def create_file(path: str | os.PathLike, attributes: dict) -> None:
    """A new HDF5 file at ``path`` (replacing any file there) holding only these root attributes."""
    path = Path(path)
    try:
        with open_file(path, "w") as f:
            f.attrs.update(attributes)
    except IO_ERRORS as err:
        raise StorageError(f"creating {path} failed ({os_reason(err)}); free space or fix the file "
                           "system, or write to another directory") from err


def write_table(table, path: str | os.PathLike) -> None:
    """Write ``table`` (an ``xarray.Dataset``) to ``path`` as netCDF-4 (h5netcdf)."""
    try:
        table.to_netcdf(path, engine="h5netcdf")
    except IO_ERRORS as err:
        raise StorageError(f"writing {path} failed ({os_reason(err)}); free space or fix the file "
                           "system, or write to another directory") from err


def is_run(g) -> bool:
    """Whether ``g`` (an HDF5 object) is a run group, not a stored comparison or anything else."""
    if not isinstance(g, h5py.Group) or "method" not in g.attrs or "time" not in g:
        return False
    return not is_comparison(g)


def _complete_frames(g: h5py.Group) -> int:
    """Snapshots whose time, frame and diagnostics were all written (the time is written last)."""
    n = g["time"].shape[0]
    for ds in g.values():
        if isinstance(ds, h5py.Dataset) and ds.maxshape and ds.maxshape[0] is None:
            n = min(n, ds.shape[0])
    return n


def read_group(g: h5py.Group) -> Trajectory:
    """The run stored in the open group ``g`` (see :func:`load`); its frames stay on disk."""
    attrs = dict(g.attrs)
    n = _complete_frames(g)
    grid, axes = _stored_grid(g)
    if "triangles" in g:
        grid = _read_mesh(g)
    frames = {}
    run_id = str(attrs["run_id"]) if "run_id" in attrs else None
    for name, ds in g.items():  # density, position, and any observable field (time, ...)
        if isinstance(ds, h5py.Dataset) and ds.ndim >= 2 and _along_time(ds):
            # left on disk: read frame by frame (see StoredFrames)
            frames[name] = StoredFrames(g.file.filename, g.name, name, min(n, ds.shape[0]), run_id)
    n = min([n] + [len(v) for v in frames.values()])
    diagnostics = {}
    skip = {"time", "density", "position", "weight", "particle", "dim", *axes}
    for name, ds in g.items():
        if name in skip or not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
            continue
        if _along_time(ds):
            diagnostics[name] = ds[:n]
    meta = {}
    for key, value in attrs.items():
        if key in ("method", "status", "bounds", "periodic", "checkpoint", "run_id", "axes"):
            continue
        if isinstance(value, str) and value[:1] in "{[":
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        meta[key] = value
    return Trajectory(
        method=str(attrs["method"]),
        grid=grid,
        times=g["time"][:n],
        frames={k: v[:n] for k, v in frames.items()},
        diagnostics=diagnostics,
        status=str(attrs.get("status", RUNNING)),
        meta=meta,
        weights=g["weight"][:] if "weight" in g and g["weight"].ndim == 1 else None,
    )


def _stored_grid(g: h5py.Group) -> tuple[Grid | None, tuple[str, ...]]:
    """The grid of a stored run and the names of its coordinate datasets (attribute ``axes``;
    files written before it have x, y, z); (None, ()) for runs without a grid."""
    if "bounds" not in g.attrs:
        return None, ()
    if "axes" in g.attrs:
        names = tuple(json.loads(g.attrs["axes"]))
    else:
        names = tuple(a for a in ("x", "y", "z") if a in g)
    shape = tuple(g[a].shape[0] for a in names)
    return Grid(g.attrs["bounds"].tolist(), shape, [bool(p) for p in g.attrs["periodic"]]), names


def _along_time(ds: h5py.Dataset) -> bool:
    """Whether the first axis of ``ds`` is the run's time. A file another process is writing may
    show a dataset before its scale is attached (its name then reads None): not yet a field."""
    return bool(ds.dims[0]) and (ds.dims[0][0].name or "").endswith("/time")




def _write_mesh(group: h5py.Group, mesh) -> None:
    """Store the mesh a finite-element run lives on: node coordinates and triangles."""
    for dim, n in (("node", mesh.size), ("xy", 2), ("triangle", mesh.n_triangles), ("vertex", 3)):
        group.create_dataset(dim, data=np.arange(n)).make_scale(dim)
    for name, data, dims in (("nodes", mesh.nodes, ("node", "xy")),
                             ("triangles", mesh.triangles, ("triangle", "vertex"))):
        ds = group.create_dataset(name, data=data)
        for k, dim in enumerate(dims):
            ds.dims[k].attach_scale(group[dim])
    group.attrs["mesh"] = _json(mesh.to_dict())


def _read_mesh(group: h5py.Group):
    """The :class:`~pdeflow.mesh.Mesh` of a finite-element run, rebuilt from nodes/triangles."""
    from .mesh import Mesh

    spec = json.loads(group.attrs["mesh"]) if "mesh" in group.attrs else {}
    return Mesh(group["nodes"][:], group["triangles"][:], spec.get("kind", "user"),
                spec.get("params"))
