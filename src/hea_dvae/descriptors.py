r"""A documented set of descriptors of high-entropy alloys, computed exactly from the composition.

An alloy is a vector :math:`x` of atomic fractions over the 30 elements of
:data:`~hea_dvae.elements.ELEMENTS`. From it and an element table (default
``"standard"``: the radii of Guo & Liu 2011 and the pair enthalpies
:math:`H_{ij}` of Takeuchi & Inoue 2005 that the empirical rules were
calibrated on; see :func:`hea_dvae.elements.get_table`), :func:`descriptors`
computes the :data:`DESCRIPTORS` below, for numpy arrays and torch tensors
through one code path: a tensor gives a tensor, differentiable with respect
to the fractions. Notation: :math:`\bar p = \sum_i x_i p_i` for a
per-element property :math:`p`; :math:`\sigma(p) = \sqrt{\sum_i x_i (p_i -
\bar p)^2}`; "present" means :math:`x_i >` :data:`~hea_dvae.rules.PRESENT_FRACTION`;
sums over pairs run over unlike elements :math:`i < j`.

=======================  =========================================================  ============  ==========
name                     formula                                                    units         reference
=======================  =========================================================  ============  ==========
``k``                    :math:`\bar K` (bulk modulus)                              GPa           [F]
``vm``                   :math:`\bar V_m` (molar volume)                            cm³/mol       [F]
``tm``                   :math:`\bar T_m` (melting point)                           K             [F]
``vac``                  :math:`\overline{\mathrm{VEC}}`, s + d electrons           e/atom        [G11]
``delta``                :math:`100\,\sigma(r)/\bar r`, size mismatch               %             [Z08]
``delta_chi``            :math:`\sigma(\chi_P)`, Pauling electronegativity spread   --            [GL11]
``delta_s_mix``          :math:`-R\sum_i x_i\ln(x_i+\epsilon)`, mixing entropy      J/(mol K)     [F]
``delta_h_mix``          :math:`\sum_{i<j} 4x_ix_jH_{ij}`, mixing enthalpy          kJ/mol        [TI05]
``omega``                :math:`T_m\Delta S/|1000\,\Delta H|`                       --            [YZ12]
``lambda_``              :math:`\Delta S/\delta^2`                                  J/(mol K %²)  [S14]
``gamma``                :math:`\omega_S/\omega_L`, solid-angle ratio               --            [W15]
``delta_chi_rel``        :math:`100\,\sigma(\chi_P)/\bar\chi_P`                     %             [GL11], [D]
``delta_chi_allen``      :math:`\sigma(\chi_A)`, Allen electronegativity spread     eV            [PB14]
``delta_chi_allen_rel``  :math:`100\,\sigma(\chi_A)/\bar\chi_A`                     %             [PB14]
``tm_spread``            :math:`\sigma(T_m)`                                        K             [D]
``tm_spread_rel``        :math:`100\,\sigma(T_m)/\bar T_m`                          %             [D]
``k_spread``             :math:`\sigma(K)`                                          GPa           [D]
``k_spread_rel``         :math:`100\,\sigma(K)/\bar K`                              %             [D]
``vec_spread``           :math:`\sigma(\mathrm{VEC})`                               e/atom        [D]
``vec_spread_rel``       :math:`100\,\sigma(\mathrm{VEC})/\overline{\mathrm{VEC}}`  %             [D]
``vm_spread``            :math:`\sigma(V_m)`                                        cm³/mol       [D]
``vm_spread_rel``        :math:`100\,\sigma(V_m)/\bar V_m`                          %             [D]
``h_pair_min``           :math:`\min H_{ij}` over present pairs (0 without a pair)  kJ/mol        [D]
``h_pair_max``           :math:`\max H_{ij}` over present pairs (0 without a pair)  kJ/mol        [D]
``h_pair_spread``        :math:`\sqrt{\sum_{i<j} w_{ij}(H_{ij}-\bar H)^2}`          kJ/mol        [D]
``strong_pair_share``    :math:`\sum_{i<j,\,H_{ij}<H_s} w_{ij}`                     --            [D], [Z08]
``n_strong_pairs``       number of present pairs with :math:`H_{ij} < H_s`          --            [D], [Z08]
``r_small_ratio``        :math:`r_S/\bar r`, smallest present atom                  --            [W15]
``r_large_ratio``        :math:`r_L/\bar r`, largest present atom                   --            [W15]
``n_elements``           number of present elements                                 --            [Y04]
``s_conf_r``             ``delta_s_mix`` / R, configurational entropy over R        --            [Y04]
=======================  =========================================================  ============  ==========

with :math:`w_{ij} = x_ix_j / \sum_{k<l} x_kx_l` (the share of unlike
nearest-neighbour pairs that are :math:`ij` in a random solution),
:math:`\bar H = \sum_{i<j} w_{ij}H_{ij}`, :math:`H_s` =
:data:`STRONG_PAIR_ENTHALPY` (-15 kJ/mol) and, for :math:`\gamma`,
:math:`\omega_{S,L} = 1 - \sqrt{((r_{S,L}+\bar r)^2-\bar r^2)/(r_{S,L}+\bar r)^2}`.

Where each comes from
---------------------
The first eight are :func:`hea_dvae.features.featurize` on the chosen table
(no formula is repeated here); ``omega``, ``lambda_`` and ``gamma`` are
:func:`hea_dvae.rules.omega_and_lambda` and
:func:`hea_dvae.rules.solid_angle_gamma`, so that the rules and the
descriptors share one implementation. ``delta_chi_rel`` is the spread of
``delta_chi`` relative to :math:`\bar\chi_P`, the form HEACalculator
reports (Guo & Liu 2011 give the absolute one, ``delta_chi``).
``s_conf_r`` is ``delta_s_mix`` divided by the features'
:data:`~hea_dvae.elements.GAS_CONSTANT`, so it carries their
:math:`\epsilon`: it is :math:`\ln n` of an equiatomic alloy of :math:`n`
elements to about :math:`10^{-6}`.

Choices
-------
* Spreads: [D] marks a quantity defined here, as issue 19 asks, with the
  form of Yang & Zhang's :math:`\delta` (a fraction-weighted standard
  deviation, absolute and relative to the mean); Wen et al. (2019) use the
  same relative form for the shear modulus. The relative spread of the radii
  *is* ``delta``.
* ``h_pair_spread`` weighs each pair as the regular-solution
  :math:`\Delta H_{mix}` does (:math:`\bar H = \Delta H_{mix} / (4\sum_{i<j}
  x_ix_j)`), so it is zero for a binary and whenever every pair has the same
  enthalpy.
* Strongly compound-forming pairs: :math:`H_{ij} <` -15 kJ/mol. The
  equiatomic binary of such a pair has :math:`\Delta H_{mix} = H_{ij}`
  below the lower bound of Zhang et al.'s (2008) solid-solution window
  (:math:`-15 \le \Delta H_{mix} \le 5` kJ/mol), i.e. the pair on its own is
  on the compound side of the rule this package already uses
  (:data:`hea_dvae.rules.H_MIX_RANGE`). The threshold is a parameter
  (``strong_pair_enthalpy``).
* The radii ratios are the two inputs of :math:`\gamma` besides
  :math:`\bar r` (Wang et al. 2015 write :math:`r_S`, :math:`r_L`).
* Allen electronegativities: the ``"standard"`` table's ``chi_allen``
  (configuration energies of Mann, Meek & Allen 2000, eV). A table without
  them (``"paper"``, ``"corrected"``) takes the same vendored values: the
  package has no other Allen scale. The relative spread does not depend on
  the unit (HEACalculator's Pauling-scaled values give the same ``%``).

Differentiability
-----------------
Everything but :data:`PIECEWISE_CONSTANT` is differentiable with respect to
the fractions wherever it is finite. ``h_pair_min``, ``h_pair_max``,
``n_strong_pairs`` and ``n_elements`` depend only on which elements are
present: they are step functions of :math:`x`, returned as floats of the
input's kind, with no gradient in torch (their derivative is zero wherever
it exists). ``strong_pair_share`` is their smooth counterpart: it moves with
the fractions, and it is zero exactly when ``n_strong_pairs`` is. Standard
deviations use a square root whose gradient is set to zero where the spread
is exactly zero (there the spread is not differentiable, like :math:`|t|`
at 0). ``omega`` and ``lambda_`` are ``inf`` where :math:`\Delta H` or
:math:`\delta` is exactly zero (53 and 0 of the 1,373 alloys of
:func:`hea_dvae.load_dataset` on the standard table): a model that reads
them needs a transform (the rules use a clipped logarithm).

Left out, and why
-----------------
* e/a (itinerant electrons per atom, Mizutani): pymatgen's elements carry
  electronic structures and valences but no e/a, and mendeleev valence
  counts only; HEACalculator (GPL-3, not a dependency) counts the outer
  s + p electrons, a different quantity (Fe 2, Al 3) from the e/a that
  Mizutani and co-workers derived for transition metals from band
  calculations, which no well-kept library ships.
* Local lattice distortion, mean-square atomic displacement, elastic strain
  energy (:math:`\Delta d`, Ye et al. 2015's residual strain, Andreoli et
  al. 2019): each needs modelling choices (packing, coordination, relaxation)
  and we found no published value of a named alloy to check an
  implementation against.
* Ye et al.'s :math:`\phi` and the DFT formation-enthalpy window of
  Troparevsky et al. (2015): as in :mod:`hea_dvae.rules` ("Left out").
* Local mismatches :math:`\sum c_ic_j|p_i-p_j|` (Wen et al. 2019): published
  with and without the square and over :math:`i<j` or all :math:`i \ne j`
  (matminer's docstring and code disagree), so no definition can be checked.

References
----------
[F] the paper's 8 features, :mod:`hea_dvae.features`.
[G11] S. Guo, C. Ng, J. Lu, C.T. Liu, J. Appl. Phys. 109 (2011) 103505.
[GL11] S. Guo, C.T. Liu, Prog. Nat. Sci.: Mater. Int. 21 (2011) 433.
[Z08] Y. Zhang, Y.J. Zhou, J.P. Lin, G.L. Chen, P.K. Liaw, Adv. Eng. Mater. 10 (2008) 534.
[TI05] A. Takeuchi, A. Inoue, Mater. Trans. 46 (2005) 2817.
[YZ12] X. Yang, Y. Zhang, Mater. Chem. Phys. 132 (2012) 233.
[S14] A.K. Singh, N. Kumar, A. Dwivedi, A. Subramaniam, Intermetallics 53 (2014) 112.
[W15] Z. Wang, Y. Huang, Y. Yang, J. Wang, C.T. Liu, Scr. Mater. 94 (2015) 28.
[PB14] M.G. Poletti, L. Battezzati, Acta Mater. 75 (2014) 297; Allen scale: J.B. Mann,
T.L. Meek, L.C. Allen, J. Am. Chem. Soc. 122 (2000) 2780.
[Y04] J.-W. Yeh et al., Adv. Eng. Mater. 6 (2004) 299.
[D] defined here (see "Choices"); C. Wen et al., Acta Mater. 170 (2019) 109 for the relative form.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .checks import number
from .elements import ELEMENTS, FEATURE_UNITS, FEATURES, GAS_CONSTANT, ElementTable, get_table, standard_radii_and_allen
from .features import _backend, featurize
from .rules import PRESENT_FRACTION, extreme_radii, omega_and_lambda, solid_angle_gamma
from .scores import roc_auc

#: Pairs with a mixing enthalpy below this (kJ/mol) count as strongly
#: compound-forming: Zhang et al.'s (2008) lower bound of the solid-solution
#: window, which the equiatomic binary of such a pair falls below.
STRONG_PAIR_ENTHALPY = -15.0

#: Names of the descriptors, in the column order of :func:`descriptors`.
DESCRIPTORS: tuple[str, ...] = FEATURES + (
    "omega", "lambda_", "gamma",
    "delta_chi_rel", "delta_chi_allen", "delta_chi_allen_rel",
    "tm_spread", "tm_spread_rel", "k_spread", "k_spread_rel",
    "vec_spread", "vec_spread_rel", "vm_spread", "vm_spread_rel",
    "h_pair_min", "h_pair_max", "h_pair_spread", "strong_pair_share", "n_strong_pairs",
    "r_small_ratio", "r_large_ratio",
    "n_elements", "s_conf_r",
)  # fmt: skip

#: Units of the descriptors ("" for a pure number).
DESCRIPTOR_UNITS: dict[str, str] = {
    **FEATURE_UNITS,
    "omega": "", "lambda_": "J/(mol·K·%²)", "gamma": "",
    "delta_chi_rel": "%", "delta_chi_allen": "eV", "delta_chi_allen_rel": "%",
    "tm_spread": "K", "tm_spread_rel": "%", "k_spread": "GPa", "k_spread_rel": "%",
    "vec_spread": "e/atom", "vec_spread_rel": "%", "vm_spread": "cm³/mol", "vm_spread_rel": "%",
    "h_pair_min": "kJ/mol", "h_pair_max": "kJ/mol", "h_pair_spread": "kJ/mol",
    "strong_pair_share": "", "n_strong_pairs": "",
    "r_small_ratio": "", "r_large_ratio": "",
    "n_elements": "", "s_conf_r": "",
}  # fmt: skip

#: Descriptors that depend only on which elements are present: step
#: functions of the fractions, without a gradient in torch.
PIECEWISE_CONSTANT: tuple[str, ...] = ("h_pair_min", "h_pair_max", "n_strong_pairs", "n_elements")

#: Below this variance ((kJ/mol)²) the pair-enthalpy spread is zero: it is
#: computed as E[H²] - E[H]², whose rounding error is about 1e-12 for
#: enthalpies of tens of kJ/mol, while a real spread (an element present
#: above PRESENT_FRACTION with a pair enthalpy 1 kJ/mol off) exceeds 1e-6.
_PAIR_VARIANCE_FLOOR = 1e-9

_COLUMN = {name: k for k, name in enumerate(DESCRIPTORS)}


def _as_compositions(x, validate: bool):
    """``x`` as a 2-D float array or tensor, whether it was one row, and its backend."""
    xp = _backend(x)
    if xp is np:
        x = np.asarray(x, dtype=float)
    elif not x.is_floating_point():
        x = x.double()
    if x.ndim not in (1, 2) or x.shape[-1] != len(ELEMENTS):
        raise ValueError(
            f"compositions must have shape (n, {len(ELEMENTS)}) or ({len(ELEMENTS)},), one column per "
            f"element of ELEMENTS, got shape {tuple(x.shape)}"
        )
    single = x.ndim == 1
    x = x[None, :] if single else x
    if validate:
        finite = np.isfinite(x if xp is np else x.detach().cpu().numpy()).all(axis=1)
        if not finite.all():
            rows = np.flatnonzero(~finite)
            raise ValueError(f"compositions are not finite in {len(rows)} row(s), first rows {rows[:5].tolist()}")
    return x, single, xp


def _constants(table: ElementTable, strong_pair_enthalpy: float, xp, like) -> dict:
    """Per-element properties and pair matrices as arrays, or as tensors of ``like``'s dtype and device."""
    allen = table.properties.get("chi_allen")
    if allen is None:  # "paper" and "corrected" carry no Allen scale: the vendored one is the only one
        allen = standard_radii_and_allen()["allen_ev"].to_numpy(dtype=float)
    off_diagonal = 1.0 - np.eye(len(ELEMENTS))
    values = {p: np.asarray(table.properties[p], dtype=float) for p in ("k", "vm", "tm", "vac", "ar", "chi")}
    values |= {
        "chi_allen": np.asarray(allen, dtype=float),
        "enthalpy": table.enthalpy,
        "enthalpy_squared": table.enthalpy**2,
        "off_diagonal": off_diagonal,
        "strong": off_diagonal * (table.enthalpy < strong_pair_enthalpy),
    }
    if xp is np:
        return values
    return {name: xp.as_tensor(v, dtype=like.dtype, device=like.device) for name, v in values.items()}


def _safe_sqrt(xp, variance, floor: float = 0.0):
    """Square root that is zero, with a zero gradient, where ``variance <= floor``."""
    positive = variance > floor
    return xp.where(positive, xp.sqrt(xp.where(positive, variance, xp.ones_like(variance))), xp.zeros_like(variance))


def _spread(xp, x, values) -> tuple:
    """Fraction-weighted standard deviation of a property and its percentage of the mean."""
    mean = x @ values
    std = _safe_sqrt(xp, (x * (values - mean[:, None]) ** 2).sum(-1))
    return std, 100 * std / mean


def _pair_statistics(xp, x, present, const: dict) -> dict:
    """Statistics of the pair enthalpies H_ij over the unlike pairs of each alloy."""
    pair_weight = ((x @ const["off_diagonal"]) * x).sum(-1)  # sum over i != j of x_i x_j = 1 - sum x_i²
    has_pair = pair_weight > 0
    safe_weight = xp.where(has_pair, pair_weight, xp.ones_like(pair_weight))
    mean = ((x @ const["enthalpy"]) * x).sum(-1) / safe_weight
    second = ((x @ const["enthalpy_squared"]) * x).sum(-1) / safe_weight
    share = ((x @ const["strong"]) * x).sum(-1) / safe_weight
    zero = xp.zeros_like(pair_weight)

    # Which pairs are present is a step function of x: no gradient flows through it.
    both = present[:, :, None] & present[:, None, :] & (const["off_diagonal"] > 0)
    enthalpy = const["enthalpy"]
    if xp is np:
        lowest = np.where(both, enthalpy, np.inf).min(axis=(1, 2))
        highest = np.where(both, enthalpy, -np.inf).max(axis=(1, 2))
        presence = present.astype(float)
    else:
        lowest = xp.where(both, enthalpy, xp.full_like(enthalpy, float("inf"))).amin(dim=(1, 2))
        highest = xp.where(both, enthalpy, xp.full_like(enthalpy, float("-inf"))).amax(dim=(1, 2))
        presence = present.to(x.dtype)
    any_pair = both.any(2).any(1)
    return {
        "h_pair_min": xp.where(any_pair, lowest, zero),
        "h_pair_max": xp.where(any_pair, highest, zero),
        "h_pair_spread": xp.where(has_pair, _safe_sqrt(xp, second - mean**2, _PAIR_VARIANCE_FLOOR), zero),
        "strong_pair_share": xp.where(has_pair, share, zero),
        "n_strong_pairs": ((presence @ const["strong"]) * presence).sum(-1) / 2,
        "n_elements": presence.sum(-1),
    }


def descriptors(x, table: str | ElementTable = "standard", strong_pair_enthalpy: float = STRONG_PAIR_ENTHALPY,
                validate: bool = True):
    """The :data:`DESCRIPTORS` of compositions.

    Parameters
    ----------
    x : array_like or torch.Tensor
        Shape (n, 30) or (30,): atomic fractions over
        :data:`~hea_dvae.elements.ELEMENTS`, each row summing to 1. A torch
        tensor gives a tensor of its dtype and device, differentiable with
        respect to ``x`` (except :data:`PIECEWISE_CONSTANT`).
    table : str or ElementTable
        Element table, default ``"standard"`` (see the module docstring).
    strong_pair_enthalpy : float
        Threshold of a strongly compound-forming pair, kJ/mol (default
        :data:`STRONG_PAIR_ENTHALPY`).
    validate : bool
        Check that each row is a composition (finite, non-negative, summing
        to 1). ``False`` evaluates the same formulas anywhere, e.g. for
        finite differences that step off the simplex.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Shape (n, 31) (or (31,)), columns in :data:`DESCRIPTORS` order,
        units in :data:`DESCRIPTOR_UNITS`.

    Raises
    ------
    ValueError
        Wrong shape, a row that is not a composition (the message names the
        rows), no element present in a row, or an unknown table.
    TypeError
        ``strong_pair_enthalpy`` is not a number.
    """
    strong_pair_enthalpy = number("strong_pair_enthalpy", strong_pair_enthalpy)
    table = get_table(table) if isinstance(table, str) else table
    x, single, xp = _as_compositions(x, validate)
    e = featurize(x, table=table, validate=validate)
    const = _constants(table, strong_pair_enthalpy, xp, x)
    column = {name: e[:, k] for k, name in enumerate(FEATURES)}

    column["omega"], column["lambda_"] = omega_and_lambda(
        column["tm"], column["delta_s_mix"], column["delta_h_mix"], column["delta"])
    column["gamma"] = solid_angle_gamma(x, table.properties["ar"])
    column["delta_chi_rel"] = 100 * column["delta_chi"] / (x @ const["chi"])
    column["delta_chi_allen"], column["delta_chi_allen_rel"] = _spread(xp, x, const["chi_allen"])
    for name, prop in (("tm", "tm"), ("k", "k"), ("vec", "vac"), ("vm", "vm")):
        column[f"{name}_spread"], column[f"{name}_spread_rel"] = _spread(xp, x, const[prop])
    column |= _pair_statistics(xp, x, x > PRESENT_FRACTION, const)
    r_small, r_large, r_mean = extreme_radii(x, table.properties["ar"])
    column["r_small_ratio"], column["r_large_ratio"] = r_small / r_mean, r_large / r_mean
    column["s_conf_r"] = column["delta_s_mix"] / GAS_CONSTANT

    columns = [column[name] for name in DESCRIPTORS]
    out = np.stack(columns, axis=-1) if xp is np else xp.stack(columns, dim=-1)
    return out[0] if single else out


def descriptor_frame(x, table: str | ElementTable = "standard",
                     strong_pair_enthalpy: float = STRONG_PAIR_ENTHALPY) -> pd.DataFrame:
    """:func:`descriptors` as a DataFrame, one column per descriptor.

    Parameters
    ----------
    x : DataFrame or array_like
        Compositions: a frame with the 30 element columns (other columns are
        ignored; its index is kept), or an array of shape (n, 30) or (30,).
    table : str or ElementTable
        Element table, default ``"standard"``.
    strong_pair_enthalpy : float
        As for :func:`descriptors`, kJ/mol.

    Returns
    -------
    DataFrame
        Columns :data:`DESCRIPTORS`.
    """
    index = None
    if isinstance(x, pd.DataFrame):
        missing = [s for s in ELEMENTS if s not in x.columns]
        if missing:
            raise ValueError(f"compositions lack the element columns {missing}; expected {list(ELEMENTS)}")
        x, index = x[list(ELEMENTS)].to_numpy(dtype=float), x.index
    values = descriptors(np.atleast_2d(np.asarray(x, dtype=float)), table, strong_pair_enthalpy)
    return pd.DataFrame(values, columns=list(DESCRIPTORS), index=index)


#: Descriptors a model reads as log10 of their value clipped to :data:`LOG_CLIP`:
#: Omega is infinite where the mixing enthalpy is exactly 0 (50 alloys of the
#: dataset) and Lambda reaches 1e27 where the size mismatch nearly vanishes.
LOG_SCALED: tuple[str, ...] = ("omega", "lambda_")

#: Clip of :data:`LOG_SCALED` before the logarithm (both rules' thresholds,
#: Omega 1.1 and Lambda 0.96, lie well inside).
LOG_CLIP: tuple[float, float] = (1e-2, 1e3)

#: Names of :func:`model_inputs`' columns as models read them: ``log10_`` before :data:`LOG_SCALED`.
MODEL_INPUTS: tuple[str, ...] = tuple(f"log10_{name}" if name in LOG_SCALED else name for name in DESCRIPTORS)


def model_inputs(x, table: str | ElementTable = "standard") -> pd.DataFrame:
    """The descriptors as tree models read them: every column finite.

    :func:`descriptor_frame` of ``x`` on ``table``, with :data:`LOG_SCALED`
    replaced by their base-10 logarithm after clipping to :data:`LOG_CLIP`.
    """
    frame = descriptor_frame(x, table=table)
    for name in LOG_SCALED:
        frame[name] = np.log10(np.clip(frame[name].to_numpy(dtype=float), *LOG_CLIP))
    return frame


def descriptor_auc(frame: pd.DataFrame, labels) -> pd.DataFrame:
    """Each descriptor alone as a score for single phase: ROC AUC and direction.

    Parameters
    ----------
    frame : DataFrame
        One column per descriptor (e.g. :func:`descriptor_frame`).
    labels : array_like
        0/1 labels, 1 = single phase, one per row.

    Returns
    -------
    DataFrame
        Indexed by descriptor, best first: ``auc`` = max(AUC, 1 - AUC),
        ``direction`` (+1 when larger values rank single-phase alloys
        higher, -1 when smaller values do) and ``auc_raw``, the AUC of the
        descriptor as it is. An AUC of 0.5 carries no information.
    """
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(frame):
        raise ValueError(f"{len(frame)} alloys but {len(labels)} labels")
    raw = {name: roc_auc(labels, frame[name].to_numpy(dtype=float)) for name in frame.columns}
    out = pd.DataFrame({"auc_raw": raw})
    out["auc"] = np.maximum(out["auc_raw"], 1 - out["auc_raw"])
    out["direction"] = np.where(out["auc_raw"] >= 0.5, 1, -1)
    out.index.name = "descriptor"
    return out[["auc", "direction", "auc_raw"]].sort_values("auc", ascending=False, kind="stable")
