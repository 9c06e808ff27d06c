"""Resume checkpoints: the state of a run that is not a field (a random generator, the 1D JKO's
quantile map), stored with every snapshot in two CRC-checked slots written alternately in place:
``/<run>/checkpoint/slot_0``, ``slot_1`` and ``crc32``."""

from __future__ import annotations

import contextlib
import json
import zlib

import h5py
import numpy as np

from ._h5 import IO_ERRORS


def _plain(obj):
    """JSON for NumPy values (arrays as lists)."""
    return obj.tolist() if hasattr(obj, "tolist") else repr(obj)


def write_checkpoint(group: h5py.Group, checkpoint: dict) -> None:
    """Store ``checkpoint`` (JSON-able; ``frame``: the snapshot it belongs to) in a slot:
    ``/<run>/checkpoint/slot_{frame % 2}`` (uint8) holds its JSON text, NUL-padded, and
    ``/<run>/checkpoint/crc32[frame % 2]`` the CRC-32 of that text.

    A slot is overwritten in place (made anew, larger, only when the text outgrows it), so the
    file does not grow with the snapshots: HDF5 does not reclaim the space of a rewritten
    attribute, where the checkpoint was kept before. While one slot is rewritten the other keeps
    the snapshot before's; a slot cut short by a crash does not match its CRC, and one whose
    snapshot has no time (written after the checkpoint) is not that snapshot's: neither is used.
    """
    text = json.dumps(checkpoint, default=_plain).encode()
    box = group.require_group("checkpoint")
    box.require_dataset("crc32", (2,), dtype="u4")
    slot, name = checkpoint["frame"] % 2, f"slot_{checkpoint['frame'] % 2}"
    if name in box and box[name].shape[0] < len(text):
        del box[name]
    if name not in box:  # room for the counts and the floats to grow a few digits
        box.create_dataset(name, (len(text) + len(text) // 8 + 64,), dtype="u1")
    padded = np.zeros(box[name].shape, dtype="u1")
    padded[: len(text)] = np.frombuffer(text, dtype="u1")
    box[name][...] = padded
    box["crc32"][slot] = zlib.crc32(text)


def resume_checkpoint(group: h5py.Group, frames: int) -> dict | None:
    """The newest whole checkpoint of one of the first ``frames`` snapshots (None: there is none).

    It is left the only one: a slot holding a later frame's (a frame cut since, to be written
    again) is voided, and the attribute ``checkpoint`` of files written before the slots is moved
    into its slot. A slot cut short by a crash (its CRC does not match) is skipped.
    """
    texts = [(None, group.attrs["checkpoint"])] if "checkpoint" in group.attrs else []
    for slot in (0, 1):
        with contextlib.suppress(*IO_ERRORS, KeyError, ValueError):  # not written, or cut by a crash
            text = group[f"checkpoint/slot_{slot}"][()].tobytes().rstrip(b"\0")
            if zlib.crc32(text) == group["checkpoint/crc32"][slot]:
                texts.append((slot, text))
    stored = []
    for slot, text in texts:
        with contextlib.suppress(ValueError, TypeError):
            stored.append((slot, json.loads(text)))
    stored = [(slot, c) for slot, c in stored if isinstance(c, dict) and isinstance(c.get("frame"), int)]
    best = max((c for _, c in stored if c["frame"] < frames), key=lambda c: c["frame"], default=None)
    keep = frames if best is None else best["frame"] + 1
    for slot, c in stored:
        if slot is not None and c["frame"] >= keep:
            group["checkpoint/crc32"][slot] = ~group["checkpoint/crc32"][slot]
    if "checkpoint" in group.attrs:
        if best is not None:
            write_checkpoint(group, best)
            group.file.flush()  # in its slot before it leaves the attribute
        del group.attrs["checkpoint"]
    return best
