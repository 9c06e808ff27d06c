"""Frames that stay on disk: one field of a stored run, read from its HDF5 file frame by frame.

A run with a store streams every snapshot to the file; its :class:`~pdeflow.trajectory.Trajectory`
then keeps only the diagnostics in memory and reads a frame when it is asked for
(``traj.density(i)``, ``traj.frames["density"][i]``), so memory does not grow with the number of
snapshots. :func:`pdeflow.load` returns trajectories of the same kind.

A trajectory remembers which run it reads (the run's ``run_id`` attribute): if the run is later
overwritten in the file, reading a frame raises a :class:`~pdeflow.errors.StorageError` instead of
returning another run's data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np

from ._h5 import damaged, open_file
from .errors import StorageError


class StoredFrames(Sequence):
    """The first ``count`` frames of dataset ``group/name`` in the file ``path``.

    Indexing reads one frame (``frames[i]``, negative ``i`` counted from the end); ``frames[:n]``
    is the same kind of view on the first ``n``; iterating reads one frame at a time.
    ``np.asarray(frames)`` reads them all.

    Parameters
    ----------
    path : path of the HDF5 file
    group : str
        The run's group.
    name : str
        The field ("density", "position", or an observable).
    count : int
        How many frames the view holds.
    run_id : str, optional
        The run's identity; a mismatch on reading means the run was overwritten.
    live : callable, optional
        ``live() -> h5py.Group | None``: the run's group while its writer holds the file open
        (frames are then read through it: HDF5 does not open a file a second time in one process
        with other locking flags), None once it is closed.
    """

    def __init__(self, path: str | os.PathLike, group: str, name: str, count: int = 0,
                 run_id: str | None = None, live: Callable[[], h5py.Group | None] | None = None):
        self.path = Path(path)
        self.group = group
        self.name = name
        self.count = int(count)
        self.run_id = run_id
        self.live = live

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(self.count)
            if start == 0 and step == 1:
                return StoredFrames(self.path, self.group, self.name, stop, self.run_id, self.live)
            return [self[k] for k in range(start, stop, step)]
        k = int(index)
        if k < 0:
            k += self.count
        if not 0 <= k < self.count:
            raise IndexError(f"snapshot {index} out of range: the run holds {self.count}")
        group = self.live() if self.live is not None else None
        if group is not None:
            return np.asarray(group[self.name][k])
        with open_file(self.path, "r") as f, damaged(self.path):
            group = f.get(self.group)
            if group is None or self.name not in group:
                raise StorageError(
                    f"{self.path} no longer holds '{self.group}/{self.name}'; load the file again"
                )
            stored_id = group.attrs.get("run_id")
            if self.run_id is not None and stored_id is not None and str(stored_id) != self.run_id:
                raise StorageError(
                    f"run '{self.group}' in {self.path} was overwritten after this trajectory was "
                    "made; load the file again (pf.load) to read the new run"
                )
            return np.asarray(group[self.name][k])

    def __iter__(self) -> Iterator[np.ndarray]:
        for k in range(self.count):
            yield self[k]

    def __array__(self, dtype=None, copy=None):
        return np.asarray([self[k] for k in range(self.count)], dtype=dtype)

    def append(self, frame: np.ndarray) -> None:
        """Count one more frame (the run's writer has stored it)."""
        self.count += 1

    def __repr__(self) -> str:
        return f"<StoredFrames {self.path}:{self.group}/{self.name}, {self.count} frames>"
