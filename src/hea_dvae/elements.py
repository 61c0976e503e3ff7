"""The 30 elements, the 8 features, and the element tables the features are computed from.

Three tables exist:

``"paper"``
    The authors', read from their pickles; reproduces the published features.
``"corrected"``
    Element data from pymatgen, with VEC counted as s + d electrons (see
    :func:`table_differences`); radii and mixing enthalpies as in ``"paper"``.
``"standard"``
    The quantities the empirical rules of solid-solution formation were
    calibrated on (:func:`get_table`): the atomic radii of Guo & Liu (2011,
    Table 1) and the Miedema mixing enthalpies of Takeuchi & Inoue (2005),
    with ``"corrected"``'s other values. Its size mismatch and mixing
    enthalpy are those of the literature (CoCrFeMnNi: 3.27 % and
    -4.16 kJ/mol).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from .cache import remember
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

TABLES: tuple[str, ...] = ("paper", "corrected", "standard")

#: Folder of the vendored data of the ``"standard"`` table (sources and
#: licenses in its ``NOTICE.txt`` and in each file's header).
STANDARD_DATA = "element_data"

# --------------------------------------------------------------------------
# Element tables


@dataclass(frozen=True)
class ElementTable:
    """Per-element properties over :data:`ELEMENTS` and the mixing-enthalpy matrix.

    Attributes
    ----------
    name : str
        ``"paper"``, ``"corrected"`` or ``"standard"``.
    properties : dict
        property -> array (30,), for :data:`PROPERTIES` (``ar`` in pm) and
        any extra property a table holds (``"standard"``: ``chi_allen``,
        Allen's electronegativity as a configuration energy in eV). The
        featurizer reads :data:`PROPERTIES` only.
    enthalpy : numpy.ndarray
        (30, 30) symmetric binary mixing enthalpies in kJ/mol, zero diagonal.
    notes : tuple
        Human-readable provenance of every value that differs from upstream.
    """

    name: str
    properties: dict
    enthalpy: np.ndarray
    notes: tuple = field(default=())

    def frame(self, extra: bool = False) -> pd.DataFrame:
        """Properties as a DataFrame indexed by element.

        ``extra=True`` adds the table's properties beyond :data:`PROPERTIES`.
        """
        columns = list(PROPERTIES)
        if extra:
            columns += [p for p in self.properties if p not in PROPERTIES]
        return pd.DataFrame(self.properties, index=list(ELEMENTS))[columns]


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
    from pymatgen.core import Element  # a heavy import, only where a table is built

    group = Element(symbol).group
    return group if group <= 12 else group - 10


def _corrected_from(paper: ElementTable) -> ElementTable:
    from pymatgen.core import Element  # a heavy import, only where a table is built

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


def _read_vendored(filename: str) -> pd.DataFrame:
    with resources.files(__package__).joinpath(STANDARD_DATA, filename).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, comment="#")


def standard_radii_and_allen() -> pd.DataFrame:
    """Radii (pm) of Guo & Liu (2011) and Allen electronegativities (eV), indexed by element.

    Read from the vendored ``element_data/standard_elements.csv``; see
    :func:`get_table` for the sources.
    """
    frame = _read_vendored("standard_elements.csv").set_index("symbol")
    missing = [s for s in ELEMENTS if s not in frame.index]
    if missing:
        raise ValueError(f"standard_elements.csv lacks the elements {missing}")
    return frame.loc[list(ELEMENTS)]


def takeuchi_inoue_enthalpies() -> np.ndarray:
    """The (30, 30) symmetric matrix of Takeuchi & Inoue (2005) mixing enthalpies, kJ/mol.

    Read from the vendored ``element_data/takeuchi_inoue_2005.csv`` (one row
    per pair of :data:`ELEMENTS`, 435 rows); zero diagonal.

    Raises
    ------
    ValueError
        A pair is missing, repeated or names an element outside the 30.
    """
    rows = _read_vendored("takeuchi_inoue_2005.csv")
    index = {symbol: i for i, symbol in enumerate(ELEMENTS)}
    enthalpy = np.full((len(ELEMENTS), len(ELEMENTS)), np.nan)
    np.fill_diagonal(enthalpy, 0.0)
    for a, b, h in rows.itertuples(index=False):
        if a not in index or b not in index or a == b:
            raise ValueError(f"takeuchi_inoue_2005.csv: pair {a}-{b} is not a pair of two of the 30 elements")
        if not np.isnan(enthalpy[index[a], index[b]]):
            raise ValueError(f"takeuchi_inoue_2005.csv: pair {a}-{b} appears twice")
        enthalpy[index[a], index[b]] = enthalpy[index[b], index[a]] = float(h)
    missing = [f"{ELEMENTS[i]}-{ELEMENTS[j]}" for i, j in itertools.combinations(range(len(ELEMENTS)), 2)
               if np.isnan(enthalpy[i, j])]
    if missing:
        raise ValueError(f"takeuchi_inoue_2005.csv lacks {len(missing)} pair(s): {missing[:5]}")
    return enthalpy


def _standard_from(corrected: ElementTable) -> ElementTable:
    vendored = standard_radii_and_allen()
    properties = {p: v.copy() for p, v in corrected.properties.items()}
    properties["ar"] = vendored["radius_pm"].to_numpy(dtype=float)
    properties["chi_allen"] = vendored["allen_ev"].to_numpy(dtype=float)
    notes = (
        "ar: atomic radii of Guo & Liu (2011), Prog. Nat. Sci.: Mater. Int. 21, 433, Table 1 (pm)",
        "enthalpy: Takeuchi & Inoue (2005), Mater. Trans. 46, 2817 (Miedema model), via matminer 0.10.1",
        "chi_allen: Allen electronegativity (configuration energy, eV), via mendeleev 1.3.0",
        "tm, vm, chi (Pauling), k: pymatgen, as in 'corrected'; vac: s + d electrons",
    ) + corrected.notes
    return ElementTable("standard", properties, takeuchi_inoue_enthalpies(), notes)


@lru_cache(maxsize=None)
def get_table(name: str = "paper") -> ElementTable:
    r"""The element table called ``name``: ``"paper"``, ``"corrected"`` or ``"standard"``.

    ``"paper"`` is read from the authors' pickles. ``"corrected"`` takes
    ``tm``, ``vm``, ``chi`` (Pauling), ``k`` and ``ar`` from pymatgen's
    element data (upstream value kept where pymatgen has none: bulk modulus
    of Zr, 91 GPa, and Os, 373 GPa), VEC from :func:`standard_vec`, and the
    upstream mixing enthalpies.

    ``"standard"`` is ``"corrected"`` with the two quantities the empirical
    rules depend on replaced by those the rules were calibrated on:

    * ``ar``: the atomic radii of Guo & Liu (2011, Table 1), in pm: Al 143.2,
      Fe 124.1, Ni 124.6, Mn 135.0. These reproduce the published size
      mismatch of Zhang et al. (2008), Guo et al. (2011) and Yang & Zhang
      (2012), whose :math:`\delta \le 6.6\,\%` bound was drawn with them
      (CoCrFeMnNi 3.27 %). pymatgen's ``atomic_radius`` (Slater's empirical
      radii, Al 125 pm) gives 1.78 % for CoCrFeMnNi; its ``metallic_radius``
      (12-coordinate metallic radii, Mn 127 pm) gives 1.12 %, and has none
      for Si and Sn: neither is the quantity of the rules.
    * the mixing enthalpies: the Miedema values of Takeuchi & Inoue (2005)
      for the 435 pairs of the 30 elements (Al-Ni -22, Cr-Ni -7 kJ/mol),
      behind the :math:`\Omega \ge 1.1` and :math:`-15 \le \Delta H \le 5`
      kJ/mol windows (CoCrFeMnNi -4.16 kJ/mol).

    It also holds an extra property, ``chi_allen``: Allen's electronegativity
    as a configuration energy in eV (Mann, Meek & Allen 2000), which the
    featurizer does not read.

    References
    ----------
    S. Guo, C.T. Liu, Prog. Nat. Sci.: Mater. Int. 21 (2011) 433-446, Table 1.
    A. Takeuchi, A. Inoue, Mater. Trans. 46 (2005) 2817-2829.
    J.B. Mann, T.L. Meek, L.C. Allen, J. Am. Chem. Soc. 122 (2000) 2780;
    J.B. Mann et al., J. Am. Chem. Soc. 122 (2000) 5132.

    Raises
    ------
    ValueError
        An unknown name.
    """
    if name not in TABLES:
        raise ValueError(f"unknown element table {name!r}; choose one of {TABLES}")
    paper = _table_from_upstream(*read_upstream_tables())
    if name == "paper":
        return paper

    def build() -> dict:
        corrected = _corrected_from(paper)
        table = corrected if name == "corrected" else _standard_from(corrected)
        return {"properties": {p: v.tolist() for p, v in table.properties.items()},
                "enthalpy": table.enthalpy.tolist(), "notes": list(table.notes)}

    # pymatgen's element data take a second to load: the built table is kept on disk.
    from importlib.metadata import version

    stored = remember(f"element-table-{name}", build, extra_key=f"pymatgen {version('pymatgen')}")
    return ElementTable(name, {p: np.asarray(v, dtype=float) for p, v in stored["properties"].items()},
                        np.asarray(stored["enthalpy"], dtype=float), tuple(stored["notes"]))


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
