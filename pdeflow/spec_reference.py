"""The reference of the TOML spec format, rendered from the declarations the validator checks.

Every row comes from :mod:`pdeflow.spec_validation` (the allowed keys :data:`TABLES`,
:data:`INITIAL`, :data:`PARAMETERS`, their kinds :data:`VALUES` and :data:`OPTION_KINDS`, the
defaults :data:`DEFAULTS`, the limits :data:`MAX_CELLS`, :data:`MAX_SNAPSHOTS`,
:data:`MAX_OPTION`, :data:`CELL_WIDTH`), from the signatures of the ``pdeflow.problems``
functions (parameter defaults) and from each method's options (``method_options``). README.md
holds a copy between ``<!-- spec-reference -->`` markers; a test checks that it equals
:func:`spec_reference`, so the documentation cannot drift from the validator. Print it with
``python -m pdeflow.spec_reference``.
"""

from __future__ import annotations

import inspect

from .spec_validation import (
    CELL_WIDTH,
    DEFAULTS,
    INITIAL,
    KNOWN_METHODS,
    MAX_CELLS,
    MAX_OPTION,
    MAX_SNAPSHOTS,
    OPTION_KINDS,
    PARAMETERS,
    VALUES,
)

KINDS = {  # a kind of value (VALUES, OPTION_KINDS) in words
    "number": "number", "positive": "number > 0", "non-negative": "number ≥ 0",
    "above 1": "number > 1", "vector": "number, or one per axis",
    "covariance": "variance > 0, or a d×d SPD matrix", "expression": "string: expression of x, y, z",
    "numbers": "non-empty list of numbers", "name": "string", "threshold": "number > 0, or inf",
    "count": "integer ≥ 1", "seed": "integer ≥ 0",
}


def _default(value) -> str:
    if value is inspect.Parameter.empty:
        return "required"
    if value is None:
        return "unset"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ", ".join(_default(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _row(*cells) -> str:
    return "| " + " | ".join(cells) + " |"


def spec_reference() -> str:
    """The Markdown table of every spec key: table, key, type, default, bounds and where it applies."""
    from . import problems
    from .solvers import method_options

    lines = ["Unset: the method chooses the value when the run starts (for `V`, `beta`: no such term).",
             "", _row("table", "key", "type", "default", "bounds, notes"), _row(*["---"] * 5)]
    lines.append(_row("(top)", "`equation`", "string", "required", ", ".join(f"`{e}`" for e in PARAMETERS)))
    lines.append(_row("(top)", "`description`", "string", '""', "free text"))
    lines.append(_row("[grid]", "`bounds`", "list of 1–3 pairs [low, high]", "required", "low < high"))
    lines.append(_row("[grid]", "`cells`", "integer ≥ 2, or one per axis", "required",
                      f"at most {MAX_CELLS:,} cells in all; cell width in "
                      f"[{CELL_WIDTH[0]:g}, {CELL_WIDTH[1]:g}]"))
    lines.append(_row("[grid]", "`periodic`", "true/false, or one per axis", "false",
                      "false: no-flux walls"))
    lines.append(_row("[initial]", "`kind`", "string", "required", ", ".join(f"`{k}`" for k in INITIAL)))
    keys = list(dict.fromkeys(k for keys in INITIAL.values() for k in keys))
    for key in keys:
        kinds = [kind for kind, allowed in INITIAL.items() if key in allowed]
        default = _default(DEFAULTS[key]) if key in DEFAULTS else "required"
        lines.append(_row("[initial]", f"`{key}`", KINDS[VALUES[key]], default,
                          "kind " + ", ".join(f"`{k}`" for k in kinds)))
    keys = list(dict.fromkeys(k for keys in PARAMETERS.values() for k in keys))
    for key in keys:
        where = []
        for equation, allowed in PARAMETERS.items():
            if key in allowed:
                parameter = inspect.signature(getattr(problems, equation)).parameters.get(key)
                default = _default(parameter.default) if parameter is not None else "required"
                where.append(f"`{equation}` ({default})")
        lines.append(_row("[parameters]", f"`{key}`", KINDS[VALUES[key]], "see notes",
                          "equation (default): " + ", ".join(where)))
    lines.append(_row("[run]", "`t_end`", "number > 0", "required", "final time"))
    lines.append(_row("[run]", "`snapshots`", "integer ≥ 2", "11", f"at most {MAX_SNAPSHOTS}"))
    lines.append(_row("[run]", "`methods`", "list of method names", '["fv"]',
                      ", ".join(f"`{m}`" for m in KNOWN_METHODS)))
    for method in KNOWN_METHODS:
        for key, default in method_options(method).items():
            kind = OPTION_KINDS.get(key)
            bound = f"at most {MAX_OPTION[key]:,}" if key in MAX_OPTION else ""
            lines.append(_row(f"[{method}]", f"`{key}`", KINDS.get(kind, "see the method"),
                              _default(default), bound))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(spec_reference(), end="")
