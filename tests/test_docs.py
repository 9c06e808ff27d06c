"""The documentation builds with no warnings (``sphinx -W``), and has a page for every public name,
every spec key, every command and every example.

The build here does not run the gallery (``-D plot_gallery=0``): ``tests/test_examples.py`` runs
every example in the same short setting as the gallery instead, one test per example. The full
site, examples included, is ``python -m sphinx -W -b html docs docs/_build``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("sphinx", reason="the [docs] extra is not installed")
pytest.importorskip("sphinx_gallery", reason="the [docs] extra is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-D", "plot_gallery=0", "-d", str(out / "doctrees"), "docs", str(out / "html")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"sphinx -W failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return out / "html"


def test_docs_build_without_warnings(site):
    assert (site / "index.html").exists()


def test_every_public_name_has_an_api_page(site):
    import pdeflow as pf

    names = [n for n in pf.__all__ if n not in ("__version__", "kernels", "problems")]
    names += [f"problems.{n}" for n in pf.problems.__all__]
    missing = [n for n in names if not (site / "generated" / f"pdeflow.{n}.html").exists()]
    assert not missing, f"add these to docs/api.rst: {missing}"


def test_the_spec_reference_page_holds_every_key(site):
    from pdeflow.spec_reference import spec_reference

    html = (site / "guide" / "cli.html").read_text()
    rows = [line for line in spec_reference().splitlines() if line.startswith("| ") and "`" in line]
    keys = {re.search(r"`([^`]+)`", row.split("|")[2]).group(1) for row in rows}
    assert len(keys) > 40
    missing = [k for k in sorted(keys) if f'<span class="pre">{k}</span>' not in html]
    assert not missing, missing


def test_the_cli_page_documents_every_command(site):
    html = (site / "guide" / "cli.html").read_text()
    for command in ("run", "info", "plot", "compare", "presets", "sweep"):
        assert f'id="pdeflow-{command}"' in html or f"pdeflow {command}" in html, command


def test_math_is_rendered_by_mathjax(site):
    for page in ("index.html", "theory.html", "guide/free_energy.html"):
        html = (site / page).read_text()
        assert "mathjax" in html.lower(), page
        assert "$$" not in html and "\\[" in html, page  # display math became MathJax's \[ \]


def test_every_example_has_a_gallery_page(site):
    for example in sorted((ROOT / "examples").glob("*.py")):
        assert (site / "auto_examples" / f"{example.stem}.html").exists(), example.name
