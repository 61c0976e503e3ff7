"""The 30 elements, the 8 features, and the element tables the features are computed from.

Two tables exist: ``"paper"`` (the authors', read from their pickles, which
reproduces the published features) and ``"corrected"`` (standard values from
pymatgen, with VEC counted as s + d electrons; see :func:`table_differences`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from pymatgen.core import Element

from .upstream import read_upstream_tables

#: The 30 elements, in the dataset's column order.
ELEMENTS: tuple[str, ...] = (
    "Fe", "Ni", "Cr", "Co", "Al", "Ti", "Cu", "Mo", "V", "Nb",
    "Mn", "Zr", "Ta", "W", "Hf", "Si", "Rh", "Ru", "Re", "Os",
    "Pt", "Pd", "Ir", "Mg", "Ag", "Zn", "Sn", "Au", "Li", "Sc",
)  # fmt: skip

#: The 8 engineered features, in the dataset's column order.
FEATURES: tuple[str, ...] = (
    "k", "vm", "tm", "vac", "delta", "delta_chi", "delta_s_mix", "delta_h_mix",
)  # fmt: skip

#: Units of the features, for axis labels and tables.
FEATURE_UNITS: dict[str, str] = {
    "k": "GPa",
    "vm": "cm³/mol",
    "tm": "K",
    "vac": "e/atom",
    "delta": "%",
    "delta_chi": "",
    "delta_s_mix": "J/(mol·K)",
    "delta_h_mix": "kJ/mol",
}

#: Gas constant as used by the authors, J/(mol K).
GAS_CONSTANT = 8.314

#: Added inside the logarithm of the mixing entropy (the authors' choice).
ENTROPY_EPS = float(np.finfo(np.float32).eps)

#: Per-element properties an element table holds.
PROPERTIES: tuple[str, ...] = ("k", "vm", "tm", "vac", "ar", "chi")

TABLES: tuple[str, ...] = ("paper", "corrected")

# --------------------------------------------------------------------------
# Element tables


@dataclass(frozen=True)
class ElementTable:
    """Per-element properties over :data:`ELEMENTS` and the mixing-enthalpy matrix.

    Attributes
    ----------
    name : str
        ``"paper"`` or ``"corrected"``.
    properties : dict
        property -> array (30,), for :data:`PROPERTIES` (``ar`` in pm).
    enthalpy : numpy.ndarray
        (30, 30) symmetric binary mixing enthalpies in kJ/mol, zero diagonal.
    notes : tuple
        Human-readable provenance of every value that differs from upstream.
    """

    name: str
    properties: dict
    enthalpy: np.ndarray
    notes: tuple = field(default=())

    def frame(self) -> pd.DataFrame:
        """Properties as a DataFrame indexed by element."""
        return pd.DataFrame(self.properties, index=list(ELEMENTS))[list(PROPERTIES)]


def _table_from_upstream(elements: dict, enthalpies: dict) -> ElementTable:
    properties = {
        prop: np.array([elements[s][prop] for s in ELEMENTS], dtype=float)
        for prop in PROPERTIES
    }
    enthalpy = np.zeros((len(ELEMENTS), len(ELEMENTS)))
    for i, a in enumerate(ELEMENTS):
        for j, b in enumerate(ELEMENTS):
            if i != j:
                enthalpy[i, j] = enthalpies[",".join(sorted((a, b)))]
    return ElementTable("paper", properties, enthalpy)


def standard_vec(symbol: str) -> int:
    """Valence-electron count used for VEC: s + d electrons (group number).

    Groups 1 to 12 count their group number; groups 13 to 18 count the group
    number minus 10 (Al 3, Si 4, Sn 4). Filled 4f shells are not valence
    electrons, which is where the upstream table goes wrong for Hf..Au.
    """
    group = Element(symbol).group
    return group if group <= 12 else group - 10


def _corrected_from(paper: ElementTable) -> ElementTable:
    getters = {
        "tm": lambda e: e.melting_point,
        "vm": lambda e: e.molar_volume,
        "chi": lambda e: e.X,
        "k": lambda e: e.bulk_modulus,
        "ar": lambda e: None if e.atomic_radius is None else 100 * float(e.atomic_radius),
    }
    properties = {p: v.copy() for p, v in paper.properties.items()}
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, symbol in enumerate(ELEMENTS):
            element = Element(symbol)
            for prop, get in getters.items():
                value = get(element)
                if value is None:
                    notes.append(f"{symbol} {prop}: pymatgen has no value; upstream {paper.properties[prop][i]:g} kept")
                    continue
                properties[prop][i] = float(value)
            properties["vac"][i] = standard_vec(symbol)
    return ElementTable("corrected", properties, paper.enthalpy.copy(), tuple(notes))


@lru_cache(maxsize=None)
def get_table(name: str = "paper") -> ElementTable:
    """The element table called ``name`` (``"paper"`` or ``"corrected"``).

    ``"paper"`` is read from the authors' pickles; ``"corrected"`` takes
    ``tm``, ``vm``, ``chi``, ``k`` and ``ar`` from pymatgen's element data
    (upstream value kept where pymatgen has none: bulk modulus of Zr and Os),
    VEC from :func:`standard_vec`, and the upstream mixing enthalpies.
    """
    if name not in TABLES:
        raise ValueError(f"unknown element table {name!r}; choose one of {TABLES}")
    paper = _table_from_upstream(*read_upstream_tables())
    return paper if name == "paper" else _corrected_from(paper)


def table_differences(
    reference: str = "paper", other: str = "corrected", rtol: float = 1e-9
) -> pd.DataFrame:
    """Every per-element property that differs between two tables.

    Returns a DataFrame with ``element``, ``property``, both values and the
    relative difference, largest first.
    """
    a, b = get_table(reference).frame(), get_table(other).frame()
    rows = []
    for prop in PROPERTIES:
        for symbol in ELEMENTS:
            va, vb = a.loc[symbol, prop], b.loc[symbol, prop]
            if not np.isclose(va, vb, rtol=rtol, atol=0):
                rows.append((symbol, prop, va, vb, (vb - va) / va))
    frame = pd.DataFrame(rows, columns=["element", "property", reference, other, "relative"])
    return frame.sort_values("relative", key=np.abs, ascending=False, ignore_index=True)


# --------------------------------------------------------------------------
# Featurizer
