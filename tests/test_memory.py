"""Memory that does not grow with the number of snapshots: a run with a store keeps its frames on
disk, and pf.load reads them one at a time. Peak memory is measured in a fresh process."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pdeflow as pf
from pdeflow.solvers import check_memory
from pdeflow.stored_frames import StoredFrames

RUN = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    import pdeflow as pf
    n, snapshots, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    grid = pf.Grid([(-3.0, 3.0)] * 3, n)
    p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5), D=1.0)
    traj = pf.solve(p, 2e-3, snapshots=snapshots, store=path, overwrite=True, progress=False)
    frame = traj.density(-1)
    print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "frame": frame.nbytes, "mass": float(grid.integrate(frame))}))
""")

LOAD = textwrap.dedent("""
    import json, resource, sys
    import pdeflow as pf
    traj = pf.load(sys.argv[1])["fv"]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    total = sum(float(traj.density(i).sum()) for i in range(len(traj)))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"before": before, "after": after, "frames": len(traj), "total": total}))
""")


def _python(script, *args):
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True,
                         text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("n", [64])
def test_peak_memory_of_a_stored_run_does_not_grow_with_snapshots(tmp_path, n):
    few = _python(RUN, n, 2, tmp_path / "few.h5")
    many = _python(RUN, n, 101, tmp_path / "many.h5")
    frame = many["frame"]  # 2 MiB at 64³: 101 frames in memory would add 200 MiB
    # measured: peaks 247.3 and 247.8 MiB for 2 and 101 snapshots; before frames stayed on disk,
    # 280 and 448 MiB (the 99 extra frames, 198 MiB, against an allowance of 10 frames)
    assert many["peak"] - few["peak"] < 10 * frame, (few, many)
    assert many["peak"] < 1.2 * few["peak"], (few, many)
    assert abs(many["mass"] - 1) < 1e-12

    loaded = _python(LOAD, tmp_path / "many.h5")
    assert loaded["frames"] == 101
    # reading all 101 frames one by one: the peak rises by less than two frames (measured: one,
    # 2.0 MiB; pf.load itself peaked at 87 MiB, against 300 MiB when it read every frame)
    assert loaded["after"] - loaded["before"] < 2 * frame, loaded


def test_stored_and_in_memory_runs_give_the_same_frames(tmp_path):
    grid = pf.Grid([(-3.0, 3.0)] * 2, 24)
    p = pf.problems.ornstein_uhlenbeck(grid, mean=(0.5, 0.0), cov=0.4)
    memory = pf.solve(p, 0.2, snapshots=6, progress=False)
    stored = pf.solve(p, 0.2, snapshots=6, progress=False, store=tmp_path / "r.h5")
    loaded = pf.load(tmp_path / "r.h5")["fv"]
    assert isinstance(memory.frames["density"], list)
    assert isinstance(stored.frames["density"], StoredFrames)
    assert isinstance(loaded.frames["density"], StoredFrames)
    for i in range(6):
        np.testing.assert_array_equal(stored.density(i), memory.density(i))
        np.testing.assert_array_equal(loaded.density(i), memory.density(i))
    np.testing.assert_array_equal(np.asarray(loaded.frames["density"]),
                                  np.array(memory.frames["density"]))
    np.testing.assert_array_equal(loaded.frames["density"][:3][-1], memory.density(2))
    with pytest.raises(IndexError, match="out of range: the run holds 6"):
        loaded.density(6)


def test_a_trajectory_whose_run_was_overwritten_says_so(tmp_path):
    grid = pf.Grid([(-3.0, 3.0)], 30)
    p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    first = pf.solve(p, 0.1, snapshots=3, progress=False, store=tmp_path / "r.h5")
    kept = first.in_memory()
    pf.solve(p, 0.2, snapshots=3, progress=False, store=tmp_path / "r.h5", overwrite=True)
    with pytest.raises(pf.PdeflowError, match="was overwritten after this trajectory was made"):
        first.density(-1)
    np.testing.assert_array_equal(kept.density(1), pf.solve(p, 0.1, snapshots=3,
                                                             progress=False).density(1))


def test_frames_that_would_not_fit_in_memory_are_refused_before_the_run():
    grid = pf.Grid([(-3.0, 3.0)] * 2, 64)
    p = pf.problems.heat(grid, pf.gaussian(grid, 0.0, 0.5))
    from pdeflow.solvers.fv import make_stepper

    stepper = make_stepper(p, 1.0)
    frame = grid.size * 8
    check_memory(stepper, 100, available=2 * 100 * frame)  # fits
    with pytest.raises(pf.PdeflowError, match=r"pass store='run.h5' to keep the frames on disk"):
        check_memory(stepper, 100, available=100 * frame)


def test_large_frames_are_chunked_in_slabs():
    from pdeflow.storage import MAX_CHUNK, _frame_chunks

    assert _frame_chunks((40, 32)) == (1, 40, 32)  # small frames: one chunk per frame
    assert _frame_chunks((256, 256, 256)) == (1, 8, 256, 256)  # 4 MiB slabs of a 128 MiB frame
    rows = _frame_chunks((10_000_000, 3))[1]
    assert rows * 3 * 8 <= MAX_CHUNK < (rows + 1) * 3 * 8
