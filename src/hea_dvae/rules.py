r"""Empirical rules of solid-solution formation, from compositions or from the 8 features.

Each rule reads a few quantities of an alloy and says whether it forms a
single-phase solid solution. With :math:`x_i` the atomic fractions,
:math:`T_m = \sum_i x_i T_{m,i}` the rule-of-mixtures melting point (K),
:math:`\Delta S` the ideal mixing entropy (J/(mol K)), :math:`\Delta H` the
mixing enthalpy (kJ/mol), :math:`\delta` the size mismatch (%) and VEC the
valence-electron concentration:

``yang2012``
    Yang & Zhang (2012, Mater. Chem. Phys. 132, 233):
    :math:`\Omega = T_m \Delta S / |1000\,\Delta H| \ge 1.1` and
    :math:`\delta \le 6.6\,\%`.
``zhang2008``
    Zhang et al. (2008, Adv. Eng. Mater. 10, 534):
    :math:`-15 \le \Delta H \le 5` kJ/mol, :math:`\delta \le 6.6\,\%` and
    :math:`12 \le \Delta S \le 17.5` J/(mol K).
``guo2011``
    Guo et al. (2011, J. Appl. Phys. 109, 103505): VEC :math:`\ge 8` favours
    FCC, VEC :math:`< 6.87` BCC, and in between FCC + BCC, i.e. not a single
    phase.
``wang2015``
    Wang et al. (2015, Scr. Mater. 94, 28), the solid-angle criterion
    :math:`\gamma = \omega_S / \omega_L < 1.175`, with
    :math:`\omega_{S,L} = 1 - \sqrt{((r_{S,L} + \bar r)^2 - \bar r^2) /
    (r_{S,L} + \bar r)^2}`, :math:`r_S` and :math:`r_L` the radii of the
    smallest and largest atoms present and :math:`\bar r = \sum_i x_i r_i`.
    It needs the radii, hence the composition, not only the 8 features.
``singh2014``
    Singh et al. (2014, Intermetallics 53, 112):
    :math:`\Lambda = \Delta S / \delta^2 > 0.96` a single disordered phase;
    :math:`0.24 < \Lambda < 0.96` two phases; :math:`\Lambda < 0.24`
    compounds.

The overall verdict (``single_phase``) stays ``(yang2012 or zhang2008) and
guo2011``, the three rules :data:`RULES` that the expert prior pools by
default; :data:`EXTRA_RULES` can be added to a vote (``rules=...``).

Left out, and why
-----------------
* Ye et al. (2015, Scr. Mater. 104, 53),
  :math:`\phi = (\Delta S - |\Delta H|/T_m)/|S_E| > 20`: the excess entropy
  :math:`S_E` of the Mansoori et al. hard-sphere mixture depends on choices
  the criterion leaves open (packing fraction, FCC or BCC or their mean, the
  radius table), and no published :math:`\phi` or :math:`S_E` of a named
  alloy was available to check an implementation against.
* Troparevsky et al. (2015, Phys. Rev. X 5, 011041), the window of DFT
  formation enthalpies of the binary compounds: their table is not shipped
  by any library we could use (pymatgen, matminer), and the one program that
  ships a copy (HEACalculator) is GPL-3.

Two ways in
-----------
From compositions, with an element table (default ``"standard"``, the
radii and enthalpies the rules were calibrated on; see
:func:`hea_dvae.elements.get_table`): :func:`quantities`, :func:`verdicts`,
:func:`margins`, :func:`classifier_scores`. From the 8 features of any
table (:data:`hea_dvae.features.FEATURES`): :func:`rules_verdict`,
:func:`rule_margins`, :func:`rules_classifier_scores`, for the three rules of
:data:`RULES`. Both go through the same functions: a composition is turned
into its features with :func:`hea_dvae.features.featurize`, plus
:math:`\gamma` from the radii.

Signed margins
--------------
Each condition gets a signed margin in units of a fixed scale
(:class:`RuleScales`), positive on the single-phase side: for example
:math:`u_\delta = (6.6 - \delta) / s_\delta` and
:math:`u_\Omega = \ln(\Omega / 1.1) / s_{\ln\Omega}` (the logarithm because
:math:`\Omega` spans orders of magnitude and diverges as :math:`\Delta H \to 0`;
likewise :math:`\ln(\Lambda/0.96)`). A rule that is a conjunction of
conditions takes the smallest of their margins; the VEC rule, a union (FCC or
BCC), takes :math:`\max(\mathrm{VEC} - 8, 6.87 - \mathrm{VEC}) / s_\mathrm{VEC}`;
the solid-angle rule :math:`(1.175 - \gamma)/s_\gamma`. So a rule's margin is
positive exactly when the rule says single phase (up to strict inequalities
at the boundary), and its size says how clearly. Margins are clipped to
:math:`\pm` :data:`MARGIN_LIMIT`.

The scales are chosen, not fitted: each is about a tenth of the quantity's
range among the dataset's alloys (:math:`\ln\Omega` 0.5, :math:`\delta`
1 %, :math:`\Delta H` 5 kJ/mol, :math:`\Delta S` 1.5 J/(mol K), VEC 0.5,
:math:`\gamma` 0.03, :math:`\ln\Lambda` 0.5).

Everything here is numpy, except three functions that also take torch
tensors (differentiable, through the same code): :func:`omega_and_lambda`,
:func:`extreme_radii` and :func:`solid_angle_gamma`, which
:mod:`hea_dvae.descriptors` uses. No model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from .elements import ELEMENTS, FEATURES, TABLES, ElementTable, get_table
from .features import _backend, featurize
from .scores import accuracy, roc_auc

#: Yang & Zhang (2012): smallest Omega of a solid solution.
OMEGA_MIN = 1.1
#: Yang & Zhang (2012), Zhang et al. (2008): largest size mismatch (%) of a solid solution.
DELTA_MAX = 6.6
#: Zhang et al. (2008): mixing-enthalpy window (kJ/mol).
H_MIX_RANGE = (-15.0, 5.0)
#: Zhang et al. (2008): mixing-entropy window (J/(mol K)).
S_MIX_RANGE = (12.0, 17.5)
#: Guo et al. (2011): FCC from this VEC up (inclusive).
VEC_FCC = 8.0
#: Guo et al. (2011): BCC below this VEC (strict).
VEC_BCC = 6.87
#: Wang et al. (2015): a solid solution below this gamma (strict).
GAMMA_MAX = 1.175
#: Singh et al. (2014): a single disordered phase above this Lambda (strict).
LAMBDA_SINGLE = 0.96
#: Singh et al. (2014): compounds below this Lambda; two phases in between.
LAMBDA_MULTI = 0.24

#: The rules the expert prior pools by default, in the column order of
#: :func:`rule_margins`; all three can be read from the 8 features.
RULES: tuple[str, ...] = ("yang2012", "zhang2008", "guo2011")
#: Further rules: ``wang2015`` needs compositions (the radii of the
#: smallest and largest atoms), ``singh2014`` reads the features too.
EXTRA_RULES: tuple[str, ...] = ("wang2015", "singh2014")
#: Every rule, in the column order of :func:`margins`.
ALL_RULES: tuple[str, ...] = RULES + EXTRA_RULES

#: The element table the rules use unless told otherwise.
DEFAULT_TABLE = "standard"

#: Margins are clipped to plus or minus this many scale units.
MARGIN_LIMIT = 10.0

#: Verdicts compare with this slack, so that an alloy exactly on a boundary
#: (VEC 8 of CoCrFeMnNi, summed in floating point) gets one verdict however
#: its features were computed.
BOUNDARY_TOLERANCE = 1e-9

#: An element counts as present (for gamma's smallest and largest atom)
#: above this fraction: compositions from a softmax are never exactly zero.
PRESENT_FRACTION = 1e-6

#: Quantities of :func:`quantities`, in column order.
QUANTITIES: tuple[str, ...] = (
    "omega", "delta", "vec", "delta_h_mix", "delta_s_mix", "tm", "gamma", "lambda_",
)  # fmt: skip

# The quantities rules_verdict has always returned (the book and design read them).
_FEATURE_VERDICT_QUANTITIES = ("omega", "delta", "vec", "delta_h_mix", "delta_s_mix")

# Feature columns the rules read.
_TM, _DELTA, _VEC = FEATURES.index("tm"), FEATURES.index("delta"), FEATURES.index("vac")
_S_MIX, _H_MIX = FEATURES.index("delta_s_mix"), FEATURES.index("delta_h_mix")


@dataclass(frozen=True)
class RuleScales:
    """Scale of each condition's margin: one unit of margin is this much of the quantity.

    Attributes
    ----------
    log_omega : float
        Natural log of Omega (0.5: Omega off by a factor of 1.65).
    delta : float
        Size mismatch, percentage points.
    h_mix : float
        Mixing enthalpy, kJ/mol.
    s_mix : float
        Mixing entropy, J/(mol K).
    vec : float
        Valence-electron concentration, electrons per atom.
    gamma : float
        Solid-angle ratio gamma (dimensionless).
    log_lambda : float
        Natural log of Lambda.
    """

    log_omega: float = 0.5
    delta: float = 1.0
    h_mix: float = 5.0
    s_mix: float = 1.5
    vec: float = 0.5
    gamma: float = 0.03
    log_lambda: float = 0.5

    def __post_init__(self):
        bad = {f.name: getattr(self, f.name) for f in fields(self)
               if not (np.isfinite(getattr(self, f.name)) and getattr(self, f.name) > 0)}
        if bad:
            raise ValueError(f"rule scales must be positive numbers, got {bad}")


# --------------------------------------------------------------------------
# Inputs


def check_rules(rules) -> tuple[str, ...]:
    """``rules`` as a tuple of known rule names, in the order given.

    Raises
    ------
    ValueError
        Empty, repeated or unknown names; the message lists the known ones.
    """
    rules = (rules,) if isinstance(rules, str) else tuple(rules)
    unknown = [r for r in rules if r not in ALL_RULES]
    if unknown or not rules or len(set(rules)) != len(rules):
        raise ValueError(f"rules must be distinct names among {ALL_RULES}, got {rules!r}")
    return rules


def _feature_matrix(features) -> tuple[np.ndarray, pd.Index | None]:
    """Features as an (n, 8) float array in FEATURES order, and the frame's index if any."""
    if isinstance(features, pd.DataFrame):
        missing = [c for c in FEATURES if c not in features.columns]
        if missing:
            raise ValueError(f"features lack the columns {missing}; expected {list(FEATURES)}")
        return features[list(FEATURES)].to_numpy(dtype=float), features.index
    array = np.asarray(features, dtype=float)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != len(FEATURES):
        raise ValueError(
            f"features must have shape (n, {len(FEATURES)}) in FEATURES order "
            f"{list(FEATURES)}, got shape {np.shape(features)}"
        )
    return array, None


def _composition_array(x) -> tuple[np.ndarray, pd.Index | None]:
    """Compositions as an (n, 30) float array in ELEMENTS order, and the frame's index if any.

    ``x`` is a frame with the 30 element columns (other columns are
    ignored), or an array of shape (n, 30) or (30,).
    """
    if isinstance(x, pd.DataFrame):
        missing = [s for s in ELEMENTS if s not in x.columns]
        if missing:
            raise ValueError(f"compositions lack the element columns {missing}; expected {list(ELEMENTS)}")
        return x[list(ELEMENTS)].to_numpy(dtype=float), x.index
    array = np.asarray(x, dtype=float)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != len(ELEMENTS):
        raise ValueError(
            f"compositions must have shape (n, {len(ELEMENTS)}) in ELEMENTS order, got shape {np.shape(x)}"
        )
    return array, None


def _resolve_table(table) -> ElementTable:
    if isinstance(table, ElementTable):
        return table
    if table not in TABLES:
        raise ValueError(f"unknown element table {table!r}; choose one of {TABLES}")
    return get_table(table)


# --------------------------------------------------------------------------
# Quantities


def _quantities_of_features(e: np.ndarray) -> dict:
    """The rules' quantities that the 8 features determine (everything but gamma)."""
    used = e[:, [_TM, _DELTA, _VEC, _S_MIX, _H_MIX]]
    if not np.isfinite(used).all():
        rows = np.flatnonzero(~np.isfinite(used).all(axis=1))
        raise ValueError(f"features are not finite in {len(rows)} row(s), first rows {rows[:5].tolist()}")
    tm, delta, vec, s_mix, h_mix = used.T
    omega, lambda_ = omega_and_lambda(tm, s_mix, h_mix, delta)
    return {"omega": omega, "delta": delta, "vec": vec, "delta_h_mix": h_mix,
            "delta_s_mix": s_mix, "tm": tm, "lambda_": lambda_}


def omega_and_lambda(tm, s_mix, h_mix, delta):
    r"""Yang & Zhang's :math:`\Omega` and Singh et al.'s :math:`\Lambda` from four features.

    :math:`\Omega = T_m \Delta S / |1000\,\Delta H|` and
    :math:`\Lambda = \Delta S / \delta^2`, for numpy arrays or torch tensors
    alike (a tensor gives a tensor, differentiable wherever the value is
    finite).

    Parameters
    ----------
    tm : array_like or torch.Tensor
        Rule-of-mixtures melting point, K.
    s_mix : array_like or torch.Tensor
        Ideal mixing entropy, J/(mol K).
    h_mix : array_like or torch.Tensor
        Mixing enthalpy, kJ/mol.
    delta : array_like or torch.Tensor
        Size mismatch, %.

    Returns
    -------
    tuple
        ``(omega, lambda_)``, of the inputs' shape. Omega is ``inf`` where
        the mixing enthalpy is exactly zero (and the entropy positive), 0
        where there is no entropy; likewise Lambda where delta is zero.
    """
    xp = _backend(tm)
    # The entropy of a pure element is -R*eps*ln(1+eps) < 0 by a hair; no entropy, no Omega, no Lambda.
    entropy = np.maximum(s_mix, 0.0) if xp is np else xp.clamp(s_mix, min=0.0)
    numerator = tm * entropy
    denominator = 1000.0 * xp.abs(h_mix)
    square = delta**2
    if xp is np:
        with np.errstate(divide="ignore", invalid="ignore"):
            omega = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0),
                             np.where(numerator > 0, np.inf, 0.0))
            lambda_ = np.where(square > 0, entropy / np.where(square > 0, square, 1.0),
                               np.where(entropy > 0, np.inf, 0.0))
        return omega, lambda_
    # The same selections in torch; the safe denominators keep the unused branch's gradient finite.
    inf, zero, one = (xp.full_like(numerator, v) for v in (float("inf"), 0.0, 1.0))
    omega = xp.where(denominator > 0, numerator / xp.where(denominator > 0, denominator, one),
                     xp.where(numerator > 0, inf, zero))
    lambda_ = xp.where(square > 0, entropy / xp.where(square > 0, square, one),
                       xp.where(entropy > 0, inf, zero))
    return omega, lambda_


def extreme_radii(x, radii):
    r"""Radii of the smallest and largest atoms present, and the mean radius.

    Parameters
    ----------
    x : array_like or torch.Tensor
        Compositions, shape (n, 30) (fractions over :data:`ELEMENTS`).
    radii : array_like
        Atomic radius of each element, shape (30,) (any unit).

    Returns
    -------
    tuple
        ``(r_small, r_large, r_mean)``, each of shape (n,), in the unit of
        ``radii``; :math:`\bar r = \sum_i x_i r_i`. Elements at or below
        :data:`PRESENT_FRACTION` are not present. A torch tensor gives
        tensors; only ``r_mean`` depends on the fractions' values (the other
        two on which elements are present), so only it carries a gradient.

    Raises
    ------
    ValueError
        A composition with no element above :data:`PRESENT_FRACTION`.
    """
    xp = _backend(x)
    if xp is np:
        x, _ = _composition_array(x)
        radii = np.asarray(radii, dtype=float)
    else:
        x = x if x.ndim == 2 else x[None, :]
        radii = xp.as_tensor(np.asarray(radii, dtype=float), dtype=x.dtype, device=x.device)
    present = x > PRESENT_FRACTION
    if not bool(present.any(1).all()):
        raise ValueError("every composition needs at least one element above PRESENT_FRACTION")
    r_mean = x @ radii
    if xp is np:
        r_small = np.where(present, radii, np.inf).min(axis=1)
        r_large = np.where(present, radii, -np.inf).max(axis=1)
    else:
        r_small = xp.where(present, radii, xp.full_like(x, float("inf"))).amin(dim=1)
        r_large = xp.where(present, radii, xp.full_like(x, float("-inf"))).amax(dim=1)
    return r_small, r_large, r_mean


def solid_angle_gamma(x, radii):
    r"""Wang et al.'s (2015) :math:`\gamma = \omega_S / \omega_L` of compositions.

    Parameters
    ----------
    x : array_like or torch.Tensor
        Compositions, shape (n, 30) (fractions over :data:`ELEMENTS`). A
        torch tensor gives a torch tensor, differentiable with respect to
        the fractions (through :math:`\bar r`).
    radii : array_like
        Atomic radius of each element, shape (30,) (any unit).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Shape (n,); 1 for a single element. Elements below
        :data:`PRESENT_FRACTION` are not counted as present.
    """
    xp = _backend(x)
    r_small, r_large, r_mean = extreme_radii(x, radii)

    def solid_angle(r):
        # Solid angle (over 2 pi) of an atom of radius r_mean seen from one of radius r that touches it.
        return 1.0 - xp.sqrt(((r + r_mean) ** 2 - r_mean**2) / (r + r_mean) ** 2)

    return solid_angle(r_small) / solid_angle(r_large)


def _quantities_of(x, table) -> tuple[dict, pd.Index | None]:
    array, index = _composition_array(x)
    table = _resolve_table(table)
    q = _quantities_of_features(featurize(array, table=table))
    q["gamma"] = solid_angle_gamma(array, table.properties["ar"])
    return q, index


def quantities(x, table=DEFAULT_TABLE) -> pd.DataFrame:
    r"""The quantities the rules read, computed from compositions.

    Parameters
    ----------
    x : DataFrame or array_like
        Compositions: a frame with the 30 element columns (e.g. the dataset),
        or an array of shape (n, 30) or (30,); rows sum to 1.
    table : str or ElementTable
        Element table (default ``"standard"``, the radii and mixing
        enthalpies the rules were calibrated on).

    Returns
    -------
    DataFrame
        Columns :data:`QUANTITIES`: ``omega`` (inf where the mixing enthalpy
        is zero), ``delta`` (%), ``vec``, ``delta_h_mix`` (kJ/mol),
        ``delta_s_mix`` (J/(mol K)), ``tm`` (K), ``gamma`` and ``lambda_``
        (:math:`\Delta S/\delta^2`, J/(mol K %²)); the frame's index if any.

    Raises
    ------
    ValueError
        Wrong shape, missing element columns, rows that are not compositions,
        or an unknown table.
    """
    q, index = _quantities_of(x, table)
    return pd.DataFrame({name: q[name] for name in QUANTITIES}, index=index)


# --------------------------------------------------------------------------
# Margins and verdicts, one implementation for both inputs


def _margin_matrix(q: dict, scales: RuleScales, rules: tuple[str, ...]) -> np.ndarray:
    """(n, len(rules)) signed margins, clipped, from the quantities of :func:`_quantities_of_features`."""
    if "wang2015" in rules and "gamma" not in q:
        raise ValueError("the rule wang2015 needs the radii of the smallest and largest atoms: "
                         "compute it from compositions (rules.margins(x, table=...)), not from features")
    with np.errstate(divide="ignore"):
        u_omega = np.log(q["omega"] / OMEGA_MIN) / scales.log_omega
        u_lambda = np.log(q["lambda_"] / LAMBDA_SINGLE) / scales.log_lambda
    u_delta = (DELTA_MAX - q["delta"]) / scales.delta
    h, s = q["delta_h_mix"], q["delta_s_mix"]
    compute = {
        "yang2012": lambda: np.minimum(u_omega, u_delta),
        "zhang2008": lambda: np.min([u_delta,
                                     (h - H_MIX_RANGE[0]) / scales.h_mix, (H_MIX_RANGE[1] - h) / scales.h_mix,
                                     (s - S_MIX_RANGE[0]) / scales.s_mix, (S_MIX_RANGE[1] - s) / scales.s_mix],
                                    axis=0),
        "guo2011": lambda: np.maximum(q["vec"] - VEC_FCC, VEC_BCC - q["vec"]) / scales.vec,
        "wang2015": lambda: (GAMMA_MAX - q["gamma"]) / scales.gamma,
        "singh2014": lambda: u_lambda,
    }
    values = np.clip(np.stack([compute[rule]() for rule in rules], axis=1), -MARGIN_LIMIT, MARGIN_LIMIT)
    # Column-major, as a DataFrame's values: a weighted sum over rules then
    # rounds exactly as it did when the margins came from a frame, so the
    # book's exactly-checked numbers do not move in the last bit.
    return np.asfortranarray(values)


def _rule_verdicts(q: dict) -> dict:
    """Boolean verdict of every rule the quantities allow, and the VEC and Lambda phases."""
    tol = BOUNDARY_TOLERANCE
    delta_ok = q["delta"] <= DELTA_MAX + tol
    fcc, bcc = q["vec"] >= VEC_FCC - tol, q["vec"] < VEC_BCC - tol
    out = {
        "yang2012": (q["omega"] >= OMEGA_MIN - tol) & delta_ok,
        "zhang2008": ((q["delta_h_mix"] >= H_MIX_RANGE[0] - tol) & (q["delta_h_mix"] <= H_MIX_RANGE[1] + tol)
                      & (q["delta_s_mix"] >= S_MIX_RANGE[0] - tol) & (q["delta_s_mix"] <= S_MIX_RANGE[1] + tol)
                      & delta_ok),
        "guo2011": fcc | bcc,
        "singh2014": q["lambda_"] > LAMBDA_SINGLE + tol,
        "vec_phase": np.where(fcc, "FCC", np.where(bcc, "BCC", "FCC+BCC")),
        "lambda_phase": np.where(q["lambda_"] > LAMBDA_SINGLE + tol, "single",
                                 np.where(q["lambda_"] < LAMBDA_MULTI - tol, "compounds", "two phases")),
    }
    if "gamma" in q:
        out["wang2015"] = q["gamma"] < GAMMA_MAX - tol
    out["single_phase"] = (out["yang2012"] | out["zhang2008"]) & out["guo2011"]
    return out


def margins(x, table=DEFAULT_TABLE, scales: RuleScales | None = None, rules=ALL_RULES) -> pd.DataFrame:
    r"""Signed margin of each rule from compositions, in scale units; positive means "single phase".

    Parameters
    ----------
    x : DataFrame or array_like
        Compositions, as for :func:`quantities`.
    table : str or ElementTable
        Element table (default ``"standard"``).
    scales : RuleScales, optional
        Scale of each condition's margin; default :class:`RuleScales`.
    rules : sequence of str
        Which rules, in column order (default :data:`ALL_RULES`).

    Returns
    -------
    DataFrame
        One column per rule, clipped to :math:`\pm` :data:`MARGIN_LIMIT`.
    """
    rules = check_rules(rules)
    q, index = _quantities_of(x, table)
    return pd.DataFrame(_margin_matrix(q, scales or RuleScales(), rules), columns=list(rules), index=index)


def verdicts(x, table=DEFAULT_TABLE, rules=ALL_RULES) -> pd.DataFrame:
    """The rules' quantities and verdicts from compositions, one row per alloy.

    Parameters
    ----------
    x : DataFrame or array_like
        Compositions, as for :func:`quantities`.
    table : str or ElementTable
        Element table (default ``"standard"``).
    rules : sequence of str
        Rules whose verdicts to give and to count in ``votes`` (default
        :data:`ALL_RULES`).

    Returns
    -------
    DataFrame
        The columns of :func:`quantities`; a boolean column per rule (True =
        single phase); ``vec_phase`` (``"FCC"``, ``"BCC"``, ``"FCC+BCC"``);
        ``lambda_phase`` (``"single"``, ``"two phases"``, ``"compounds"``);
        ``votes``, how many of ``rules`` say single phase; and
        ``single_phase``, the overall verdict ``(yang2012 or zhang2008) and
        guo2011``.
    """
    rules = check_rules(rules)
    q, index = _quantities_of(x, table)
    verdict = _rule_verdicts(q)
    frame = pd.DataFrame({name: q[name] for name in QUANTITIES}, index=index)
    for rule in rules:
        frame[rule] = verdict[rule]
    frame["vec_phase"] = verdict["vec_phase"]
    frame["lambda_phase"] = verdict["lambda_phase"]
    frame["votes"] = np.sum([verdict[rule] for rule in rules], axis=0)
    frame["single_phase"] = verdict["single_phase"]
    return frame


def classifier_scores(x, table=DEFAULT_TABLE, rules=RULES, scales: RuleScales | None = None) -> pd.DataFrame:
    """The rules alone as a classifier of single-phase alloys, from compositions.

    Returns
    -------
    DataFrame
        ``score``: the mean margin of ``rules`` (with the default three
        rules, the literature-only expert prior's log-odds), for ranking (ROC
        AUC); ``prediction``: the overall verdict of :func:`verdicts` as 0/1;
        ``majority``: 1 when more than half of ``rules`` say single phase.
    """
    rules = check_rules(rules)
    q, index = _quantities_of(x, table)
    return _scores(q, index, scales or RuleScales(), rules)


def _scores(q: dict, index, scales: RuleScales, rules: tuple[str, ...]) -> pd.DataFrame:
    verdict = _rule_verdicts(q)
    votes = np.sum([verdict[rule] for rule in rules], axis=0)
    # The same sum as ExpertPrior().log_odds (weights 1/J), to the last bit.
    weights = np.full(len(rules), 1 / len(rules))
    return pd.DataFrame({"score": _margin_matrix(q, scales, rules) @ weights,
                         "prediction": verdict["single_phase"].astype(int),
                         "majority": (2 * votes > len(rules)).astype(int)}, index=index)


# --------------------------------------------------------------------------
# From the 8 features (any table): the three rules of RULES


def margins_of_features(features, scales: RuleScales | None = None, rules=RULES) -> np.ndarray:
    """(n, len(rules)) clipped margins from features; ``wang2015`` is refused (it needs radii)."""
    e, _ = _feature_matrix(features)
    return _margin_matrix(_quantities_of_features(e), scales or RuleScales(), check_rules(rules))


def rule_margins(features, scales: RuleScales | None = None) -> pd.DataFrame:
    """Signed margin of each rule of :data:`RULES` from features; positive means "single phase".

    Parameters
    ----------
    features : DataFrame or array_like
        A frame with the :data:`~hea_dvae.features.FEATURES` columns, or an
        array of shape (n, 8) (or (8,)) in that order.
    scales : RuleScales, optional
        Scale of each condition's margin; default :class:`RuleScales`.

    Returns
    -------
    DataFrame
        Columns :data:`RULES` (``yang2012``, ``zhang2008``, ``guo2011``),
        clipped to :math:`\\pm` :data:`MARGIN_LIMIT`; the index of
        ``features`` if it is a frame.

    Raises
    ------
    ValueError
        Wrong shape, missing columns or non-finite values.
    """
    e, index = _feature_matrix(features)
    values = _margin_matrix(_quantities_of_features(e), scales or RuleScales(), RULES)
    return pd.DataFrame(values, columns=list(RULES), index=index)


def rules_verdict(features) -> pd.DataFrame:
    """The quantities the rules read and each rule's verdict, from features, one row per alloy.

    Parameters
    ----------
    features : DataFrame or array_like
        As for :func:`rule_margins`.

    Returns
    -------
    DataFrame
        ``omega`` (inf where the mixing enthalpy is zero), ``delta`` (%),
        ``vec``, ``delta_h_mix`` (kJ/mol), ``delta_s_mix`` (J/(mol K)); the
        boolean verdicts ``yang2012``, ``zhang2008``, ``guo2011`` (True =
        single phase); ``vec_phase`` (``"FCC"``, ``"BCC"`` or ``"FCC+BCC"``);
        and ``single_phase``, the overall verdict
        ``(yang2012 or zhang2008) and guo2011``.
    """
    e, index = _feature_matrix(features)
    q = _quantities_of_features(e)
    verdict = _rule_verdicts(q)
    frame = pd.DataFrame({name: q[name] for name in _FEATURE_VERDICT_QUANTITIES}, index=index)
    for column in (*RULES, "vec_phase", "single_phase"):
        frame[column] = verdict[column]
    return frame


def rules_classifier_scores(features) -> pd.DataFrame:
    """The three rules of :data:`RULES` alone as a classifier, from features.

    Returns
    -------
    DataFrame
        ``score``: the literature-only prior's log-odds (the mean of the
        three rule margins), for ranking (ROC AUC); ``prediction``: the
        overall verdict of :func:`rules_verdict` as 0/1.
    """
    e, index = _feature_matrix(features)
    scores = _scores(_quantities_of_features(e), index, RuleScales(), RULES)
    return scores[["score", "prediction"]]


# --------------------------------------------------------------------------
# The rules as classifiers, side by side


#: Row names of :func:`baseline_table` besides the rules themselves.
VOTE_OF_RULES = "vote of RULES (literature prior; overall verdict)"
VOTE_OF_ALL = "vote of ALL_RULES (mean margin; majority)"
DELTA_ALONE = "delta alone (-delta; delta <= 6.6 %)"


def baseline_table(x, labels, parts=None, tables=TABLES) -> pd.DataFrame:
    """ROC AUC and accuracy of each rule, of two votes and of delta alone, per element table.

    Parameters
    ----------
    x : DataFrame or array_like
        Compositions, as for :func:`quantities`.
    labels : array_like
        0/1 labels (1 = single phase), one per alloy.
    parts : mapping, optional
        name -> boolean mask (or positions) selecting alloys, e.g.
        ``{"test": ..., "all": ...}``; default ``{"all": every alloy}``.
    tables : sequence of str
        Element tables to compare.

    Returns
    -------
    DataFrame
        Index (``table``, ``classifier``); columns ``<part> auc`` and
        ``<part> accuracy``. A rule ranks by its margin and predicts its
        verdict; :data:`VOTE_OF_RULES` ranks by the literature prior's
        log-odds and predicts the overall verdict; :data:`VOTE_OF_ALL` ranks
        by the mean margin of :data:`ALL_RULES` and predicts their majority;
        :data:`DELTA_ALONE` ranks by :math:`-\\delta` (a smaller mismatch
        first) and predicts :math:`\\delta \\le 6.6\\,\\%`.
    """
    array, _ = _composition_array(x)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(array):
        raise ValueError(f"{len(array)} alloys but {len(labels)} labels")
    parts = {"all": np.ones(len(array), dtype=bool)} if parts is None else dict(parts)
    rows = {}
    for table in tables:
        q, _ = _quantities_of(array, table)
        margin = _margin_matrix(q, RuleScales(), ALL_RULES)
        verdict = _rule_verdicts(q)
        three = _scores(q, None, RuleScales(), RULES)
        every = _scores(q, None, RuleScales(), ALL_RULES)
        classifiers = {rule: (margin[:, k], verdict[rule]) for k, rule in enumerate(ALL_RULES)}
        classifiers[VOTE_OF_RULES] = (three["score"].to_numpy(), three["prediction"].to_numpy())
        classifiers[VOTE_OF_ALL] = (every["score"].to_numpy(), every["majority"].to_numpy())
        classifiers[DELTA_ALONE] = (-q["delta"], q["delta"] <= DELTA_MAX + BOUNDARY_TOLERANCE)
        for name, (score, prediction) in classifiers.items():
            row = {}
            for part, chosen in parts.items():
                row[f"{part} auc"] = roc_auc(labels[chosen], score[chosen])
                row[f"{part} accuracy"] = accuracy(labels[chosen], np.asarray(prediction, dtype=float)[chosen])
            rows[table, name] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["table", "classifier"]
    return out
