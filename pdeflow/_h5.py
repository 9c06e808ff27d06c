"""Opening HDF5 files, and saying what went wrong: a missing or read-only place, a file another
process is writing (the HDF5 file lock), a full disk, a file that is not HDF5 or was cut short.

Every failure becomes a :class:`~pdeflow.errors.StorageError` that names the file, the reason the
operating system gave, and what to do. :mod:`pdeflow.storage` decides what goes where in the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

import h5py

from .errors import StorageError

IO_ERRORS = (OSError, RuntimeError)  # what h5py raises when a write or a flush fails


def check_writable(path: str | os.PathLike, group: str, overwrite: bool = False) -> None:
    """Fail early, before any computing, if ``group`` cannot be written to ``path``."""
    path = Path(path)
    if path.is_dir():
        raise StorageError(f"output path {path} is a directory; give a file name such as run.h5")
    if not path.parent.exists():
        raise StorageError(f"output directory {path.parent} does not exist; create it first")
    if not os.access(path.parent, os.W_OK):
        raise StorageError(f"output directory {path.parent} is not writable; give store= a file in "
                           "another directory, or make it writable")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise StorageError(f"{path} is read-only; make it writable or write to another file")
        with open_file(path, "r") as f:
            if group in f and not overwrite:
                raise StorageError(
                    f"{path} already holds a run '{group}'; pass overwrite=True or choose another "
                    "file or run name"
                )
        check_unlocked(path)


def check_unlocked(path: str | os.PathLike) -> None:
    """Raise :class:`StorageError` if another process has ``path`` open for writing (the HDF5
    file lock); any other problem with the file is left to the caller."""
    try:
        open_file(Path(path), "r", locking=True).close()
    except StorageError as err:
        if "open for writing in another process" in str(err):
            raise
    except OSError:
        pass


def os_reason(err: OSError) -> str:
    """The operating system's words from an h5py error ("No space left on device", ...)."""
    text = str(err)
    if "error message = '" in text:
        return text.split("error message = '", 1)[1].split("'", 1)[0]
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    code = getattr(err, "errno", None)
    return os.strerror(code) if code else (" ".join(text.split()) or type(err).__name__)


def space_left(path: Path) -> int | None:
    """Bytes this process can still add to ``path``: free disk space, and the file-size limit
    (``ulimit -f``); None when neither is known.

    HDF5 does not survive a write the disk refuses in the middle of a flush (measured with
    ``ulimit -f``: the file ends before the end its superblock records and no longer opens, and
    h5py may crash at exit), so a snapshot is written only with room for it to spare.
    """
    room = []
    try:
        room.append(shutil.disk_usage(path.parent).free)
    except OSError:
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if soft != resource.RLIM_INFINITY:
            room.append(soft - (path.stat().st_size if path.exists() else 0))
    except (ImportError, OSError, ValueError):
        pass
    return min(room) if room else None


def readable(path: Path) -> bool:
    """Whether ``path`` still opens as HDF5 (after a failed write)."""
    try:
        h5py.File(path, "r", locking=False).close()
        return True
    except IO_ERRORS:
        return False


def open_file(path: Path, mode: str, locking: bool = False) -> h5py.File:
    """``h5py.File(path, mode)``; every failure becomes a :class:`StorageError` saying why.

    Readers do not take the HDF5 file lock (unless ``locking``), so a file still being written
    can be read; writers take it, so two processes never write one file.
    """
    try:
        return h5py.File(path, mode, locking=False) if mode == "r" and not locking else h5py.File(path, mode)
    except FileNotFoundError as err:
        if mode == "r":
            raise StorageError(f"{path} does not exist") from err
        raise StorageError(f"{path} cannot be created ({os_reason(err)}); write to an existing, "
                           "writable directory") from err
    except (OSError, RuntimeError) as err:
        code = getattr(err, "errno", None)
        if code in (errno.EAGAIN, errno.EWOULDBLOCK) or "unable to lock file" in str(err):
            raise StorageError(
                f"{path} is open for writing in another process (HDF5 file lock); let that run "
                "finish or close it, or write to another file"
            ) from err
        if code in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT):
            action = "created" if not path.exists() else "written"
            raise StorageError(f"{path} cannot be {action} ({os_reason(err)}); write to another "
                               "file or directory, or free space / fix permissions") from err
        reason = str(err).split("(")[0].strip()
        raise StorageError(
            f"{path} cannot be opened as HDF5 ({reason}); the file is corrupt, truncated, "
            "locked by another process, or not an HDF5 file"
        ) from err


@contextlib.contextmanager
def damaged(path):
    """Turn what h5py raises on a damaged file into a :class:`StorageError`."""
    try:
        yield
    except StorageError:
        raise
    except (*IO_ERRORS, KeyError, ValueError, TypeError) as err:
        reason = " ".join(str(err).strip("'\"").split())[:200]
        raise StorageError(f"{path} is damaged ({reason}); it was cut short by a full disk or a "
                           "crash while its structure was written, and cannot be read") from err
