"""Which alloys a :class:`~hea_dvae.design.constraints.Constraints` admits, and whether any exists.

Two questions, answered from the specification alone:

- *Is there an alloy at all?* :func:`feasible_sizes` says, for every number
  of elements the constraints allow, whether some composition sums to 100 %
  within the bounds (exactly, by counting grid compositions with
  :func:`hea_dvae.compositions.size_counts`), and :func:`infeasible_message`
  says why not.
- *Does this composition satisfy them?* Every rule is one predicate in
  :data:`RULES`, with the words that describe a violation; :func:`admits`
  asks all of them, :func:`violations` reports the ones a composition breaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Callable, Iterable

import math

import numpy as np

from ..compositions import size_counts
from ..elements import ELEMENTS

if TYPE_CHECKING:  # pragma: no cover
    from .constraints import Constraints

_INDEX = {symbol: i for i, symbol in enumerate(ELEMENTS)}
#: Fractions read from text (0.05, 0.35) are compared to the grid with this slack.
GRID_TOLERANCE = 1e-9
# The exact feasibility check of continuous bounds works on a grid this fine at most.
_MAX_FEASIBILITY_UNITS = 200_000


def candidate_sizes(c: "Constraints") -> list[int]:
    """Numbers of elements to examine: ``n_elements``, else every size the pool and ``max_elements`` allow."""
    if c.n_elements is not None:
        return list(c.n_elements)
    pool = len(c.pool())
    largest = pool if c.max_elements is None else min(c.max_elements, pool)
    return list(range(max(1, len(c.required)), largest + 1))


def units_of(lower, upper, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Fraction bounds as whole grid units; a present element holds at least one unit."""
    low = np.maximum(1, np.ceil(np.asarray(lower) * total - GRID_TOLERANCE * total)).astype(int)
    high = np.floor(np.asarray(upper) * total + GRID_TOLERANCE * total).astype(int)
    return low, high


def feasible_sizes(c: "Constraints") -> dict[int, bool]:
    """Whether some alloy of each candidate size sums to 100 % within the bounds."""
    candidates = candidate_sizes(c)
    if not candidates:
        return {}
    lower, upper = c.fraction_bounds()
    pool = [_INDEX[s] for s in c.pool()]
    required = [s in c.required for s in c.pool()]
    if c.step is not None:
        total = round(1 / c.step)
    else:
        # Continuous bounds: on a grid where every bound is a whole number of units,
        # and fine enough that elements with no minimum can take a sliver, an alloy
        # exists exactly when one exists on the continuum.
        denominator = _common_denominator(np.concatenate([lower[pool], upper[pool]]))
        if denominator is None or denominator * len(pool) > _MAX_FEASIBILITY_UNITS:
            return {k: _feasible_by_sums(c, k) for k in candidates}
        total = denominator * len(pool)
    low_units, high_units = units_of(lower[pool], upper[pool], total)
    counts = size_counts(low_units, high_units, required, total, max(candidates), exact=False)
    return {k: bool(counts[k]) for k in candidates}


def _common_denominator(values: Iterable[float]) -> int | None:
    """Smallest D with every value a multiple of 1/D (values read as short decimals)."""
    denominator = 1
    for value in values:
        fraction = Fraction(value).limit_denominator(10**6)
        if abs(float(fraction) - value) > 1e-12:
            return None
        denominator = math.lcm(denominator, fraction.denominator)
        if denominator > _MAX_FEASIBILITY_UNITS:
            return None
    return denominator


def _size_range(c: "Constraints", k: int) -> tuple[float, float]:
    """Smallest and largest total the fractions of k elements can reach."""
    lower, upper = c.fraction_bounds()
    required = [_INDEX[s] for s in c.required]
    optional = [_INDEX[s] for s in c.pool() if s not in c.required]
    n_free = k - len(required)
    smallest = lower[required].sum() + np.sort(lower[optional])[:n_free].sum()
    largest = upper[required].sum() + np.sort(upper[optional])[::-1][:n_free].sum()
    return float(smallest), float(largest)


def _feasible_by_sums(c: "Constraints", k: int) -> bool:
    if k > len(c.pool()) or k < len(c.required):
        return False
    smallest, largest = _size_range(c, k)
    return smallest <= 1 + GRID_TOLERANCE and largest >= 1 - GRID_TOLERANCE


def infeasible_message(c: "Constraints", k: int) -> str:
    """Why no alloy of ``k`` elements satisfies the constraints, in words."""
    smallest, largest = _size_range(c, k)
    grid = f" on the {c.step:g} grid" if c.step is not None else ""
    if smallest > 1 + GRID_TOLERANCE:
        why = (f"at their minimum fractions the elements already sum to {smallest:.4g} > 1 "
               f"(e.g. {k} x min_fraction {c.min_fraction:g})")
    elif largest < 1 - GRID_TOLERANCE:
        why = (f"at their maximum fractions the elements sum to at most {largest:.4g} < 1 "
               f"(e.g. {k} x max_fraction {c.max_fraction:g})")
    else:
        why = "no choice of elements lets the fractions, within their bounds, sum to 1"
    return f"no {k}-element alloy can sum to 100 %{grid}: {why}"


# --------------------------------------------------------------------------
# One predicate per rule


@dataclass(frozen=True)
class _Case:
    """What every rule reads of a batch of compositions."""

    x: np.ndarray  # (n, 30)
    present: np.ndarray  # (n, 30) bool: above the tolerance
    tol: float


@dataclass(frozen=True)
class Rule:
    """A rule of the constraints: which rows satisfy it, and what a violation says.

    ``holds(c, case)`` returns a bool array (n,); ``explain(c, case, row)``
    the words for one row that breaks it.
    """

    name: str
    holds: Callable
    explain: Callable


def _on_simplex(c, case: _Case) -> np.ndarray:
    return (case.x >= -case.tol).all(axis=1) & (np.abs(case.x.sum(axis=1) - 1) <= case.tol)


def _in_pool(c, case: _Case) -> np.ndarray:
    return ~(case.present & ~c.pool_mask()).any(axis=1)


def _has_required(c, case: _Case) -> np.ndarray:
    required = [_INDEX[s] for s in c.required]
    return case.present[:, required].all(axis=1) if required else np.ones(len(case.x), dtype=bool)


def _allowed_size(c, case: _Case) -> np.ndarray:
    return np.isin(case.present.sum(axis=1), c.sizes())


def _within_bounds(c, case: _Case) -> np.ndarray:
    lower, upper = c.fraction_bounds()
    outside = (case.x < lower - case.tol) | (case.x > upper + case.tol)
    return ~(case.present & c.pool_mask() & outside).any(axis=1)


def _on_grid(c, case: _Case) -> np.ndarray:
    if c.step is None:
        return np.ones(len(case.x), dtype=bool)
    units = case.x / c.step
    return ~(case.present & (np.abs(units - np.round(units)) > case.tol / c.step)).any(axis=1)


def _bound_words(c, case: _Case, row: int) -> str:
    lower, upper = c.fraction_bounds()
    x, present = case.x[row], case.present[row] & c.pool_mask()
    bad = np.flatnonzero(present & ((x < lower - case.tol) | (x > upper + case.tol)))
    return "; ".join(f"{ELEMENTS[i]} {x[i]:.4g} outside ({lower[i]:g}, {upper[i]:g})" for i in bad)


def _grid_words(c, case: _Case, row: int) -> str:
    units = case.x[row] / c.step
    bad = np.flatnonzero(case.present[row] & (np.abs(units - np.round(units)) > case.tol / c.step))
    return "; ".join(f"{ELEMENTS[i]} {case.x[row, i]:.4g} not on the {c.step:g} grid" for i in bad)


#: The rules, in the order a violation is reported.
RULES: tuple[Rule, ...] = (
    Rule("simplex", _on_simplex,
         lambda c, case, r: f"fractions must be non-negative and sum to 1 (sum {case.x[r].sum():.6g})"),
    Rule("pool", _in_pool, lambda c, case, r: " ".join(
        ELEMENTS[i] for i in np.flatnonzero(case.present[r] & ~c.pool_mask())) + " not allowed"),
    Rule("required", _has_required, lambda c, case, r: "required " + " ".join(
        s for s in c.required if not case.present[r, _INDEX[s]]) + " missing"),
    Rule("size", _allowed_size, lambda c, case, r: f"{case.present[r].sum()} elements; allowed "
         + ", ".join(map(str, c.sizes()))),
    Rule("bounds", _within_bounds, _bound_words),
    Rule("grid", _on_grid, _grid_words),
)


def _case(x, tol: float) -> _Case:
    x = np.atleast_2d(np.asarray(x, dtype=float))
    if x.ndim != 2 or x.shape[1] != len(ELEMENTS):
        raise ValueError(f"compositions must have {len(ELEMENTS)} columns, got shape {x.shape}")
    return _Case(x, x > tol, tol)


def admits(c: "Constraints", x, tol: float = 1e-6):
    """Which compositions satisfy every rule of ``c``.

    Parameters
    ----------
    x : array-like (n, 30) or (30,)
        Atomic fractions over :data:`~hea_dvae.elements.ELEMENTS`.
    tol : float
        Slack on sums, bounds and grid; elements at or below ``tol`` count
        as absent.

    Returns
    -------
    numpy.ndarray of bool (n,), or bool for a single composition
    """
    single = np.ndim(x) == 1
    case = _case(x, tol)
    ok = np.isfinite(case.x).all(axis=1)
    for rule in RULES:
        ok &= rule.holds(c, case)
    return bool(ok[0]) if single else ok


def violations(c: "Constraints", x, tol: float = 1e-6) -> list[str]:
    """Every rule one composition breaks, in words (empty when admitted)."""
    if np.shape(x) != (len(ELEMENTS),):
        raise ValueError(f"one composition of {len(ELEMENTS)} fractions expected, got shape {np.shape(x)}")
    case = _case(x, tol)
    return [rule.explain(c, case, 0) for rule in RULES if not rule.holds(c, case)[0]]
