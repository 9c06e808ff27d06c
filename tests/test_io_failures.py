"""Output that cannot be written: a full disk, a read-only directory or file, a file another
process holds open for writing.

Each gives a :class:`~pdeflow.StorageError` that says what happened and how to go on, the command
line prints it as one line and exits 2, and nothing written earlier is lost: the snapshots before
the failure stay readable, other runs of the file are untouched, and the run continues with
``resume`` once the problem is gone.

A full disk is simulated by making HDF5 dataset writes raise ``OSError(ENOSPC)`` from a given
frame on (a real small file system needs privileges the tests should not ask for).
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

import pdeflow as pf
from pdeflow.cli import main

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def ou1d():
    grid = pf.Grid([(-4.0, 4.0)], 48)
    return pf.problems.ornstein_uhlenbeck(grid, mean=0.5, cov=0.3)


def fill_disk_at(monkeypatch, frame: int, group: str = "fv", also_metadata: bool = False):
    """From snapshot ``frame`` of run ``group`` on, every dataset write fails with ENOSPC (and,
    with ``also_metadata``, every attribute write and flush too: nothing can be recorded)."""
    write = h5py.Dataset.__setitem__
    full = []

    def setitem(self, key, value):
        if full or (self.name == f"/{group}/density" and isinstance(key, int) and key >= frame):
            full.append(True)
            raise ENOSPC
        return write(self, key, value)

    monkeypatch.setattr(h5py.Dataset, "__setitem__", setitem)
    if also_metadata:
        set_attr, flush = h5py.AttributeManager.__setitem__, h5py.File.flush

        def attr(self, key, value):
            if full:
                raise ENOSPC
            return set_attr(self, key, value)

        def no_flush(self):
            if full:
                raise ENOSPC
            return flush(self)

        monkeypatch.setattr(h5py.AttributeManager, "__setitem__", attr)
        monkeypatch.setattr(h5py.File, "flush", no_flush)
    return full


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pdeflow: error: "), err
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]


# -- disk full --------------------------------------------------------------------------------------
def test_disk_full_keeps_earlier_frames_marks_run_failed_and_resumes(tmp_path, ou1d, monkeypatch):
    reference = pf.solve(ou1d, 0.5, snapshots=6, progress=False)
    path = tmp_path / "run.h5"
    pf.solve(ou1d, 0.5, snapshots=3, store=path, name="other", progress=False)
    other = pf.load(path)["other"]
    full = fill_disk_at(monkeypatch, frame=3)
    with pytest.raises(pf.StorageError) as err:
        pf.solve(ou1d, 0.5, snapshots=6, store=path, progress=False)
    assert full
    assert str(err.value) == (
        f"writing snapshot 3 (t=0.3) of run 'fv' to {path} failed (No space left on device); the "
        "file keeps the 3 snapshot(s) before it; free space or fix the file system, then continue "
        "with resume=True"
    )
    monkeypatch.undo()  # space freed
    runs = pf.load(path)
    assert runs["fv"].status == "failed"
    assert len(runs["fv"]) == 3  # frame 3 was cut: its time was never written
    for i in range(3):  # the same steps as the uninterrupted run: equal to round-off
        np.testing.assert_allclose(runs["fv"].density(i), reference.density(i), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(runs["other"].density(-1), other.density(-1))
    assert runs["other"].status == "finished"
    resumed = pf.solve(ou1d, 0.5, snapshots=6, store=path, progress=False, resume=True)
    assert resumed.status == "finished" and len(resumed) == 6
    back = pf.load(path)["fv"]
    assert back.status == "finished" and len(back) == 6
    for i in range(6):
        np.testing.assert_allclose(back.density(i), reference.density(i), rtol=0, atol=1e-15)


def test_disk_full_while_writing_a_checkpoint_resumes_from_the_snapshot_before(tmp_path, monkeypatch):
    # the 1D JKO run continues only from its checkpoint (the quantile map); the slot of snapshot 3
    # cannot be written: the slot of snapshot 2 stays whole, and snapshot 3 (its time is written
    # after the checkpoint) is not counted
    grid = pf.Grid([(-4.0, 4.0)], 100)
    problem = pf.problems.ornstein_uhlenbeck(grid, mean=0.5, cov=0.3)
    options = {"method": "jko", "tau": 0.01, "n_quantiles": 200}
    reference = pf.solve(problem, 0.5, snapshots=6, progress=False, **options)
    path = tmp_path / "run.h5"
    write, slots = h5py.Dataset.__setitem__, []

    def setitem(self, key, value):
        if self.name.startswith("/jko/checkpoint/slot_"):
            slots.append(self.name)
            if len(slots) == 4:
                raise ENOSPC
        return write(self, key, value)

    monkeypatch.setattr(h5py.Dataset, "__setitem__", setitem)
    with pytest.raises(pf.StorageError, match=r"^writing snapshot 3 .* the file keeps the 3 snapshot"):
        pf.solve(problem, 0.5, snapshots=6, store=path, progress=False, **options)
    monkeypatch.undo()
    assert len(pf.load(path)["jko"]) == 3
    resumed = pf.solve(problem, 0.5, snapshots=6, store=path, progress=False, resume=True, **options)
    assert resumed.meta["resumed_from"] == reference.times[2]  # from its checkpoint, not from t = 0
    back = pf.load(path)["jko"]
    assert back.status == "finished"
    for i in range(6):  # the same steps from the same stored quantile map: bitwise
        np.testing.assert_array_equal(back.density(i), reference.density(i))


def test_disk_full_for_status_too_raises_the_write_error_and_closes_the_file(tmp_path, ou1d,
                                                                             monkeypatch):
    path = tmp_path / "run.h5"
    fill_disk_at(monkeypatch, frame=2, also_metadata=True)
    with pytest.raises(pf.StorageError, match=r"^writing snapshot 2 \(t=0\.2\) of run 'fv'"):
        pf.solve(ou1d, 0.5, snapshots=6, store=path, progress=False)
    monkeypatch.undo()
    with h5py.File(path, "a") as f:  # the handle was closed: this process can open it again
        assert f["fv"].attrs["status"] == "running"  # the status could not be recorded...
    back = pf.load(path)["fv"]
    assert back.status == "running" and len(back) == 2  # ...so it reads as not finished
    np.testing.assert_allclose(back.mass, 1.0, rtol=1e-12)


def test_disk_full_when_creating_the_run_leaves_no_file_and_no_half_run(tmp_path, ou1d, monkeypatch):
    create = h5py.Group.create_dataset

    def no_space(self, *args, **kwargs):
        raise ENOSPC

    path = tmp_path / "new.h5"
    monkeypatch.setattr(h5py.Group, "create_dataset", no_space)
    with pytest.raises(pf.StorageError) as err:
        pf.solve(ou1d, 0.1, snapshots=2, store=path, progress=False)
    assert str(err.value) == (f"creating run 'fv' in {path} failed (No space left on device); free "
                              "space or fix the file system, or write to another file")
    assert not path.exists()  # the file was new: it is removed
    monkeypatch.setattr(h5py.Group, "create_dataset", create)
    kept = tmp_path / "kept.h5"
    pf.solve(ou1d, 0.1, snapshots=2, store=kept, name="a", progress=False)
    monkeypatch.setattr(h5py.Group, "create_dataset", no_space)
    with pytest.raises(pf.StorageError, match="creating run 'b' in"):
        pf.solve(ou1d, 0.1, snapshots=2, store=kept, name="b", progress=False)
    monkeypatch.undo()
    assert set(pf.load(kept)) == {"a"}  # no half-made run 'b'; run 'a' as it was
    assert pf.load(kept)["a"].status == "finished"


def test_cli_disk_full_prints_one_line_keeps_finished_runs_and_resumes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "heat.h5"
    args = ["run", "heat", "--cells", "40", "--t-end", "0.05", "--methods", "fv,jko", "--out",
            str(out), "--no-plot", "--quiet"]
    fill_disk_at(monkeypatch, frame=4, group="jko")
    assert main(args) == 2
    line = one_error_line(capsys)
    assert line == (f"pdeflow: error: writing snapshot 4 (t=0.02) of run 'jko' to {out} failed (No "
                    "space left on device); the file keeps the 4 snapshot(s) before it; free space "
                    "or fix the file system, then continue with --resume")
    monkeypatch.undo()
    runs = pf.load(out)
    assert runs["fv"].status == "finished" and len(runs["fv"]) == 11
    assert runs["jko"].status == "failed" and len(runs["jko"]) == 4
    fv = runs["fv"].density(-1)
    assert main([*args, "--resume"]) == 0
    runs = pf.load(out)
    assert runs["jko"].status == "finished" and len(runs["jko"]) == 11
    np.testing.assert_array_equal(runs["fv"].density(-1), fv)
    assert abs(runs["jko"].mass[-1] - 1.0) < 1e-12


def test_too_little_free_space_stops_before_writing_a_snapshot(tmp_path, ou1d, monkeypatch):
    """HDF5 does not survive a write refused in the middle of a flush, so a snapshot is written
    only with twice its size plus 1 MiB to spare; below that the run stops with the file whole."""
    import shutil

    path = tmp_path / "run.h5"
    usage, calls = shutil.disk_usage, []

    def nearly_full(folder):
        calls.append(folder)
        total, used, free = usage(folder)
        return type(usage(folder))(total, used, free if len(calls) <= 4 else 1000)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    with pytest.raises(pf.StorageError) as err:
        pf.solve(ou1d, 0.5, snapshots=6, store=path, progress=False)
    monkeypatch.undo()
    back = pf.load(path)["fv"]
    assert back.status == "failed" and len(back) == 4  # nothing of snapshot 4 was written
    need = 48 * 8 + 8 * (len(back.diagnostics) + 1)  # the density frame, diagnostics and time
    assert str(err.value) == (
        f"writing snapshot 4 (t=0.4) of run 'fv' to {path} failed (1000 bytes left to write (free "
        f"disk space or the file-size limit), a snapshot needs about {need}); the file keeps the 4 "
        "snapshot(s) before it; free space or fix the file system, then continue with resume=True"
    )


FILE_SIZE_LIMIT = """
import resource, signal, sys
import pdeflow as pf
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
grid = pf.Grid([(-5.0, 5.0)] * 2, 64)
p = pf.problems.ornstein_uhlenbeck(grid, mean=0.5, cov=0.3)
try:
    pf.solve(p, 1.0, snapshots=41, store=sys.argv[1], progress=False)
except pf.StorageError as err:
    print(err)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
def test_a_real_file_size_limit_stops_the_run_cleanly_and_it_resumes(tmp_path):
    """ulimit -f in a child process: the kernel itself would refuse the writes (EFBIG)."""
    path = tmp_path / "run.h5"
    limit = 1_300_000  # 1 MiB + two 32 kB frames are kept free: a few frames fit
    done = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMIT, str(path), str(limit)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr  # no crash, no traceback
    message = done.stdout.strip()
    assert message.startswith("writing snapshot ") and "bytes left to write" in message, message
    assert "the file keeps the" in message and message.endswith("then continue with resume=True")
    back = pf.load(path)["fv"]
    assert back.status == "failed" and 3 <= len(back) < 41
    assert path.stat().st_size <= limit
    np.testing.assert_allclose(back.mass, 1.0, rtol=1e-12)
    grid = pf.Grid([(-5.0, 5.0)] * 2, 64)
    p = pf.problems.ornstein_uhlenbeck(grid, mean=0.5, cov=0.3)
    resumed = pf.solve(p, 1.0, snapshots=41, store=path, progress=False, resume=True)  # no limit
    assert resumed.status == "finished" and len(pf.load(path)["fv"]) == 41
    reference = pf.solve(p, 1.0, snapshots=41, progress=False)
    np.testing.assert_allclose(pf.load(path)["fv"].density(-1), reference.density(-1), rtol=0,
                               atol=1e-15)


# -- read-only places -------------------------------------------------------------------------------
def _deny_writes_to(monkeypatch, denied):
    access = os.access

    def fake_access(path, mode, *args, **kwargs):
        if mode & os.W_OK and os.fspath(path) == os.fspath(denied):
            return False
        return access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", fake_access)


def test_read_only_directory_is_refused_before_computing(tmp_path, ou1d, monkeypatch, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    _deny_writes_to(monkeypatch, folder)  # root ignores permission bits: say what a user would see
    with pytest.raises(pf.StorageError) as err:
        pf.solve(ou1d, 0.1, store=folder / "run.h5", progress=False)
    assert str(err.value) == (f"output directory {folder} is not writable; give store= a file in "
                              "another directory, or make it writable")
    assert main(["run", "heat", "--cells", "20", "--out", str(folder / "run.h5"), "--no-plot"]) == 2
    assert one_error_line(capsys) == (f"pdeflow: error: output directory {folder} is not writable; "
                                      "give --out a file in another directory, or make it writable")
    assert list(folder.iterdir()) == []


def test_a_comparison_that_cannot_be_written_is_a_storage_error(tmp_path, ou1d):
    report = pf.compare(pf.solve(ou1d, 0.1, snapshots=2, progress=False), exact=ou1d.exact)
    path = tmp_path / "missing" / "compare.h5"
    with pytest.raises(pf.StorageError, match=f"^{re.escape(str(path))} cannot be created"):
        report.write(path)


def test_read_only_file_is_refused_and_kept(tmp_path, ou1d, monkeypatch, capsys):
    path = tmp_path / "run.h5"
    pf.solve(ou1d, 0.1, snapshots=3, store=path, progress=False)
    before = path.read_bytes()
    _deny_writes_to(monkeypatch, path)
    with pytest.raises(pf.StorageError) as err:
        pf.solve(ou1d, 0.1, store=path, name="second", progress=False)
    assert str(err.value) == f"{path} is read-only; make it writable or write to another file"
    assert main(["run", "heat", "--cells", "20", "--out", str(path), "--resume", "--no-plot"]) == 2
    assert one_error_line(capsys) == f"pdeflow: error: {path} is read-only; make it writable or " \
                                     "write to another file"
    assert path.read_bytes() == before


def test_a_file_that_cannot_be_created_says_so(tmp_path, ou1d, monkeypatch, capsys):
    # /proc takes no new files, whoever asks; os.access would let root through, so HDF5 itself fails
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: True)
    path = "/proc/pdeflow-run.h5"
    with pytest.raises(pf.StorageError) as err:
        pf.solve(ou1d, 0.1, store=path, progress=False)
    message = str(err.value)
    assert message.startswith(f"{path} cannot be created (")  # (No such file or directory) or EACCES
    assert message.endswith("write to an existing, writable directory") or message.endswith(
        "write to another file or directory, or free space / fix permissions")
    assert main(["run", "heat", "--cells", "20", "--out", path, "--no-plot"]) == 2
    assert one_error_line(capsys).startswith(f"pdeflow: error: {path} cannot be created (")


def test_output_in_a_missing_directory(tmp_path, capsys):
    out = tmp_path / "missing" / "run.h5"
    assert main(["run", "heat", "--cells", "20", "--out", str(out), "--no-plot"]) == 2
    assert one_error_line(capsys) == (f"pdeflow: error: output directory {out.parent} does not "
                                      "exist; create it first")


# -- a file another process writes ------------------------------------------------------------------
HOLD = """
import sys, time, h5py
f = h5py.File(sys.argv[1], "a")
print("open", flush=True)
sys.stdin.readline()
f.close()
"""


@pytest.fixture
def held(tmp_path, ou1d):
    """A pdeflow file with a finished run, held open for writing by another process."""
    assert os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() != "FALSE", (
        "these tests need HDF5 file locking; unset HDF5_USE_FILE_LOCKING")
    path = tmp_path / "run.h5"
    pf.solve(ou1d, 0.1, snapshots=3, store=path, progress=False)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open"
    yield path
    proc.communicate("\n", timeout=60)


LOCKED = ("{path} is open for writing in another process (HDF5 file lock); let that run finish or "
          "close it, or write to another file")


def test_file_held_by_another_writer_is_refused_before_computing(held, ou1d, monkeypatch):
    from pdeflow.solvers import fv

    built = []
    monkeypatch.setattr(fv, "FiniteVolume", lambda *a, **k: built.append(1))
    with pytest.raises(pf.StorageError) as err:
        pf.solve(ou1d, 0.1, store=held, name="second", progress=False)
    assert str(err.value) == LOCKED.format(path=held)
    assert built == []  # refused before any stepper was built
    with pytest.raises(pf.StorageError, match="open for writing in another process"):
        pf.solve(ou1d, 0.1, snapshots=3, store=held, progress=False, resume=True)


def test_cli_on_a_held_file_prints_one_line_and_keeps_it(held, capsys):
    before = pf.load(held)["fv"].density(-1)
    for extra in (["--resume"], ["--overwrite"]):  # neither may touch a file being written
        assert main(["run", "heat", "--cells", "20", "--out", str(held), "--no-plot", *extra]) == 2
        assert one_error_line(capsys) == "pdeflow: error: " + LOCKED.format(path=held)
    assert main(["info", str(held)]) == 0  # reading does not need the lock
    assert "[fv] method fv, status finished" in capsys.readouterr().out
    np.testing.assert_array_equal(pf.load(held)["fv"].density(-1), before)
    assert sorted(p.name for p in held.parent.iterdir()) == ["run.h5"]
