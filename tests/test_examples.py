"""Every script of ``examples/`` runs in its short setting and writes its figure.

The short setting is the one the documentation's gallery runs (``PDEFLOW_DOCS_SHORT=1``: each
example says in its docstring what it shortens); the command line is the gallery's
(``docs/_ext/pdeflow_docs.py``: ``--out`` into a fresh folder). The documentation build in
``tests/test_docs.py`` does not run the examples; this test does, one test per example.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
from pdeflow_docs import example_argv  # noqa: E402


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_runs_in_its_short_setting_and_draws(example, tmp_path):
    from matplotlib.image import imread

    env = {**os.environ, "PDEFLOW_DOCS_SHORT": "1", "MPLBACKEND": "Agg"}
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, str(example), *example_argv(example, out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{example.name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    pngs = sorted(out.rglob("*.png"))
    assert pngs, f"{example.name} wrote no figure into {out}"
    for png in pngs:
        height, width = imread(png).shape[:2]
        assert width >= 400 and height >= 300, (png.name, width, height)
    assert not [p for p in tmp_path.iterdir() if p != out], "the example wrote outside --out"
