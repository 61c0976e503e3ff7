"""Putting compositions inside the constraints: projection and rounding onto the grid.

:func:`project` moves any composition to the nearest one the constraints
admit, on their grid (or on the rounding step a route uses); every design
route that produces continuous compositions (decoding, gradient inversion)
finishes with it. :func:`admitted` checks compositions against every rule
(:func:`hea_dvae.design.feasibility.admits`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compositions import largest_remainder
from ..elements import ELEMENTS
from .constraints import as_constraints
from .feasibility import admits

#: Rounding step of designed compositions when the constraints set none (1 at.%).
DEFAULT_STEP = 0.01

_INDEX = {symbol: i for i, symbol in enumerate(ELEMENTS)}


@dataclass(frozen=True)
class Limits:
    """A :class:`Constraints` as arrays over :data:`ELEMENTS`, with the rounding step."""

    allowed: np.ndarray  # bool (30,): the pool
    required: np.ndarray  # bool (30,)
    lower: np.ndarray  # (30,) smallest fraction of a present element (at least one step)
    upper: np.ndarray  # (30,) largest fraction
    sizes: tuple[int, ...]  # numbers of elements an admitted alloy may have
    step: float


def limits(constraints, step: float | None = None) -> Limits:
    """The constraints as arrays over the 30 elements, with the rounding step of a route."""
    constraints = as_constraints(constraints)
    # The constraints' own grid wins: a composition off it would not be admitted.
    step = float(constraints.step or step or DEFAULT_STEP)
    required = np.zeros(len(ELEMENTS), dtype=bool)
    required[[_INDEX[s] for s in constraints.required]] = True
    lower, upper = constraints.fraction_bounds()
    return Limits(constraints.pool_mask(), required, np.maximum(lower, step), upper,
                  tuple(constraints.sizes()), step)


def _capped_simplex(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Euclidean projection onto {x : sum x = 1, lower <= x <= upper} (bisection on the shift)."""
    low, high = (values - upper).min() - 1.0, (values - lower).max() + 1.0
    for _ in range(100):
        shift = 0.5 * (low + high)
        if np.clip(values - shift, lower, upper).sum() > 1:
            low = shift
        else:
            high = shift
    x = np.clip(values - 0.5 * (low + high), lower, upper)
    return x / x.sum()


def _round_on_grid(x: np.ndarray, lower: np.ndarray, upper: np.ndarray, step: float) -> np.ndarray:
    """Amounts on multiples of ``step`` within the bounds, summing exactly to 1 (largest remainders)."""
    units = largest_remainder(x / step, round(1 / step), np.ceil(lower / step - 1e-9),
                              np.floor(upper / step + 1e-9))
    return units * step


def project(fractions, constraints=None, step: float | None = None) -> np.ndarray:
    """The nearest compositions that satisfy the constraints, on the rounding grid.

    For each row: drop elements outside the allowed pool; keep the required
    elements and the largest others: as many as are closer to their minimum
    amount than to zero, moved to the nearest number of elements the
    constraints allow (``n_elements``, ``max_elements``); project onto the
    bounds (Euclidean projection onto the capped simplex); round to
    multiples of the step, summing exactly to one, within the bounds.

    Parameters
    ----------
    fractions : array-like (n, 30)
    constraints : Constraints, mapping or YAML/TOML path, optional
    step : float, optional
        Rounding step as a fraction, used when the constraints set none;
        default :data:`DEFAULT_STEP` (1 at.%).

    Returns
    -------
    numpy.ndarray (n, 30)
        Rows that cannot be made feasible (too few allowed elements) are NaN.
    """
    bounds = limits(constraints, step)
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    out = np.full_like(x, np.nan)
    for r, row in enumerate(x):
        out[r] = _project_row(row, bounds)
    return out


def _project_row(row: np.ndarray, limits: Limits) -> np.ndarray:
    values = np.where(limits.allowed, row, 0.0)
    if values.sum() <= 0:
        values = limits.allowed.astype(float)
    values = values / values.sum()
    chosen = support(values, limits)
    if not len(chosen):
        return np.full(len(ELEMENTS), np.nan)
    lower, upper = limits.lower[chosen], limits.upper[chosen]
    x = np.zeros(len(ELEMENTS))
    x[chosen] = _capped_simplex(values[chosen], lower, upper)
    x[chosen] = _round_on_grid(x[chosen], lower, upper, limits.step)
    return x


def support(values: np.ndarray, limits: Limits) -> np.ndarray:
    """Indices of the elements a composition keeps (see :func:`project`)."""
    priority = np.where(limits.required, np.inf, values)
    order = np.array([i for i in np.argsort(-priority, kind="stable") if limits.allowed[i]])
    # An element stays when it is closer to its smallest allowed amount than to zero.
    wanted = int(((values >= 0.5 * limits.lower) & limits.allowed | limits.required).sum())
    # Of the allowed sizes, the nearest (the smaller on a tie) whose bounds can sum to one.
    for size in sorted(limits.sizes, key=lambda k: (abs(k - wanted), k)):
        chosen = order[:size]
        if limits.lower[chosen].sum() <= 1 + 1e-9 and limits.upper[chosen].sum() >= 1 - 1e-9:
            return chosen
    return order[:0]


def admitted(fractions, constraints=None) -> np.ndarray:
    """Boolean per row: does the composition satisfy every constraint?"""
    return admits(as_constraints(constraints), np.atleast_2d(np.asarray(fractions, dtype=float)))
