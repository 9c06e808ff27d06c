"""Every fenced Python block and every ``$ `` command of README.md and of the documentation's
Markdown pages (``docs/**/*.md``) runs as written.

Each block runs in a fresh temporary directory (holding links to the checkout's ``examples/`` and
``data/``, as the commands run from a checkout): Python blocks as a script of their own (so that
``if __name__ == "__main__":`` guards work as they do for a user), the ``$ `` commands of one
console block one after the other in one directory (later ones read what earlier ones wrote).
Skipped: the README's quick-start commands (``.ci/run`` runs them, in a new virtual environment:
one of them is this test suite) and a block after ``<!-- readme-test: skip (why) -->``; the
skipped blocks are listed below and checked to be exactly those.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GENERATED = ("_build", "_generated", "generated", "auto_examples")  # written by the docs build
DOCS = sorted(p for p in (ROOT / "docs").rglob("*.md")
              if not set(p.relative_to(ROOT / "docs").parts) & set(GENERATED))
SKIP = re.compile(r"^<!-- readme-test: skip \((.+)\) -->$")  # a line of its own, not prose


def readme_blocks(text: str) -> list[tuple[int, str, str, str | None]]:
    """``(line, language, code, skip reason)`` of every ``python`` and ``console`` fence."""
    blocks, lines = [], text.splitlines()
    quickstart, skip, k = False, None, 0
    while k < len(lines):
        line = lines[k]
        if "<!-- quickstart -->" in line:
            quickstart = True
        elif "<!-- /quickstart -->" in line:
            quickstart = False
        elif match := SKIP.match(line.strip()):
            skip = match.group(1)
        elif line.startswith("```python") or line.startswith("```console"):
            start, language = k + 1, line[3:].strip()
            end = lines.index("```", start)
            code = "\n".join(lines[start:end])
            if language == "console":
                code = "\n".join(c[2:] for c in lines[start:end] if c.startswith("$ "))
            reason = "run by .ci/run (the quick start)" if quickstart else skip
            blocks.append((start, language, code, reason))
            skip, k = None, end
        k += 1
    return blocks


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


BLOCKS = {_name(path): readme_blocks(path.read_text()) for path in [README, *DOCS]}

# Not run here, each for its reason: the quick start (.ci/run runs it), the documentation build
# (tests/test_docs.py), a real Dask scheduler, an interrupted run to resume, the test suite itself.
SKIPPED = {
    "README.md": ["run by .ci/run (the quick start)",
                  "the documentation build: tests/test_docs.py runs it"],
    "docs/index.md": ["the quick start: .ci/run runs it from README.md"],
    "docs/guide/reproducibility.md": ["needs an interrupted run in keller-segel.h5",
                                      "the test suite and the mutation run themselves"],
    "docs/guide/sweeps.md": ["needs a Dask scheduler at the address"],
}


def test_the_readme_has_the_snippets_it_should():
    blocks = BLOCKS["README.md"]
    assert [language for _, language, _, _ in blocks].count("python") >= 1
    # the parser sees the quick start as .ci/run does: exactly two commands
    quick = [code for _, _, code, reason in blocks if reason and reason.startswith("run by .ci")]
    assert len(quick) == 1 and len(quick[0].splitlines()) == 2


def test_the_skipped_blocks_are_exactly_the_listed_ones():
    skipped = {name: [reason for *_, reason in blocks if reason] for name, blocks in BLOCKS.items()}
    assert {name: reasons for name, reasons in skipped.items() if reasons} == SKIPPED


def test_the_guide_has_snippets_on_every_page_that_should():
    # every page of the guide that shows a use of pdeflow shows it in a block that runs
    runnable = {name for name, blocks in BLOCKS.items() if any(not b[3] for b in blocks)}
    for page in ("free_energy", "methods", "finite_volumes", "particles", "jko",
                 "finite_elements", "mean_field", "storage", "cli", "sweeps", "reproducibility"):
        assert f"docs/guide/{page}.md" in runnable, page
    assert "docs/index.md" in runnable


# run here: every block but the listed ones
RUNNABLE = [(name, *block[:3]) for name, blocks in BLOCKS.items() for block in blocks if not block[3]]


@pytest.mark.parametrize("source, line, language, code", RUNNABLE,
                         ids=[f"{b[0]}:{b[1]}-{b[2]}" for b in RUNNABLE])
def test_readme_snippet_runs(source, line, language, code, tmp_path):
    for name in ("examples", "data"):
        if (ROOT / name).exists():
            (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    if language == "python":
        (tmp_path / "snippet.py").write_text(code + "\n")
        commands = [[sys.executable, "snippet.py"]]
    else:
        commands = [["bash", "-euo", "pipefail", "-c", command] for command in code.splitlines()]
    for command in commands:
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, (
            f"{source} line {line}: {command[-1]} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
