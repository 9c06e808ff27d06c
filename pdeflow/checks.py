"""Small checks of user values shared by the spec validator and the method options.

A TOML file can hold an integer with 400 digits or a string where a number belongs; these helpers
tell a usable number from the rest without overflowing, and print any value short enough for a
one-line error message.
"""

from __future__ import annotations

import math

import numpy as np


def is_finite_number(value) -> bool:
    """An int or float (not a bool) that is finite as a float (TOML integers are unbounded)."""
    if isinstance(value, np.integer | np.floating):
        return bool(np.isfinite(value))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the float range
        return False


def short_repr(value, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a huge integer or string stays readable)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."
