"""The 8 features of alloys given by their present elements only (k-sparse).

An alloy of a screen has only ``k`` non-zero fractions: each element set's
properties are gathered once and combined with a composition grid by
broadcasting, with pair enthalpies gathered per pair instead of a dense
30 x 30 quadratic form. Only element-wise arithmetic is used, summed over
the present elements in a fixed order, so an alloy's features do not depend
on the batch it is computed in (a dense matrix product's rounding does).
"""

from __future__ import annotations

import numpy as np

from ...elements import ELEMENTS, ENTROPY_EPS, GAS_CONSTANT, ElementTable, get_table

_PROPERTY_ORDER = ("k", "vm", "tm", "vac", "ar", "chi")


def table_arrays(table: str | ElementTable) -> tuple[ElementTable, np.ndarray, np.ndarray]:
    table = get_table(table) if isinstance(table, str) else table
    properties = np.stack([np.asarray(table.properties[p], dtype=float) for p in _PROPERTY_ORDER])
    enthalpy = np.asarray(table.enthalpy, dtype=float)
    if not np.array_equal(enthalpy, enthalpy.T) or np.any(np.diag(enthalpy) != 0):
        raise ValueError(f"element table {table.name!r}: the enthalpy matrix must be symmetric with a zero diagonal")
    return table, properties, enthalpy


def feature_columns(elements, fractions, entropy, properties, enthalpy) -> list[np.ndarray]:
    """The 8 features as arrays of the broadcast shape of ``elements[..., 0]`` and ``fractions[..., 0]``.

    Only element-wise arithmetic (and one square root), summed over the ``k``
    present elements in a fixed order: an alloy's features do not depend on
    the shape of the batch it is computed in.
    """
    k = elements.shape[-1]
    x = [fractions[..., j] for j in range(k)]

    def weighted(values):
        gathered = values[elements]
        total = x[0] * gathered[..., 0]
        for j in range(1, k):
            total += x[j] * gathered[..., j]
        return total

    # k, vm, tm, vac: fraction-weighted means.
    columns = [weighted(properties[p]) for p in range(4)]
    # delta and delta_chi: spreads of radius and electronegativity about their means.
    radius, mean_radius = properties[4][elements], weighted(properties[4])
    chi, mean_chi = properties[5][elements], weighted(properties[5])
    size_mismatch = x[0] * (1 - radius[..., 0] / mean_radius) ** 2
    chi_spread = x[0] * (chi[..., 0] - mean_chi) ** 2
    for j in range(1, k):
        size_mismatch += x[j] * (1 - radius[..., j] / mean_radius) ** 2
        chi_spread += x[j] * (chi[..., j] - mean_chi) ** 2
    # The offset keeps featurize's value (and its gradient) for a pure element.
    columns.append(100 * np.sqrt(size_mismatch + 1e-30))
    columns.append(np.sqrt(chi_spread + 1e-30))
    if entropy is None:
        entropy = 0
        for j in range(k):
            entropy = entropy + x[j] * np.log(x[j] + ENTROPY_EPS)
        entropy = -GAS_CONSTANT * entropy
    mixing = 0
    for i in range(k):
        for j in range(i + 1, k):
            mixing = mixing + (x[i] * x[j]) * enthalpy[elements[..., i], elements[..., j]]
    shape = np.broadcast_shapes(elements.shape[:-1], fractions.shape[:-1])
    columns.append(np.broadcast_to(entropy, shape))
    columns.append(np.broadcast_to(4 * mixing, shape))
    return columns


def sparse_features(elements, fractions, table: str | ElementTable = "paper") -> np.ndarray:
    """The 8 features of alloys given by their present elements only.

    Equal to :func:`hea_dvae.features.featurize` of the dense compositions
    (to about 1e-15 relative), at a cost proportional to the number of
    present elements ``k`` rather than to 30 (and to ``k^2/2`` rather than
    900 for the mixing enthalpy).

    Parameters
    ----------
    elements : array-like of int (..., k)
        Indices into :data:`ELEMENTS` of each alloy's present elements.
    fractions : array-like of float (..., k)
        Their atomic fractions (each alloy summing to 1); broadcast against
        ``elements``, e.g. element sets ``(s, 1, k)`` against a composition
        grid ``(1, m, k)`` give the features of all ``s * m`` alloys.
    table : str or ElementTable
        Element table, as for :func:`~hea_dvae.features.featurize`.

    Returns
    -------
    numpy.ndarray
        Shape (broadcast shape without the last axis, 8), float64.
    """
    elements = np.asarray(elements)
    fractions = np.asarray(fractions, dtype=float)
    if elements.shape[-1] != fractions.shape[-1]:
        raise ValueError(f"elements {elements.shape} and fractions {fractions.shape} differ in k")
    if not np.issubdtype(elements.dtype, np.integer) or elements.min() < 0 or elements.max() >= len(ELEMENTS):
        raise ValueError(f"elements must be integer indices into the {len(ELEMENTS)} ELEMENTS")
    sums = fractions.sum(axis=-1)
    if (fractions < 0).any() or np.abs(sums - 1).max(initial=0) > 1e-6:
        raise ValueError(f"fractions must be non-negative and sum to 1 per alloy; sums range "
                         f"{sums.min():.6g} to {sums.max():.6g}")
    _, properties, enthalpy = table_arrays(table)
    return np.stack(feature_columns(elements, fractions, None, properties, enthalpy), axis=-1)
