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
from functools import lru_cache
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
    with np.errstate(over="ignore"):
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


def as_fractions(alloys) -> np.ndarray:
    """Atomic fractions of alloys, shape (n, 30).

    Parameters
    ----------
    alloys : str, sequence of str, array-like (n, 30) or (30,), or DataFrame
        Formulas, fraction rows, or a frame with the 30 element columns (or,
        lacking them, a ``formula`` column).

    Raises
    ------
    ValueError
        A formula that cannot be read, rows of the wrong width, or rows that
        are not compositions (negative, not finite, not summing to 1).
    """
    if isinstance(alloys, str):
        return composition_vector(alloys)[None, :]
    if hasattr(alloys, "columns"):  # a DataFrame
        if set(ELEMENTS) <= set(alloys.columns):
            return alloys[list(ELEMENTS)].to_numpy(dtype=float)
        if "formula" in alloys:
            return composition_matrix(alloys["formula"])
        raise ValueError("a frame of alloys needs the 30 element columns or a 'formula' column")
    if isinstance(alloys, (list, tuple)) and alloys and all(isinstance(a, str) for a in alloys):
        return composition_matrix(alloys)
    x = np.asarray(alloys, dtype=float)
    x = x[None, :] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[1] != len(ELEMENTS):
        raise ValueError(f"fractions must have shape (n, {len(ELEMENTS)}), got {np.shape(alloys)}")
    if not np.isfinite(x).all() or (x < 0).any() or np.any(np.abs(x.sum(axis=1) - 1) > 1e-6):
        raise ValueError("fractions must be finite, non-negative, and each row must sum to 1")
    return x


#: Two compositions closer than this (at.%, see :func:`composition_distance`)
#: are the same alloy: rounding a formula to whole at.% moves it less.
SAME_ALLOY_AT_PCT = 0.5


def composition_distance(a, b) -> np.ndarray:
    """Distance between compositions in at.%: half the L1 distance, times 100.

    It is the amount of material (at.%) that must change element to turn one
    alloy into the other: 0 for the same alloy, 100 for alloys without a
    common element. ``a`` (n, 30) and ``b`` (m, 30) give an (n, m) matrix.
    """
    a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    out = np.empty((len(a), len(b)), dtype=np.float64)
    # Chunks keep the (chunk, m, 30) intermediate near 20 MB.
    chunk = max(1, 2**22 // max(1, len(b) * a.shape[1]))
    for begin in range(0, len(a), chunk):
        block = a[begin:begin + chunk, None, :] - b[None, :, :]
        out[begin:begin + chunk] = 50.0 * np.abs(block).sum(-1)
    return out


# --------------------------------------------------------------------------
# Rounding


def decimals_of(step: float) -> int:
    """Decimals needed to write multiples of ``step`` exactly (at most 6)."""
    for decimals in range(7):
        if abs(round(step, decimals) - step) < 1e-9:
            return decimals
    return 6


def formula_on_grid(amounts, step: float = 0.01) -> str:
    """Formula in at.% of amounts on a grid of ``step`` (fractions), e.g. ``Fe21Ni22Cr22Co35``.

    The amounts are written as they are (not renormalised: the authors'
    rounding may sum to 99 at.%), with the decimals the step needs; zeros are
    left out.
    """
    return write_formula(100 * np.asarray(amounts, dtype=float), decimals_of(100 * step))


def largest_remainder(values, total: int, lower=None, upper=None) -> np.ndarray:
    """Whole units summing exactly to ``total``, each as close to its value as the bounds allow.

    Largest-remainder (Hamilton) rounding: every value is rounded down (a
    value within 1e-9 of a whole number counts as it), clipped into
    ``[lower, upper]``, and the units still missing go one each to the
    largest remainders among the entries with room (a surplus is taken from
    the smallest). Ties go to the entry listed first. When the bounds leave
    no room the sum stays off ``total``; the caller checks.

    Parameters
    ----------
    values : array-like (k,)
        Target amounts in units (e.g. fractions / step, or grams / 0.001).
    total : int
        Units the result must sum to.
    lower, upper : array-like (k,), optional
        Bounds in units (default 0 and no limit).

    Returns
    -------
    numpy.ndarray of float (k,)
        Whole numbers of units.
    """
    values = np.asarray(values, dtype=float)
    low = np.zeros_like(values) if lower is None else np.asarray(lower, dtype=float)
    high = np.full_like(values, np.inf) if upper is None else np.asarray(upper, dtype=float)
    rounded = np.clip(np.floor(values + 1e-9), low, high)
    remainder = values - rounded
    missing = int(total) - int(rounded.sum())
    while missing:
        room = rounded < high if missing > 0 else rounded > low
        if not room.any():
            break
        if missing > 0:
            order = np.argsort(-np.where(room, remainder, -np.inf), kind="stable")[: min(missing, room.sum())]
            rounded[order] += 1
            remainder[order] -= 1
        else:
            order = np.argsort(np.where(room, remainder, np.inf), kind="stable")[: min(-missing, room.sum())]
            rounded[order] -= 1
            remainder[order] += 1
        missing = int(total) - int(rounded.sum())
    return rounded


def round_as_authors(fractions, step: float = 0.01) -> np.ndarray:
    """The authors' rounding of decoded compositions: every amount on its own, in float32.

    Their ``reconstruct.py`` and ``interpolate.py`` compute
    ``int(torch.round(p, decimals=2) * 100)`` in float32: round to two
    decimals, scale, truncate. The float32 product is usually the whole
    number, but a value that lands a hair below it is truncated one lower,
    and the amounts are not forced to sum to 100 (``Fe17Ni22Cr23Co25Al12``
    sums to 99 at.%); zeros drop out. The same arithmetic here gives their
    formulas.

    Parameters
    ----------
    fractions : array-like (..., 30)
        Decoded composition probabilities.
    step : float
        A power of ten (0.01: whole at.%, the authors'; 0.001: tenths).

    Returns
    -------
    numpy.ndarray
        The amounts as fractions on the step's grid (rows sum near, not
        exactly, to 1).
    """
    decimals = decimals_of(step)
    if abs(step - 10.0 ** -decimals) > 1e-12:
        raise ValueError(f"the authors' rounding takes a power-of-ten step (0.01, 0.001), got {step!r}")
    import torch

    p = torch.from_numpy(np.array(fractions, dtype=np.float32))
    if (p < 0).any():
        raise ValueError("fractions must be non-negative")
    scaled = (torch.round(p, decimals=decimals) * 10**decimals).numpy()
    return np.trunc(scaled).astype(np.float64) * step


# --------------------------------------------------------------------------
# Counting


def size_counts(lower, upper, required, total: int, max_size: int, exact: bool = True) -> np.ndarray:
    """Number of integer compositions by number of elements, by a generating function.

    Each element ``i`` with ``upper[i] > 0`` may be absent (0 units) or
    present with ``lower[i]..upper[i]`` units (``lower[i] >= 1``); required
    elements must be present. The count of alloys with ``s`` elements summing
    to ``total`` units is the coefficient of :math:`a^s t^{total}` in
    :math:`\\prod_{required} a P_i(t) \\prod_{optional} (1 + a P_i(t))`, with
    :math:`P_i(t) = t^{l_i} + \\dots + t^{u_i}`.

    Parameters
    ----------
    lower, upper : sequence of int
        Units per present element, one entry per pool element.
    required : sequence of bool
        Which pool elements must be present.
    total : int
        Units an alloy holds (``1/step``).
    max_size : int
        Largest number of elements counted.
    exact : bool
        Exact Python integers, or only whether the count is non-zero
        (booleans; fast on fine grids).

    Returns
    -------
    numpy.ndarray
        Shape (max_size + 1,): entry ``s`` counts the alloys of ``s`` elements.
    """
    # Exact counts need Python integers (they overflow int64 on fine grids);
    # telling zero from non-zero only needs reachability, counted in int64.
    dtype = object if exact else bool
    poly = np.zeros((max_size + 1, total + 1), dtype=dtype)
    poly[0, 0] = 1
    t = np.arange(total + 1)
    for low, high, must in zip(lower, upper, required):
        high = min(int(high), total)
        low = int(low)
        if low > high:
            if must:
                return np.zeros(max_size + 1, dtype=dtype)
            continue
        # Sum over the element's units u in [low, high] of poly[s-1, t-u], by prefix sums over t.
        counts = poly if exact else poly.astype(np.int64)
        prefix = np.concatenate([np.zeros((max_size + 1, 1), dtype=counts.dtype), np.cumsum(counts, axis=1)], axis=1)
        window = prefix[:, np.clip(t - low + 1, 0, total + 1)] - prefix[:, np.clip(t - high, 0, total + 1)]
        present = np.zeros_like(poly)
        present[1:] = window[:-1] if exact else window[:-1] > 0
        poly = present if must else (poly + present if exact else poly | present)
    return poly[:, total]


@lru_cache(maxsize=4096)
def count_bounded(lower: tuple, upper: tuple, total: int) -> int:
    """Integer vectors ``u`` with ``lower <= u <= upper`` summing to ``total`` (exact).

    The compositions of one element set on a grid: :func:`size_counts` with
    every element required.
    """
    k = len(lower)
    return int(size_counts(lower, upper, [True] * k, total, k)[k])
