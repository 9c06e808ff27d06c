"""pdeflow's Sphinx helpers: generated reference pages and the gallery's hooks.

- When the build starts, ``_generated/spec_reference.md`` is written from
  ``python -m pdeflow.spec_reference`` (the table the spec validator checks against) and
  ``_generated/presets.txt`` from ``pdeflow presets``: the guide includes them, so the reference
  cannot drift from the code.
- The gallery (sphinx-gallery) runs each script of ``examples/`` with ``--out`` pointing into the
  build directory (:func:`reset_argv`) and shows the PNG files it writes there
  (:func:`scrape_pngs`): the examples draw on matplotlib's ``Figure`` without pyplot, so the
  default matplotlib scraper would see nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
OUT_ENV = "PDEFLOW_GALLERY_OUT"

# Gallery order: the equations and methods first, then sweeps, then the network experiments.
ORDER = [
    "particle_convergence.py", "grid_pinning.py", "fem_fokker_planck_lshape.py",
    "fem_keller_segel_disk.py", "sweep_grid_convergence.py", "sweep_keller_segel_mass.py",
    "mean_field_limit.py", "sweep_mean_field_widths.py", "gd_vs_gradient_flow.py",
    "mean_field_relu_widths.py", "article_w2_first_layer.py", "loss_surface_relu.py",
    "mean_field_w2_to_gaussian.py",
]


def _run(*command: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def _write_if_changed(path: Path, text: str) -> None:
    """Rewrite only on change: Sphinx then rebuilds only the pages that include it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(app) -> None:
    """Write the generated include files, and give the gallery its output directory."""
    generated = DOCS / "_generated"
    _write_if_changed(generated / "spec_reference.md", _run("-m", "pdeflow.spec_reference"))
    _write_if_changed(generated / "presets.txt", _run("-m", "pdeflow.cli", "presets"))
    out = Path(app.doctreedir).parent / "gallery_out"
    shutil.rmtree(out, ignore_errors=True)
    os.environ[OUT_ENV] = str(out)


def _out_dir(src_file) -> Path:
    out = Path(os.environ.get(OUT_ENV) or DOCS / "_build" / "gallery_out") / Path(src_file).stem
    out.mkdir(parents=True, exist_ok=True)
    return out


def example_argv(src, out: Path) -> list[str]:
    """The command line that sends an example's output into the folder ``out``.

    The sweep examples take a folder (``--out DIR``), the others the path of their figure. The
    gallery (:func:`reset_argv`) and ``tests/test_examples.py`` both run the examples so.
    """
    src = Path(src)
    return ["--out", str(out if src.stem.startswith("sweep_") else out / f"{src.stem}.png")]


def reset_argv(gallery_conf, script_vars) -> list[str]:
    """The command line of an example in the gallery: its output in the build directory."""
    src = Path(script_vars["src_file"])
    return example_argv(src, _out_dir(src))


def scrape_pngs(block, block_vars, gallery_conf) -> str:
    """Copy the PNG files an example wrote into the gallery's images, its own figure first.

    Each becomes an image that opens at full size when clicked: the wide figures are shrunk to
    the text column.
    """
    src = Path(block_vars["src_file"])
    seen = block_vars.setdefault("pdeflow_pngs", set())
    pngs = [p for p in sorted(_out_dir(src).rglob("*.png"), key=lambda p: (p.stem != src.stem, p.name))
            if p not in seen]
    rst = []
    for png, target in zip(pngs, block_vars["image_path_iterator"], strict=False):
        seen.add(png)
        shutil.copyfile(png, target)
        source = "/" + Path(os.path.relpath(target, gallery_conf["src_dir"])).as_posix()
        rst.append(f"\n.. image:: {source}\n   :alt: {png.stem}\n   :class: sphx-glr-single-img\n"
                   f"   :target: ../_images/{Path(target).name}\n")
    return "".join(rst)


class ExampleOrder:
    """Sort key of the gallery: :data:`ORDER`, then any other example by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename: str):
        return (ORDER.index(filename), "") if filename in ORDER else (len(ORDER), filename)


def setup(app):
    app.connect("builder-inited", generate, priority=400)  # before sphinx-gallery's own (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
