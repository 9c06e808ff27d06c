"""Numba loops that more than one layer uses: the bottom of the package, importing nothing of it.

- :mod:`~pdeflow._numba.cic`: the cloud-in-cell deposit and interpolation (:mod:`pdeflow.deposit`,
  the particle method through it);
- :mod:`~pdeflow._numba.features`: the two-layer network's features and their gradients at
  particles (:mod:`pdeflow.problems.mean_field`);
- :mod:`~pdeflow._numba.grid_sums`: the per-snapshot sums of a density on a grid
  (:mod:`pdeflow.energy`);
- :mod:`~pdeflow._numba.c_transform`: exact grid c-transforms and the Jacobian-formula
  push-forward (the back-and-forth JKO step and :mod:`pdeflow.ot_grid`).

A solver's own kernels stay with it (``solvers/_fv_kernels.py``, ...). Nothing here is imported at
``import pdeflow``: the modules above import these lazily, so Numba loads with the first run.
"""
