"""Screenshots of the built site in headless Chromium, to look at the pages as a reader does.

::

    python -m sphinx -W -b html docs docs/_build          # the site, gallery included
    python docs/screenshots.py docs/_build --out shots/    # index, an API page, a gallery page, ...

Needs a Chromium binary (Debian: ``apt install chromium``). The site loads MathJax from its CDN;
where the machine has no network, ``--mathjax PATH`` points the pages at a local copy of
MathJax's ``tex-mml-chtml.js`` (``npm install mathjax@3`` has it under ``es5/``) so that the
screenshots show rendered formulas. The pages are copied first; the build is not changed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

PAGES = ("index.html", "generated/pdeflow.solve.html", "guide/finite_volumes.html",
         "auto_examples/index.html", "auto_examples/loss_surface_relu.html", "theory.html")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--allow-file-access-from-files", "--hide-scrollbars", "--window-size=1280,1600",
         "--virtual-time-budget=10000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("site", type=Path, help="the built HTML site")
    parser.add_argument("--out", type=Path, default=Path("shots"))
    parser.add_argument("--mathjax", type=Path, help="a local tex-mml-chtml.js to use instead of the CDN")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(args.site, site)
        if args.mathjax:
            local = args.mathjax.resolve().as_uri()
            for page in site.rglob("*.html"):
                text = page.read_text()
                page.write_text(re.sub(r'src="https://[^"]*mathjax[^"]*"', f'src="{local}"', text))
        for name in PAGES:
            shot = args.out / (name.replace("/", "_").removesuffix(".html") + ".png")
            subprocess.run([args.chromium, *FLAGS, f"--user-data-dir={tmp}/profile",
                            f"--screenshot={shot.resolve()}", (site / name).as_uri()],
                           check=True, capture_output=True, timeout=120)
            print(f"wrote {shot}")


if __name__ == "__main__":
    main()
