r"""Compositions and the 8 physics-informed features.

An alloy is a vector :math:`x` of atomic fractions over the 30 elements of
:data:`ELEMENTS` (dataset order). From it, with an element table of
per-element properties and binary mixing enthalpies :math:`H_{ij}`:

=============  ==============================================================
``k``          :math:`\sum_i x_i k_i`, bulk modulus (GPa)
``vm``         :math:`\sum_i x_i V_i`, molar volume (cm³/mol)
``tm``         :math:`\sum_i x_i T_{m,i}`, melting point (K)
``vac``        :math:`\sum_i x_i \mathrm{VEC}_i`, valence-electron concentration
``delta``      :math:`100\sqrt{\sum_i x_i (1 - r_i/\bar r)^2}`, size mismatch (%)
``delta_chi``  :math:`\sqrt{\sum_i x_i (\chi_i - \bar\chi)^2}`, electronegativity difference
``delta_s_mix``:math:`-R\sum_i x_i \ln(x_i + \epsilon)`, ideal mixing entropy (J/(mol K))
``delta_h_mix``:math:`\sum_{i<j} 4 x_i x_j H_{ij}`, mixing enthalpy (kJ/mol)
=============  ==============================================================

with :math:`\bar r = \sum x_i r_i`, :math:`\bar\chi = \sum x_i \chi_i`, and
:math:`\epsilon` float32's machine epsilon, as in the authors' code (it makes
:math:`x\ln x` finite and differentiable at :math:`x=0`).

One function computes them for numpy arrays and for torch tensors (then
differentiable with respect to the fractions), from one element table.
Two tables exist: ``"paper"`` (the authors', which reproduces the published
features) and ``"corrected"`` (standard values; see :func:`table_differences`).
"""

from __future__ import annotations

from types import ModuleType
from typing import Iterable

import sys

import numpy as np
import pandas as pd

from .compositions import (  # noqa: F401  (re-exported: where users of the features look)
    composition_matrix,
    composition_vector,
    formula_from_vector,
)
from .elements import (  # noqa: F401  (re-exported: the features module is where users look)
    ELEMENTS,
    ENTROPY_EPS,
    FEATURE_UNITS,
    FEATURES,
    GAS_CONSTANT,
    PROPERTIES,
    TABLES,
    ElementTable,
    get_table,
    standard_vec,
    table_differences,
)

def _backend(fractions) -> ModuleType:
    # A tensor exists only once torch is imported: numpy callers never load it.
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(fractions, torch.Tensor) else np


def _check_fractions(x: np.ndarray) -> None:
    # float32 rows (e.g. a softmax in torch) sum to 1 only to about 1e-6.
    tolerance = 1e-6 if x.dtype == np.float64 else 1e-4
    negative = (x < 0).any(axis=1)
    off = np.abs(x.sum(axis=1) - 1) > tolerance
    if negative.any() or off.any():
        rows = np.flatnonzero(negative | off)
        details = ", ".join(f"row {r} (sum {x[r].sum():.6g}, min {x[r].min():.3g})" for r in rows[:5])
        raise ValueError(
            f"fractions must be non-negative and sum to 1 (within {tolerance:g}); "
            f"{len(rows)} row(s) do not: {details}"
        )


def featurize(fractions, table: str | ElementTable = "paper", validate: bool = True):
    """The 8 engineered features of compositions.

    Parameters
    ----------
    fractions : array_like or torch.Tensor
        Shape (n, 30) or (30,): atomic fractions over :data:`ELEMENTS`, each
        row summing to 1. A torch tensor gives a torch tensor of its dtype
        and device, differentiable with respect to ``fractions``.
    table : str or ElementTable
        ``"paper"`` (default) reproduces the published features.
    validate : bool
        Check that each row is a composition (non-negative, summing to 1).
        ``False`` evaluates the same formulas anywhere, e.g. for finite
        differences that step off the simplex.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Shape (n, 8) (or (8,)), columns in :data:`FEATURES` order.

    Raises
    ------
    ValueError
        Wrong number of columns, or a row with a negative fraction or not
        summing to 1 (the message names the rows).
    """
    xp = _backend(fractions)
    table = get_table(table) if isinstance(table, str) else table
    if xp is np:
        x = np.asarray(fractions, dtype=float)
        const = {p: v for p, v in table.properties.items()}
        enthalpy = table.enthalpy
    else:
        x = fractions
        if not x.is_floating_point():
            x = x.double()
        const = {
            p: xp.as_tensor(v, dtype=x.dtype, device=x.device)
            for p, v in table.properties.items()
        }
        enthalpy = xp.as_tensor(table.enthalpy, dtype=x.dtype, device=x.device)
    if x.shape[-1] != len(ELEMENTS):
        raise ValueError(
            f"fractions must have {len(ELEMENTS)} columns (one per element in "
            f"ELEMENTS), got shape {tuple(x.shape)}"
        )
    single = x.ndim == 1
    if single:
        x = x[None, :]
    if validate:
        _check_fractions(x if xp is np else x.detach().cpu().double().numpy())

    k, vm, tm, vac = (x @ const[p] for p in ("k", "vm", "tm", "vac"))
    r_mean = x @ const["ar"]
    chi_mean = x @ const["chi"]
    # The tiny offset keeps the square roots differentiable for pure elements,
    # where the mismatch is exactly zero; it changes no published digit.
    delta = 100 * xp.sqrt((x * (1 - const["ar"] / r_mean[:, None]) ** 2).sum(-1) + 1e-30)
    delta_chi = xp.sqrt((x * (const["chi"] - chi_mean[:, None]) ** 2).sum(-1) + 1e-30)
    s_mix = -GAS_CONSTANT * (x * xp.log(x + ENTROPY_EPS)).sum(-1)
    h_mix = 2 * ((x @ enthalpy) * x).sum(-1)

    columns = (k, vm, tm, vac, delta, delta_chi, s_mix, h_mix)
    out = np.stack(columns, axis=-1) if xp is np else xp.stack(columns, dim=-1)
    return out[0] if single else out


def featurize_formulas(formulas: Iterable[str], table: str = "paper") -> pd.DataFrame:
    """Features of formulas as a DataFrame indexed by formula (as written)."""
    formulas = list(formulas)
    values = featurize(composition_matrix(formulas), table=table)
    return pd.DataFrame(values.reshape(len(formulas), len(FEATURES)), index=formulas, columns=list(FEATURES))


#: Published values of reference alloys, as printed: (formula, feature) -> (value, source).
#: δ in %, ΔH_mix in kJ/mol; computed there from metallic radii and Takeuchi–Inoue pair enthalpies.
LITERATURE_VALUES: dict[tuple[str, str], tuple[float, str]] = {
    ("CoCrFeMnNi", "delta"): (3.27, "Zhang et al. 2014, Prog. Mater. Sci. 61, 1"),
    ("CoCrFeMnNi", "delta_h_mix"): (-4.16, "Zhang et al. 2014, Prog. Mater. Sci. 61, 1"),
    ("AlCoCrFeNi", "delta"): (5.78, "Guo et al. 2011, J. Appl. Phys. 109, 103505"),
    ("AlCoCrFeNi", "delta_h_mix"): (-12.32, "Guo et al. 2011, J. Appl. Phys. 109, 103505"),
    ("MoNbTaW", "delta"): (2.31, "Yang & Zhang 2012, Mater. Chem. Phys. 132, 233"),
    ("MoNbTaW", "delta_h_mix"): (-6.50, "Yang & Zhang 2012, Mater. Chem. Phys. 132, 233"),
}


def tables_against_literature(tables=("paper", "corrected", "standard"), values=None) -> pd.DataFrame:
    """Each published reference value beside the same feature computed with each element table.

    Returns
    -------
    DataFrame
        Index ``formula, feature``; ``published``, one column per table,
        and ``source``.
    """
    values = LITERATURE_VALUES if values is None else values
    formulas = list(dict.fromkeys(formula for formula, _ in values))
    computed = {table: featurize_formulas(formulas, table) for table in tables}
    rows = [{"formula": formula, "feature": feature, "published": value,
             **{table: float(computed[table].loc[formula, feature]) for table in tables}, "source": source}
            for (formula, feature), (value, source) in values.items()]
    return pd.DataFrame(rows).set_index(["formula", "feature"])


def feature_agreement(data: pd.DataFrame, table: str = "paper") -> pd.DataFrame:
    """How closely :func:`featurize` reproduces a dataset's feature columns.

    Returns one row per feature: largest absolute difference, largest
    relative difference (against the published value, where it is non-zero)
    and the alloy where the relative difference is largest.
    """
    computed = featurize(data[list(ELEMENTS)].to_numpy(), table=table)
    published = data[list(FEATURES)].to_numpy(dtype=float)
    absolute = np.abs(computed - published)
    scale = np.abs(published)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(scale > 0, absolute / scale, 0.0)
    worst = relative.argmax(axis=0)
    return pd.DataFrame(
        {
            "max_abs_diff": absolute.max(axis=0),
            "max_rel_diff": relative.max(axis=0),
            "worst_alloy": data["formula"].to_numpy()[worst],
        },
        index=pd.Index(FEATURES, name="feature"),
    )


def table_effect(data: pd.DataFrame, threshold: float = 0.01) -> pd.DataFrame:
    """How many alloys the corrected table changes, per feature.

    ``alloys_changed`` counts alloys whose feature moves by more than
    ``threshold`` (relative) between the ``"paper"`` and ``"corrected"``
    tables; also the median relative change and the largest absolute one.
    """
    x = data[list(ELEMENTS)].to_numpy()
    paper, corrected = featurize(x, "paper"), featurize(x, "corrected")
    absolute = np.abs(corrected - paper)
    # A feature that is zero under one table (delta_chi of two elements of equal
    # electronegativity) has no relative change; count it as changed when it moves.
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(np.abs(paper) > 1e-9, absolute / np.abs(paper), np.inf * (absolute > 1e-9))
    relative = np.nan_to_num(relative, nan=0.0)
    return pd.DataFrame(
        {
            "alloys_changed": (relative > threshold).sum(axis=0),
            "median_rel_change": np.median(relative, axis=0),
            "max_abs_change": absolute.max(axis=0),
        },
        index=pd.Index(FEATURES, name="feature"),
    )


def contains_any(data: pd.DataFrame, symbols: Iterable[str]) -> pd.Series:
    """Boolean mask: alloys that contain at least one of ``symbols``."""
    symbols = list(symbols)
    return (data[symbols] > 0).any(axis=1)


def element_counts(data: pd.DataFrame) -> pd.Series:
    """Number of elements in each alloy."""
    return (data[list(ELEMENTS)] > 0).sum(axis=1)


def find_duplicate_compositions(
    data: pd.DataFrame,
    split=None,
    decimals: int = 6,
) -> pd.DataFrame:
    """Alloys whose normalised compositions coincide under different spellings.

    Parameters
    ----------
    data : DataFrame
        A tidy dataset (``formula``, the 30 fractions, ``label``).
    split : mapping, optional
        part name -> DataFrame (e.g. :func:`hea_dvae.paper_split`); adds a
        ``part`` column saying where each formula landed.
    decimals : int
        Fractions are compared after rounding to this many decimals.

    Returns
    -------
    DataFrame
        One row per formula in a duplicate group: ``group``, ``formula``,
        ``label``, (``part``), ``labels_conflict`` and ``crosses_split``.
    """
    key = data[list(ELEMENTS)].round(decimals).apply(tuple, axis=1)
    counts = key.map(key.value_counts())
    groups = data.loc[counts > 1, ["formula", "label"]].copy()
    groups["group"] = key[counts > 1].map({k: i for i, k in enumerate(dict.fromkeys(key[counts > 1]))})
    if split is not None:
        where = {f: part for part, frame in split.items() for f in frame["formula"]}
        groups["part"] = groups["formula"].map(where)
    by_group = groups.groupby("group")
    groups["labels_conflict"] = by_group["label"].transform("nunique") > 1
    if split is not None:
        groups["crosses_split"] = by_group["part"].transform("nunique") > 1
    columns = ["group", "formula", "label"] + (["part"] if split is not None else [])
    columns += ["labels_conflict"] + (["crosses_split"] if split is not None else [])
    return groups[columns].sort_values(["group", "formula"], ignore_index=True)
