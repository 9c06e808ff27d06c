"""Exceptions raised by pdeflow.

Every error a user can cause is a :class:`PdeflowError`, a subclass of ``ValueError``, whose
message says what was wrong (with the offending value) and how to fix it. The command line prints
its message on one line and exits non-zero.
"""

from __future__ import annotations


class PdeflowError(ValueError):
    """Bad input or a file pdeflow cannot use; the message says what and how to fix it."""


class StorageError(PdeflowError):
    """An HDF5 file that cannot be written or read as a pdeflow file."""
