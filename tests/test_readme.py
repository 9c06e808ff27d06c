"""Every fenced Python block and every ``$ `` command of README.md runs as written.

Each block runs in a fresh temporary directory (holding links to the checkout's ``examples/`` and
``data/``, as the README's commands run from a checkout): Python blocks as a script of their own
(so that ``if __name__ == "__main__":`` guards work as they do for a user), the ``$ `` commands of
one console block one after the other in one directory (later ones read what earlier ones wrote).
Skipped: the quick-start commands (``.ci/run`` runs them, in a new virtual environment: one of
them is this test suite) and a block after ``<!-- readme-test: skip (why) -->``.
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


BLOCKS = readme_blocks(README.read_text())


def test_the_readme_has_the_snippets_it_should():
    languages = [language for _, language, _, _ in BLOCKS]
    reasons = [reason for *_, reason in BLOCKS if reason]
    # not run here: the quick start (.ci/run runs it), the Dask scheduler address (a real
    # cluster), and the test suite and mutation run themselves
    assert reasons == ["run by .ci/run (the quick start)", "needs a Dask scheduler at the address",
                       "the test suite and the mutation run themselves"], reasons
    assert languages.count("python") >= 5 and languages.count("console") >= 3
    # the parser sees the quick start as .ci/run does: exactly two commands
    quick = [code for _, _, code, reason in BLOCKS if reason and reason.startswith("run by .ci")]
    assert len(quick) == 1 and len(quick[0].splitlines()) == 2


# run here: every block but the three named above (checked to be exactly those)
RUNNABLE = [block[:3] for block in BLOCKS if not block[3]]


@pytest.mark.parametrize("line, language, code", RUNNABLE,
                         ids=[f"README.md:{b[0]}-{b[1]}" for b in RUNNABLE])
def test_readme_snippet_runs(line, language, code, tmp_path):
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
            f"README.md line {line}: {command[-1]} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
