"""Checks of parameters a user gives: one place that says what a valid number is.

A parameter is refused with a :class:`TypeError` when it is not a number
of the right kind at all, and a :class:`ValueError` when it is out of range
or not finite; either message names it and shows what was given. ``True`` and ``False`` are never numbers here, although
Python counts them as integers, and neither are NaN nor infinities unless a
check allows them.
"""

from __future__ import annotations

import math
import numbers


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def is_integer(value) -> bool:
    """An integer (Python or NumPy), and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A real number (Python or NumPy), and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer in ``[minimum, maximum]``, else a ValueError naming ``name``."""
    kind = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum) if maximum is None else None
    kind = kind or ("an integer" + ("" if minimum is None and maximum is None else " " + _range(minimum, maximum)))
    if not is_integer(value):
        raise TypeError(f"{name} must be {kind}, got {_shown(value)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {kind}, got {_shown(value)}")
    return int(value)


def number(name: str, value, low: float | None = None, high: float | None = None, *,
           low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite ``float`` within the bounds, else a ValueError naming ``name``.

    ``low_open``/``high_open`` exclude the bound itself (``number("lr", x, 0,
    low_open=True)`` asks for a positive number).
    """
    kind = "a number" if low is None and high is None else f"a number {_interval(low, high, low_open, high_open)}"
    if not is_number(value):
        raise TypeError(f"{name} must be {kind}, got {_shown(value)}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name} must be {'a finite number' if kind == 'a number' else kind}, got {_shown(value)}")
    return float(value)


def _range(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"from {minimum} to {maximum}"
    return f">= {minimum}" if minimum is not None else f"<= {maximum}"


def _interval(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    return f"{'<' if high_open else '<='} {high:g}"
