"""How to weigh out an alloy: at.% to wt.% and grams of each element for a batch."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ..checks import number
from ..compositions import as_fractions, largest_remainder
from ..elements import ELEMENTS


@lru_cache(maxsize=1)
def atomic_masses() -> np.ndarray:
    """Standard atomic masses (g/mol) of :data:`ELEMENTS`, from pymatgen."""
    from pymatgen.core import Element

    return np.array([float(Element(symbol).atomic_mass) for symbol in ELEMENTS])


def weight_fractions(fractions) -> np.ndarray:
    """Atomic fractions to mass fractions, shape (n, 30); rows sum to 1."""
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    mass = x * atomic_masses()
    return mass / mass.sum(axis=1, keepdims=True)


def _split_exactly(grams: np.ndarray, total: float, decimals: int) -> np.ndarray:
    """Round grams to ``decimals`` so that the rounded values still sum to ``total`` (largest remainders)."""
    unit = 10.0 ** -decimals
    return largest_remainder(grams / unit, round(total / unit)) * unit


def recipe(alloy, batch_grams: float, decimals: int = 3) -> pd.DataFrame:
    """How to weigh out one alloy: at.%, wt.% and grams of each element.

    Parameters
    ----------
    alloy : str or array-like (30,)
        A formula or one row of fractions.
    batch_grams : float
        Mass of the batch (g).
    decimals : int
        Grams are rounded to this many decimals such that the rounded
        amounts sum exactly to ``batch_grams`` (largest-remainder rounding).

    Returns
    -------
    DataFrame
        One row per element present: ``element``, ``at_pct``, ``wt_pct``,
        ``molar_mass`` (g/mol), ``grams``; ``attrs["batch_grams"]``.
    """
    number("batch mass (grams)", batch_grams, 0, low_open=True)
    x = as_fractions(alloy)
    if len(x) != 1:
        raise ValueError(f"recipe() takes one alloy, got {len(x)}")
    x = x[0]
    present = np.flatnonzero(x > 0)
    w = weight_fractions(x)[0]
    grams = _split_exactly(batch_grams * w[present], batch_grams, decimals)
    frame = pd.DataFrame(
        {
            "element": [ELEMENTS[i] for i in present],
            "at_pct": 100 * x[present],
            "wt_pct": 100 * w[present],
            "molar_mass": atomic_masses()[present],
            "grams": grams,
        }
    )
    frame.attrs["batch_grams"] = float(batch_grams)
    return frame


def recipe_columns(alloys, batch_grams: float, decimals: int = 3) -> pd.DataFrame:
    """Recipe of many alloys as columns, one row per alloy.

    ``grams_<El>`` for every element present in any alloy (0 where absent;
    each row sums to ``batch_grams``) and ``recipe``, a text such as
    ``"Co 14.762 g, Cr 13.022 g, ..."`` (the weights rounded to ``decimals``
    still sum exactly to the batch mass).
    """
    number("batch mass (grams)", batch_grams, 0, low_open=True)
    x = as_fractions(alloys)
    grams = batch_grams * weight_fractions(x) if len(x) else np.zeros((0, len(ELEMENTS)))
    present = np.flatnonzero((x > 0).any(axis=0))
    columns = {f"grams_{ELEMENTS[i]}": grams[:, i] for i in present}
    texts = []
    for row_x, row_g in zip(x, grams):
        idx = np.flatnonzero(row_x > 0)
        rounded = _split_exactly(row_g[idx], batch_grams, decimals)
        texts.append(", ".join(f"{ELEMENTS[i]} {g:.{decimals}f} g" for i, g in zip(idx, rounded)))
    index = alloys.index if isinstance(alloys, pd.DataFrame) else None
    frame = pd.DataFrame(columns, index=index)
    frame["recipe"] = texts
    frame.attrs["batch_grams"] = float(batch_grams)
    return frame
