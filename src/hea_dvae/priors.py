r"""An expert-informed prior p(y = 1) from empirical rules of solid-solution formation.

The SSVAE's prior on the label of an alloy is Bernoulli(r); the authors'
code uses r = 0.5 for every alloy (flat). This module builds the prior the
paper describes but never uses: for each alloy whose label is unknown, r is
computed from three established rules, evaluated on the alloy's own features
(:data:`hea_dvae.features.FEATURES`).

The rules
---------
With :math:`T_m` the rule-of-mixtures melting point (K), :math:`\Delta S`
the ideal mixing entropy (J/(mol K)), :math:`\Delta H` the mixing enthalpy
(kJ/mol), :math:`\delta` the size mismatch (%) and VEC the valence-electron
concentration:

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

The overall verdict of :func:`rules_verdict` is ``(yang2012 or zhang2008) and
guo2011``: a solid solution forms, and VEC lies outside the duplex band.

Signed margins
--------------
Each condition gets a signed margin in units of a fixed scale
(:class:`RuleScales`), positive on the single-phase side: for example
:math:`u_\delta = (6.6 - \delta) / s_\delta` and
:math:`u_\Omega = \ln(\Omega / 1.1) / s_{\ln\Omega}` (the logarithm because
:math:`\Omega` spans orders of magnitude and diverges as :math:`\Delta H \to 0`).
A rule that is a conjunction of conditions takes the smallest of their
margins; the VEC rule, a union (FCC or BCC), takes
:math:`\max(\mathrm{VEC} - 8, 6.87 - \mathrm{VEC}) / s_\mathrm{VEC}`. So a
rule's margin is positive exactly when the rule says single phase (up to the
strict inequality VEC < 6.87), and its size says how clearly. Margins are
clipped to :math:`\pm` :data:`MARGIN_LIMIT`.

The prior
---------
Each rule, read as a soft verdict :math:`\sigma(m_j)`, has log-odds
:math:`m_j`. The prior pools them log-linearly (a logarithmic opinion pool,
i.e. a logistic regression on the rule margins):

.. math::

    p(y = 1) = \mathrm{clip}\big(\sigma(b + \textstyle\sum_j w_j m_j),\;
    c,\; 1 - c\big), \qquad w_j \ge 0,

with the cap :math:`c` (default 0.05) so that the prior never reaches 0 or 1.

* The literature-only default, ``ExpertPrior()``, has :math:`b = 0` and
  :math:`w_j = 1/3`: the three rules' log-odds averaged, nothing fitted.
* :meth:`ExpertPrior.fit` learns :math:`b` and :math:`w` by penalised maximum
  likelihood on the labelled alloys it is given (and only those); the weights
  stay non-negative, so the prior can never reward breaking a rule.

The scales are chosen, not fitted: each is a change that is clearly
significant for its rule, about a tenth of the quantity's range among the
dataset's alloys (:math:`\ln\Omega` 0.5, :math:`\delta` 1 %,
:math:`\Delta H` 5 kJ/mol, :math:`\Delta S` 1.5 J/(mol K), VEC 0.5).

Everything here is numpy: no torch, no model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from .features import FEATURES

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

#: The rules, in the column order of :func:`rule_margins`.
RULES: tuple[str, ...] = ("yang2012", "zhang2008", "guo2011")

#: Margins are clipped to plus or minus this many scale units.
MARGIN_LIMIT = 10.0

#: Verdicts compare with this slack, so that an alloy exactly on a boundary
#: (VEC 8 of CoCrFeMnNi, summed in floating point) gets one verdict however
#: its features were computed.
BOUNDARY_TOLERANCE = 1e-9

#: Default cap: the prior stays in [DEFAULT_CAP, 1 - DEFAULT_CAP].
DEFAULT_CAP = 0.05

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
    """

    log_omega: float = 0.5
    delta: float = 1.0
    h_mix: float = 5.0
    s_mix: float = 1.5
    vec: float = 0.5

    def __post_init__(self):
        bad = {f.name: getattr(self, f.name) for f in fields(self)
               if not (np.isfinite(getattr(self, f.name)) and getattr(self, f.name) > 0)}
        if bad:
            raise ValueError(f"rule scales must be positive numbers, got {bad}")


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


def _quantities(features) -> tuple[dict, pd.Index | None]:
    e, index = _feature_matrix(features)
    used = e[:, [_TM, _DELTA, _VEC, _S_MIX, _H_MIX]]
    if not np.isfinite(used).all():
        rows = np.flatnonzero(~np.isfinite(used).all(axis=1))
        raise ValueError(f"features are not finite in {len(rows)} row(s), first rows {rows[:5].tolist()}")
    tm, delta, vec, s_mix, h_mix = used.T
    # The entropy of a pure element is -R*eps*ln(1+eps) < 0 by a hair; no entropy, no Omega.
    numerator = tm * np.maximum(s_mix, 0.0)
    denominator = 1000.0 * np.abs(h_mix)
    with np.errstate(divide="ignore", invalid="ignore"):
        omega = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0),
                         np.where(numerator > 0, np.inf, 0.0))
    return {"omega": omega, "delta": delta, "vec": vec, "delta_h_mix": h_mix,
            "delta_s_mix": s_mix}, index


def rule_margins(features, scales: RuleScales | None = None) -> pd.DataFrame:
    """Signed margin of each rule, in scale units; positive means "single phase".

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
    scales = scales or RuleScales()
    q, index = _quantities(features)
    with np.errstate(divide="ignore"):
        u_omega = np.log(q["omega"] / OMEGA_MIN) / scales.log_omega
    u_delta = (DELTA_MAX - q["delta"]) / scales.delta
    h, s = q["delta_h_mix"], q["delta_s_mix"]
    yang = np.minimum(u_omega, u_delta)
    zhang = np.min(
        [
            u_delta,
            (h - H_MIX_RANGE[0]) / scales.h_mix,
            (H_MIX_RANGE[1] - h) / scales.h_mix,
            (s - S_MIX_RANGE[0]) / scales.s_mix,
            (S_MIX_RANGE[1] - s) / scales.s_mix,
        ],
        axis=0,
    )
    guo = np.maximum(q["vec"] - VEC_FCC, VEC_BCC - q["vec"]) / scales.vec
    margins = np.clip(np.stack([yang, zhang, guo], axis=1), -MARGIN_LIMIT, MARGIN_LIMIT)
    return pd.DataFrame(margins, columns=list(RULES), index=index)


def rules_verdict(features) -> pd.DataFrame:
    """The quantities the rules read and each rule's verdict, one row per alloy.

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
    q, index = _quantities(features)
    tol = BOUNDARY_TOLERANCE
    delta_ok = q["delta"] <= DELTA_MAX + tol
    yang = (q["omega"] >= OMEGA_MIN - tol) & delta_ok
    zhang = (
        (q["delta_h_mix"] >= H_MIX_RANGE[0] - tol) & (q["delta_h_mix"] <= H_MIX_RANGE[1] + tol)
        & (q["delta_s_mix"] >= S_MIX_RANGE[0] - tol) & (q["delta_s_mix"] <= S_MIX_RANGE[1] + tol)
        & delta_ok
    )
    fcc, bcc = q["vec"] >= VEC_FCC - tol, q["vec"] < VEC_BCC - tol
    frame = pd.DataFrame(q, index=index)
    frame["yang2012"] = yang
    frame["zhang2008"] = zhang
    frame["guo2011"] = fcc | bcc
    frame["vec_phase"] = np.where(fcc, "FCC", np.where(bcc, "BCC", "FCC+BCC"))
    frame["single_phase"] = (yang | zhang) & (fcc | bcc)
    return frame


def _check_cap(cap) -> float:
    if isinstance(cap, bool) or not isinstance(cap, (int, float, np.floating)) or not 0 < cap < 0.5:
        raise ValueError(f"cap must be a number in (0, 0.5), got {cap!r}")
    return float(cap)


@dataclass(frozen=True)
class ExpertPrior:
    """p(y = 1) from the rule margins: a capped logistic in :func:`rule_margins`.

    ``ExpertPrior()`` is the literature-only default (intercept 0, each rule
    weight 1/3); :meth:`fit` learns the intercept and weights from labelled
    alloys. See the module docstring for the formula.

    Attributes
    ----------
    weights : tuple of float
        Non-negative weight of each rule margin, in :data:`RULES` order.
    intercept : float
        Log-odds of an alloy on every rule's boundary.
    cap : float
        The prior is clipped to ``[cap, 1 - cap]``; in (0, 0.5).
    scales : RuleScales
        Scales of the margins.
    n_fitted : int
        Number of labelled alloys the parameters were fitted on (0: literature only).
    """

    weights: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3)
    intercept: float = 0.0
    cap: float = DEFAULT_CAP
    scales: RuleScales = field(default_factory=RuleScales)
    n_fitted: int = 0

    def __post_init__(self):
        weights = tuple(float(w) for w in np.asarray(self.weights, dtype=float).reshape(-1))
        if len(weights) != len(RULES) or not all(np.isfinite(w) and w >= 0 for w in weights):
            raise ValueError(
                f"weights must be {len(RULES)} non-negative numbers (one per rule in {RULES}), "
                f"got {self.weights!r}"
            )
        if not np.isfinite(self.intercept):
            raise ValueError(f"intercept must be finite, got {self.intercept!r}")
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "intercept", float(self.intercept))
        object.__setattr__(self, "cap", _check_cap(self.cap))

    @property
    def fitted(self) -> bool:
        """Whether the parameters were learnt from labelled alloys."""
        return self.n_fitted > 0

    @classmethod
    def fit(
        cls,
        features,
        labels,
        cap: float = DEFAULT_CAP,
        scales: RuleScales | None = None,
        l2: float = 1e-3,
    ) -> "ExpertPrior":
        """Fit intercept and weights on labelled alloys (and nothing else).

        Minimises the mean binary cross-entropy of
        :math:`\\sigma(b + \\sum_j w_j m_j)` plus :math:`\\tfrac{l_2}{2}\\|w\\|^2`
        over :math:`w \\ge 0` (L-BFGS-B, deterministic). Pass the labelled
        training alloys of a run only: never validation or test alloys.

        Parameters
        ----------
        features : DataFrame or array_like
            Features of the labelled alloys (as for :func:`rule_margins`).
        labels : array_like
            Their labels, 0 or 1; both classes must be present.
        cap : float
            Cap of the fitted prior.
        scales : RuleScales, optional
            Scales of the margins.
        l2 : float
            Ridge penalty on the weights (>= 0); keeps the fit unique when
            margins are collinear.

        Returns
        -------
        ExpertPrior
        """
        scales = scales or RuleScales()
        margins = rule_margins(features, scales).to_numpy()
        y = np.asarray(labels, dtype=float).reshape(-1)
        if len(y) != len(margins):
            raise ValueError(f"{len(margins)} alloys but {len(y)} labels")
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError(f"labels must be 0 or 1, found {sorted(set(np.unique(y)) - {0.0, 1.0})[:5]}")
        if len(np.unique(y)) < 2:
            raise ValueError("fitting the expert prior needs labelled alloys of both classes")
        if not l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {l2!r}")
        design = np.column_stack([np.ones(len(y)), margins])

        def objective(theta):
            logits = design @ theta
            # log(1 + exp(t)) - y t, computed stably.
            loss = np.mean(np.logaddexp(0.0, logits) - y * logits) + 0.5 * l2 * theta[1:] @ theta[1:]
            grad = design.T @ (expit(logits) - y) / len(y)
            grad[1:] += l2 * theta[1:]
            return loss, grad

        rate = y.mean()
        start = np.array([np.log(rate / (1 - rate)), *cls().weights])
        bounds = [(None, None)] + [(0.0, None)] * len(RULES)
        result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                          options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-9})
        return cls(weights=tuple(result.x[1:]), intercept=float(result.x[0]), cap=cap,
                   scales=scales, n_fitted=len(y))

    def log_odds(self, features) -> np.ndarray:
        """Uncapped log-odds :math:`b + \\sum_j w_j m_j`, shape (n,)."""
        margins = rule_margins(features, self.scales).to_numpy()
        return self.intercept + margins @ np.asarray(self.weights)

    def probability(self, features) -> np.ndarray:
        """p(y = 1) of each alloy, shape (n,), within ``[cap, 1 - cap]``."""
        return np.clip(expit(self.log_odds(features)), self.cap, 1 - self.cap)

    def __call__(self, features) -> np.ndarray:
        return self.probability(features)

    def to_dict(self) -> dict:
        """Plain values, e.g. for a training history's metadata."""
        out = asdict(self)
        out["weights"] = list(self.weights)
        return {"kind": "expert", **out}


@dataclass(frozen=True)
class ConstantPrior:
    """The same p(y = 1) = ``r`` for every alloy (``r = 0.5``: the paper's flat prior)."""

    r: float = 0.5

    def __post_init__(self):
        r = self.r
        if isinstance(r, bool) or not isinstance(r, (int, float, np.floating)) or not 0 < r < 1:
            raise ValueError(f"a constant prior must be a number in (0, 1), got {r!r}")
        object.__setattr__(self, "r", float(r))

    def probability(self, features) -> np.ndarray:
        """``r`` for each alloy, shape (n,)."""
        n = len(_feature_matrix(features)[0])
        return np.full(n, self.r)

    def __call__(self, features) -> np.ndarray:
        return self.probability(features)

    def to_dict(self) -> dict:
        return {"kind": "constant", "r": self.r}


PRIOR_SPECS = ("flat", "expert", "expert-literature")


def resolve_prior(spec, labelled_features=None, labelled_labels=None):
    """Turn a prior specification into an object giving p(y = 1) per alloy.

    Parameters
    ----------
    spec : str, float or prior
        ``"flat"`` (0.5 for every alloy, the paper's choice); ``"expert"``
        (:class:`ExpertPrior` fitted on the labelled alloys given, or the
        literature default when none are given); ``"expert-literature"``
        (the literature default, never fitted); a number ``r`` in (0, 1), or
        a string holding one (a constant prior); or a
        :class:`ConstantPrior` / :class:`ExpertPrior`, returned unchanged.
    labelled_features, labelled_labels : optional
        The run's labelled training alloys, to fit ``"expert"`` on. Both or
        neither.

    Returns
    -------
    ConstantPrior or ExpertPrior
        Callable; ``prior.probability(features)`` gives an array (n,) in (0, 1).

    Raises
    ------
    ValueError
        An unknown specification, a number outside (0, 1), or only one of
        ``labelled_features`` and ``labelled_labels``.
    """
    if (labelled_features is None) != (labelled_labels is None):
        raise ValueError("give both labelled_features and labelled_labels, or neither")
    if isinstance(spec, (ConstantPrior, ExpertPrior)):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key == "flat":
            return ConstantPrior(0.5)
        if key == "expert":
            if labelled_features is None:
                return ExpertPrior()
            return ExpertPrior.fit(labelled_features, labelled_labels)
        if key == "expert-literature":
            return ExpertPrior()
        try:
            value = float(key)
        except ValueError:
            raise ValueError(
                f"unknown prior {spec!r}: use one of {PRIOR_SPECS} or a number in (0, 1)"
            ) from None
        if not 0 < value < 1:
            raise ValueError(f"a constant prior must be in (0, 1), got {spec!r}")
        return ConstantPrior(value)
    if isinstance(spec, (int, float, np.floating)) and not isinstance(spec, bool):
        if not (np.isfinite(spec) and 0 < spec < 1):
            raise ValueError(f"a constant prior must be in (0, 1), got {spec!r}")
        return ConstantPrior(float(spec))
    raise ValueError(f"unknown prior {spec!r}: use one of {PRIOR_SPECS} or a number in (0, 1)")


def rules_classifier_scores(features) -> pd.DataFrame:
    """The rules alone as a classifier of single-phase alloys.

    Returns
    -------
    DataFrame
        ``score``: the literature-only prior's log-odds (the mean of the
        three rule margins), for ranking (ROC AUC); ``prediction``: the
        overall verdict of :func:`rules_verdict` as 0/1.
    """
    scores = pd.DataFrame({"score": ExpertPrior().log_odds(features)})
    verdict = rules_verdict(features)
    scores.index = verdict.index
    scores["prediction"] = verdict["single_phase"].astype(int)
    return scores
