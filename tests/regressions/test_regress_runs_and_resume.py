"""Regressions found by the fuzz, I/O-failure and property tests, in the solver driver, resume
and spec options (each was a traceback, a wrong status or a misleading message)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import pdeflow as pf
from pdeflow.cli import main
from pdeflow.spec import validate_spec


def _heat_spec(**jko):
    return {"equation": "heat", "grid": {"bounds": [[-3.0, 3.0]], "cells": 8},
            "initial": {"kind": "gaussian", "mean": 0.0, "cov": 0.5},
            "parameters": {"D": 1.0}, "run": {"t_end": 0.01, "methods": ["jko"]}, "jko": jko}


def test_method_options_named_like_solve_arguments_are_refused():
    # was: TypeError "solve() got multiple values for argument 't_end'" (jko has no DEFAULTS)
    with pytest.raises(pf.PdeflowError) as err:
        validate_spec(_heat_spec(t_end=0), source="s.toml")
    assert str(err.value) == ("s.toml: ['t_end'] in [jko] are not jko options; set t_end and "
                              "snapshots in [run], the output file on the command line")
    known = "epsilon, max_iter, n_quantiles, scheme, solver, spacing, tau, tol"
    message = r"unknown jko option\(s\) \['taus'\] in \[jko\]; known: " + known
    with pytest.raises(pf.PdeflowError, match=message):
        validate_spec(_heat_spec(taus=0.1))


def test_numerical_breakdown_of_a_step_is_a_clear_error_and_the_run_is_marked_failed(
        tmp_path, monkeypatch):
    # was: RuntimeError "Factor is exactly singular" escaping from the implicit step (mass 5.8e306,
    # default implicit dt 1.7e-304): such a run is now refused before stepping
    grid = pf.Grid([(-4.0, 4.0), (-4.0, 4.0)], 8, periodic=[False, True])
    problem = pf.problems.keller_segel(grid, pf.uniform(grid, 5.827657793199749e306), chi=1.0)
    path = tmp_path / "ks.h5"
    with pytest.raises(pf.PdeflowError, match=r"fv would need about 5.77e\+301 steps"):
        pf.solve(problem, 0.01, snapshots=2, store=path, scheme="implicit", max_steps=3000,
                 progress=False)
    # and a step that still breaks down numerically ends the run as "failed", with a clear error
    from pdeflow.solvers.fv_implicit import LinearlyImplicit

    def singular(self, dt):
        raise RuntimeError("Factor is exactly singular")

    monkeypatch.setattr(LinearlyImplicit, "step", singular)
    tame = pf.problems.keller_segel(grid, pf.uniform(grid, 1.0), chi=1.0)
    with pytest.raises(pf.PdeflowError) as err:
        pf.solve(tame, 0.01, snapshots=2, store=path, scheme="implicit", dt=1e-3, progress=False)
    assert str(err.value).startswith("fv stopped at t=")
    assert ": the step failed numerically (RuntimeError: Factor is exactly singular); check the " \
           "magnitudes of the parameters" in str(err.value)
    back = pf.load(path)["fv"]
    assert back.status == "failed" and len(back) == 1  # the initial snapshot stays readable


def test_resume_returns_a_blown_up_run_as_it_is(tmp_path):
    # was: reopen() marked the run "running" before resume read its status, so a blown-up run
    # was continued past its blow-up (and a finished one failed on other snapshot times)
    path = tmp_path / "b.h5"
    assert main(["run", "keller-segel-blowup", "--cells", "32", "--out", str(path), "--no-plot",
                 "--quiet"]) == 0
    first = pf.load(path)["fv"]
    assert first.status == "blow-up"
    assert main(["run", "keller-segel-blowup", "--cells", "32", "--t-end", "2.0", "--out", str(path),
                 "--no-plot", "--quiet", "--resume"]) == 0
    again = pf.load(path)["fv"]
    assert again.status == "blow-up" and len(again) == len(first)
    np.testing.assert_array_equal(again.density(-1), first.density(-1))


def test_resume_of_a_method_without_restore_starts_it_again(tmp_path, capsys):
    # was: AttributeError "'JKO' object has no attribute 'restore'" (an internal error)
    path = tmp_path / "heat.h5"
    args = ["run", "heat", "--cells", "40", "--t-end", "0.05", "--methods", "jko", "--out",
            str(path), "--no-plot", "--quiet"]
    assert main(args) == 0
    reference = pf.load(path)["jko"].in_memory()  # the run is rewritten below
    with h5py.File(path, "a") as f:  # as a run killed after snapshot 4
        f["jko"].attrs["status"] = "running"
        for ds in f["jko"].values():
            if isinstance(ds, h5py.Dataset) and ds.maxshape and ds.maxshape[0] is None:
                ds.resize(5, axis=0)
    assert main([*args, "--resume"]) == 0
    assert capsys.readouterr().err == (f"pdeflow: warning: method 'jko' cannot continue from a "
                                       f"snapshot; run 'jko' in {path} starts again from t = 0\n")
    back = pf.load(path)["jko"]
    assert back.status == "finished" and len(back) == 11
    for i in range(11):  # deterministic: the same run again
        np.testing.assert_array_equal(back.density(i), reference.density(i))
