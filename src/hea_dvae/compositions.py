"""Compositions: reading formulas, writing them, and vectors over the 30 elements.

An alloy is a vector of atomic fractions over :data:`ELEMENTS` (the
dataset's order). This module is the only one that turns text into such a
vector (:func:`composition_vector`) and a vector back into text
(:func:`write_formula`).

The formula reader is our own, not pymatgen's: it runs in time linear in the
length of the formula (a parser that rescans nested groups is quadratic,
which lets one long line stall a command for minutes), it refuses anything
it does not understand instead of guessing, and it imports nothing heavy, so
that ``hea-dvae predict`` starts quickly. It reads what metallurgists write:
``CoCrFeMnNi``, ``Al0.5CoCrFeNi``, ``Al.3CoCrFeNi``, ``Ti25Zr25Nb25Ta25``,
``(CoCrFeNi)90Al10``, ``[(FeCoNi)0.8Cr0.2]95Al5``, ``AlCoCrFeNi2.1``,
amounts in scientific notation (``Fe1e-2Ni``) and blanks between parts.
"""

from __future__ import annotations

import math
import re
from typing import Iterable

import numpy as np

from .elements import ELEMENTS

#: Longest formula read, in characters: 30 elements with long amounts and
#: a few groups fit easily; a longer text is not a formula.
MAX_FORMULA_LENGTH = 1000

#: Characters of a bad formula quoted in an error message.
_QUOTED = 60

_INDEX = {symbol: i for i, symbol in enumerate(ELEMENTS)}

#: Every element symbol of the periodic table (to tell "unknown symbol" from
#: "an element outside the 30 this package models").
PERIODIC_TABLE = frozenset("""
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr
Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm
Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No
Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og
""".split())

_TOKEN = re.compile(
    r"(?P<symbol>[A-Z][a-z]*)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<open>[(\[])"
    r"|(?P<close>[)\]])"
    r"|(?P<space>\s+)"
)
_CLOSING = {"(": ")", "[": "]"}


def quoted(text: str, limit: int = _QUOTED) -> str:
    """``repr`` of user text, cut to ``limit`` characters (a 10 MB line is not echoed)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text):,} characters)"


def parse_formula(formula: str) -> dict[str, float]:
    """Amount of each element written in a formula, in the order first written.

    Amounts are relative (``Al0.5CoCrFeNi`` gives Al 0.5, Co 1, ...); a group
    ``(...)n`` multiplies what it holds by ``n``; an element written twice is
    counted twice.

    Raises
    ------
    TypeError
        ``formula`` is not a string.
    ValueError
        An empty or over-long formula, a character or symbol that is not
        part of a formula, unbalanced brackets, or an amount that is zero or
        not finite; the message quotes the formula (cut short) and says where.
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, got {type(formula).__name__}")
    if len(formula) > MAX_FORMULA_LENGTH:
        raise ValueError(f"formula {quoted(formula)} is longer than the {MAX_FORMULA_LENGTH:,} characters "
                         "a formula may have")
    if not formula.strip():
        raise ValueError("empty formula: give a composition such as 'CoCrFeMnNi'")
    stack: list[tuple[str, dict[str, float]]] = [("", {})]
    last: dict[str, float] | None = None  # what a following number multiplies
    position = 0
    for match in _TOKEN.finditer(formula):
        if match.start() != position:
            break
        position = match.end()
        kind, text = match.lastgroup, match.group()
        if kind == "space":
            continue
        if kind == "number":
            if last is None:
                raise ValueError(f"cannot parse formula {quoted(formula)}: amount {text!r} at position "
                                 f"{match.start() + 1} follows no element or group")
            amount = float(text)
            if not math.isfinite(amount):
                raise ValueError(f"formula {quoted(formula)}: amount {text!r} is not a finite number")
            _scale(last, amount)
            _merge(stack[-1][1], last)
            last = None
            continue
        if last is not None:
            _merge(stack[-1][1], last)
            last = None
        if kind == "symbol":
            if text not in PERIODIC_TABLE:
                raise ValueError(f"formula {quoted(formula)}: unknown element symbol {text!r}")
            last = {text: 1.0}
        elif kind == "open":
            stack.append((text, {}))
        else:
            if len(stack) == 1 or _CLOSING[stack[-1][0]] != text:
                raise ValueError(f"cannot parse formula {quoted(formula)}: unbalanced {text!r} at position "
                                 f"{match.start() + 1}")
            _, last = stack.pop()
            if not last:
                raise ValueError(f"cannot parse formula {quoted(formula)}: empty brackets at position "
                                 f"{match.start() + 1}")
    if position != len(formula):
        raise ValueError(f"cannot parse formula {quoted(formula)}: unexpected character "
                         f"{formula[position]!r} at position {position + 1}")
    if len(stack) > 1:
        raise ValueError(f"cannot parse formula {quoted(formula)}: {stack[-1][0]!r} is never closed")
    if last is not None:
        _merge(stack[-1][1], last)
    amounts = stack[0][1]
    zero = [symbol for symbol, amount in amounts.items() if amount == 0]
    if zero:
        raise ValueError(f"formula {quoted(formula)}: zero amount for {', '.join(zero)}; leave the element out")
    if not all(math.isfinite(amount) for amount in amounts.values()):
        raise ValueError(f"formula {quoted(formula)}: the amounts multiply to a number that is not finite")
    return amounts


def _scale(amounts: dict[str, float], factor: float) -> None:
    """Multiply every amount in place."""
    for symbol in amounts:
        amounts[symbol] *= factor


def _merge(into: dict[str, float], amounts: dict[str, float]) -> None:
    """Add ``amounts`` to ``into`` in place."""
    for symbol, amount in amounts.items():
        into[symbol] = into.get(symbol, 0.0) + amount


def composition_vector(formula: str) -> np.ndarray:
    """Atomic fractions of a formula over :data:`ELEMENTS`.

    Parameters
    ----------
    formula : str
        A formula as :func:`parse_formula` reads it; amounts are relative.

    Returns
    -------
    numpy.ndarray
        Shape (30,), non-negative, summing to 1.

    Raises
    ------
    ValueError
        As :func:`parse_formula`; also an element outside the 30, or an
        amount so small beside the others that its fraction is zero.
    """
    amounts = parse_formula(formula)
    outside = [symbol for symbol in amounts if symbol not in _INDEX]
    if outside:
        raise ValueError(
            f"formula {quoted(formula)}: {', '.join(outside)} not among the 30 supported "
            f"elements ({' '.join(ELEMENTS)})"
        )
    vector = np.zeros(len(ELEMENTS))
    for symbol, amount in amounts.items():
        vector[_INDEX[symbol]] = amount
    total = vector.sum()
    if not math.isfinite(total):
        raise ValueError(f"formula {quoted(formula)}: the amounts add up to a number that is not finite")
    vector /= total
    vanished = [symbol for symbol in amounts if vector[_INDEX[symbol]] == 0]
    if vanished:
        raise ValueError(f"formula {quoted(formula)}: the amount of {', '.join(vanished)} is too small beside "
                         "the others to be represented")
    return vector


def composition_matrix(formulas: Iterable[str]) -> np.ndarray:
    """Stack :func:`composition_vector` over formulas; shape (n, 30)."""
    formulas = list(formulas)
    if not formulas:
        return np.zeros((0, len(ELEMENTS)))
    return np.stack([composition_vector(f) for f in formulas])


def write_amount(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals, trailing zeros after the point dropped (``20.50`` -> ``20.5``)."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def write_formula(percent, decimals: int = 0, drop_below: float | None = None) -> str:
    """Formula in at.% from amounts over :data:`ELEMENTS`, e.g. ``Fe20Ni20Cr20Co20Mn20``.

    Parameters
    ----------
    percent : array-like (30,)
        Amount of each element in at.% (not renormalised: a rounding that
        sums to 99 is written as such).
    decimals : int
        Decimals of each amount (trailing zeros dropped, never a whole
        number's own zeros: ``Co20`` stays ``Co20``).
    drop_below : float, optional
        Leave out elements below this amount; by default those that are
        written as zero.
    """
    percent = np.asarray(percent, dtype=float).reshape(-1)
    if percent.shape[0] != len(ELEMENTS):
        raise ValueError(f"need {len(ELEMENTS)} amounts, got {percent.shape[0]}")
    parts = []
    for symbol, value in zip(ELEMENTS, percent):
        text = write_amount(value, decimals)
        keep = value >= drop_below if drop_below is not None else float(text) > 0
        if keep:
            parts.append(symbol + text)
    return "".join(parts)


def formula_from_vector(fractions, digits: int = 1, min_percent: float = 0.5) -> str:
    """Readable formula in at.% from a fraction vector, e.g. ``Co20Cr20Fe20Mn20Ni20``.

    The fractions are renormalised to 100 at.%; elements below
    ``min_percent`` at.% are left out; amounts are rounded to ``digits``
    decimals (trailing zeros after the decimal point dropped).
    """
    fractions = np.asarray(fractions, dtype=float)
    return write_formula(100 * fractions / fractions.sum(), digits, drop_below=min_percent)
