"""The reference of the TOML spec format, rendered from the declarations the validator checks.

Every row comes from :mod:`pdeflow.spec_validation` (the allowed keys :data:`TABLES`,
:data:`INITIAL`, :data:`PARAMETERS`, their kinds :data:`VALUES`, the defaults :data:`DEFAULTS`,
the limits :data:`MAX_CELLS`, :data:`MAX_SNAPSHOTS`, :data:`CELL_WIDTH`), from the signatures of
the ``pdeflow.problems`` functions (parameter defaults) and from each method's declared options
(:func:`pdeflow.methods`: kind, default, bounds, units and documentation of every option). README.md
holds a copy between ``<!-- spec-reference -->`` markers; a test checks that it equals
:func:`spec_reference`, so the documentation cannot drift from the validator. Print it with
``python -m pdeflow.spec_reference``.
"""

from __future__ import annotations

import inspect

from .solvers import methods
from .spec_validation import (
    CELL_WIDTH,
    DEFAULTS,
    INITIAL,
    MAX_CELLS,
    MAX_SNAPSHOTS,
    METRICS,
    PARAMETERS,
    VALUES,
)

KINDS = {  # a kind of value (VALUES, and the kinds of method options) in words
    "number": "number", "positive": "number > 0", "non-negative": "number ≥ 0",
    "above 1": "number > 1", "vector": "number, or one per axis",
    "covariance": "variance > 0, or a d×d SPD matrix", "expression": "string: expression of x, y, z",
    "numbers": "non-empty list of numbers", "name": "string", "threshold": "number > 0, or inf",
    "count": "integer", "seed": "integer ≥ 0", "fraction": "number in (0, 1]",
    "interval": "number", "choice": "string", "any": "number (Python: or a function)",
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
    lines.append(_row("[metric]", "`name`", "string", '"wasserstein"',
                      ", ".join(f"`{m}`" for m in METRICS) + "; the table is optional"))
    lines.append(_row("[metric]", "`rate`", "number > 0", "1", "α of the Fisher–Rao part"))
    lines.append(_row("[metric]", "`normalized`", "true/false", "true",
                      "keep the mass (false: unbalanced)"))
    lines.append(_row("[run]", "`t_end`", "number > 0", "required", "final time"))
    lines.append(_row("[run]", "`snapshots`", "integer ≥ 2", "11", f"at most {MAX_SNAPSHOTS}"))
    declared = methods()
    lines.append(_row("[run]", "`methods`", "list of method names", '["fv"]',
                      ", ".join(f"`{m}`" for m in declared)))
    for method, declaration in declared.items():
        for item in declaration.options.describe():
            lines.append(_row(f"[{method}]", f"`{item['name']}`", KINDS[item["kind"]],
                              _default(item["default"]), _option_notes(item)))
    return "\n".join(lines) + "\n"


def _option_notes(item: dict) -> str:
    """The bounds, choices, units and scope of a declared option, then its documentation."""
    notes = []
    if item["choices"]:
        notes.append(", ".join(f"`{c}`" for c in item["choices"]))
    low, high = item["low"], item["high"]
    if item["kind"] == "interval":
        notes.append(f"in [{low:g}, {high:g}]")
    elif low is not None or high is not None:
        notes.append(f"≥ {low:,}" + (f", ≤ {high:,}" if high is not None else ""))
    if item["limit"] is not None:
        notes.append(f"at most {item['limit']:,}")
    if item["units"]:
        notes.append(f"units: {item['units']}")
    if item["only"]:
        notes.append(f"{item['only']} only")
    return "; ".join(notes + [item["doc"].replace("|", "\\|")])


if __name__ == "__main__":  # pragma: no cover
    print(spec_reference(), end="")
