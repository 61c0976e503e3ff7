r"""An expert-informed prior p(y = 1) from empirical rules of solid-solution formation.

The SSVAE's prior on the label of an alloy is Bernoulli(r); the authors'
code uses r = 0.5 for every alloy (flat). This module builds the prior the
paper describes but never uses: for each alloy whose label is unknown, r is
computed from established rules of solid-solution formation
(:mod:`hea_dvae.rules`: Yang & Zhang's Omega and delta, Zhang et al.'s
windows, Guo et al.'s VEC bands by default).

The prior reads either

* **compositions**, with an element table (``ExpertPrior(table="standard")``,
  :meth:`ExpertPrior.fit_compositions`): the rules are evaluated on the
  radii and mixing enthalpies they were calibrated on, whatever table a
  model's features use. This is the recommended form; or
* **features** (``table=None``, :meth:`ExpertPrior.fit`): the rules read the
  8 features a model is given, on whatever table computed them.

The prior
---------
Each rule :math:`j`, read as a soft verdict :math:`\sigma(m_j)` of its
signed margin :math:`m_j` (:func:`hea_dvae.rules.margins`), has log-odds
:math:`m_j`. The prior pools them log-linearly (a logarithmic opinion pool,
i.e. a logistic regression on the rule margins):

.. math::

    p(y = 1) = \mathrm{clip}\big(\sigma(b + \textstyle\sum_j w_j m_j),\;
    c,\; 1 - c\big), \qquad w_j \ge 0,

with the cap :math:`c` (default 0.05) so that the prior never reaches 0 or 1.

* The literature-only default, ``ExpertPrior()``, has :math:`b = 0` and
  :math:`w_j = 1/J` over its :math:`J` rules (three by default): the rules'
  log-odds averaged, nothing fitted.
* :meth:`ExpertPrior.fit` and :meth:`ExpertPrior.fit_compositions` learn
  :math:`b` and :math:`w` by penalised maximum likelihood on the labelled
  alloys they are given (and only those); the weights stay non-negative, so
  the prior can never reward breaking a rule.

Everything here is numpy: no torch, no model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from .checks import number
from .elements import ELEMENTS, FEATURES, TABLES
# The rules moved to hea_dvae.rules; these names stay importable from here.
from .rules import (  # noqa: F401
    ALL_RULES,
    BOUNDARY_TOLERANCE,
    DEFAULT_TABLE,
    DELTA_MAX,
    EXTRA_RULES,
    H_MIX_RANGE,
    MARGIN_LIMIT,
    OMEGA_MIN,
    RULES,
    S_MIX_RANGE,
    VEC_BCC,
    VEC_FCC,
    RuleScales,
    check_rules,
    margins,
    margins_of_features,
    rule_margins,
    rules_classifier_scores,
    rules_verdict,
)

#: Default cap: the prior stays in [DEFAULT_CAP, 1 - DEFAULT_CAP].
DEFAULT_CAP = 0.05


def _check_cap(cap) -> float:
    return number("cap", cap, 0, 0.5, low_open=True, high_open=True)


def _fit_logistic(margin_matrix: np.ndarray, labels, l2: float, start_weights) -> tuple[float, np.ndarray]:
    """Intercept and non-negative weights minimising the mean cross-entropy plus an L2 penalty."""
    y = np.asarray(labels, dtype=float).reshape(-1)
    if len(y) != len(margin_matrix):
        raise ValueError(f"{len(margin_matrix)} alloys but {len(y)} labels")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"labels must be 0 or 1, found {sorted(set(np.unique(y)) - {0.0, 1.0})[:5]}")
    if len(np.unique(y)) < 2:
        raise ValueError("fitting the expert prior needs labelled alloys of both classes")
    if not l2 >= 0:
        raise ValueError(f"l2 must be >= 0, got {l2!r}")
    design = np.column_stack([np.ones(len(y)), margin_matrix])

    def objective(theta):
        logits = design @ theta
        # log(1 + exp(t)) - y t, computed stably.
        loss = np.mean(np.logaddexp(0.0, logits) - y * logits) + 0.5 * l2 * theta[1:] @ theta[1:]
        grad = design.T @ (expit(logits) - y) / len(y)
        grad[1:] += l2 * theta[1:]
        return loss, grad

    rate = y.mean()
    start = np.array([np.log(rate / (1 - rate)), *start_weights])
    bounds = [(None, None)] + [(0.0, None)] * margin_matrix.shape[1]
    result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-9})
    return float(result.x[0]), result.x[1:]


@dataclass(frozen=True)
class ExpertPrior:
    """p(y = 1) from rule margins: a capped logistic in the margins of :mod:`hea_dvae.rules`.

    ``ExpertPrior()`` is the literature-only default on features (intercept
    0, each of the three rules of :data:`RULES` weighted 1/3);
    ``ExpertPrior(table="standard")`` the same on compositions.
    :meth:`fit` and :meth:`fit_compositions` learn the intercept and weights
    from labelled alloys. See the module docstring for the formula.

    Attributes
    ----------
    weights : tuple of float, optional
        Non-negative weight of each rule margin, in ``rules`` order; default
        ``1/len(rules)`` each.
    intercept : float
        Log-odds of an alloy on every rule's boundary.
    cap : float
        The prior is clipped to ``[cap, 1 - cap]``; in (0, 0.5).
    scales : RuleScales
        Scales of the margins.
    n_fitted : int
        Number of labelled alloys the parameters were fitted on (0: literature only).
    rules : tuple of str
        The rules pooled (default :data:`RULES`; any of
        :data:`~hea_dvae.rules.ALL_RULES`).
    table : str or None
        ``None``: :meth:`probability` reads the 8 features (any table).
        An element-table name (``"standard"``): it reads compositions (n, 30)
        and evaluates the rules on that table. ``wang2015`` needs compositions.
    """

    weights: tuple[float, ...] | None = None
    intercept: float = 0.0
    cap: float = DEFAULT_CAP
    scales: RuleScales = field(default_factory=RuleScales)
    n_fitted: int = 0
    rules: tuple[str, ...] = RULES
    table: str | None = None

    def __post_init__(self):
        rules = check_rules(self.rules)
        if self.table is None and "wang2015" in rules:
            raise ValueError("the rule wang2015 needs compositions: give the prior a table (e.g. table='standard')")
        if self.table is not None and self.table not in TABLES:
            raise ValueError(f"unknown element table {self.table!r}; choose one of {TABLES} or None (features)")
        weights = (1 / len(rules),) * len(rules) if self.weights is None else self.weights
        weights = tuple(float(w) for w in np.asarray(weights, dtype=float).reshape(-1))
        if len(weights) != len(rules) or not all(np.isfinite(w) and w >= 0 for w in weights):
            raise ValueError(
                f"weights must be {len(rules)} non-negative numbers (one per rule in {rules}), "
                f"got {self.weights!r}"
            )
        if not np.isfinite(self.intercept):
            raise ValueError(f"intercept must be finite, got {self.intercept!r}")
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "intercept", float(self.intercept))
        object.__setattr__(self, "cap", _check_cap(self.cap))

    @property
    def fitted(self) -> bool:
        """Whether the parameters were learnt from labelled alloys."""
        return self.n_fitted > 0

    @property
    def reads(self) -> str:
        """``"features"`` or ``"compositions"``: what :meth:`probability` expects."""
        return "features" if self.table is None else "compositions"

    @classmethod
    def fit(
        cls,
        features,
        labels,
        cap: float = DEFAULT_CAP,
        scales: RuleScales | None = None,
        l2: float = 1e-3,
        rules=RULES,
    ) -> "ExpertPrior":
        """Fit intercept and weights on labelled alloys' features (and nothing else).

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
        rules : sequence of str
            Rules to pool (default :data:`RULES`; not ``wang2015``).

        Returns
        -------
        ExpertPrior
            A prior that reads features (``table=None``).
        """
        scales = scales or RuleScales()
        rules = check_rules(rules)
        intercept, weights = _fit_logistic(margins_of_features(features, scales, rules), labels, l2,
                                           cls(rules=rules).weights)
        return cls(weights=tuple(weights), intercept=intercept, cap=cap, scales=scales,
                   n_fitted=int(np.size(labels)), rules=rules)

    @classmethod
    def fit_compositions(
        cls,
        x,
        labels,
        table: str = DEFAULT_TABLE,
        cap: float = DEFAULT_CAP,
        scales: RuleScales | None = None,
        l2: float = 1e-3,
        rules=RULES,
    ) -> "ExpertPrior":
        """Fit intercept and weights on labelled alloys' compositions, the rules on ``table``.

        As :meth:`fit`, with the margins computed from compositions by
        :func:`hea_dvae.rules.margins` on the element table ``table``
        (default ``"standard"``), whatever table a model's features use.

        Parameters
        ----------
        x : DataFrame or array_like
            Compositions of the labelled alloys: shape (n, 30), or a frame
            with the 30 element columns.
        labels : array_like
            Their labels, 0 or 1; both classes must be present.
        table : str
            Element table of the rules.
        cap, scales, l2 :
            As for :meth:`fit`.
        rules : sequence of str
            Rules to pool (default :data:`RULES`; any of ``ALL_RULES``).

        Returns
        -------
        ExpertPrior
            A prior that reads compositions on ``table``.
        """
        scales = scales or RuleScales()
        rules = check_rules(rules)
        intercept, weights = _fit_logistic(margins(x, table, scales, rules).to_numpy(), labels, l2,
                                           cls(rules=rules, table=table).weights)
        return cls(weights=tuple(weights), intercept=intercept, cap=cap, scales=scales,
                   n_fitted=int(np.size(labels)), rules=rules, table=table)

    def margins(self, inputs) -> np.ndarray:
        """(n, len(rules)) margins of ``inputs``: features, or compositions when ``table`` is set."""
        if self.table is None:
            return margins_of_features(inputs, self.scales, self.rules)
        width = inputs.shape[1] if isinstance(inputs, np.ndarray) and inputs.ndim == 2 else None
        if width == len(FEATURES):
            raise ValueError(f"this prior reads compositions (n, {len(ELEMENTS)}) and evaluates the rules "
                             f"on the {self.table!r} table; got features of shape {inputs.shape}")
        return margins(inputs, self.table, self.scales, self.rules).to_numpy()

    def log_odds(self, inputs) -> np.ndarray:
        """Uncapped log-odds :math:`b + \\sum_j w_j m_j`, shape (n,).

        ``inputs`` are features (``table=None``) or compositions (``table`` set).
        """
        return self.intercept + self.margins(inputs) @ np.asarray(self.weights)

    def probability(self, inputs) -> np.ndarray:
        """p(y = 1) of each alloy, shape (n,), within ``[cap, 1 - cap]``.

        ``inputs`` are features (``table=None``) or compositions (``table`` set).
        """
        return np.clip(expit(self.log_odds(inputs)), self.cap, 1 - self.cap)

    def __call__(self, inputs) -> np.ndarray:
        return self.probability(inputs)

    def to_dict(self) -> dict:
        """Plain values, e.g. for a training history's metadata."""
        out = asdict(self)
        out["weights"] = list(self.weights)
        out["rules"] = list(self.rules)
        return {"kind": "expert", **out}


def _n_alloys(inputs) -> int:
    """Number of alloys in features (n, 8) or compositions (n, 30), a frame or an array."""
    if hasattr(inputs, "columns"):
        return len(inputs)
    array = np.asarray(inputs, dtype=float)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] not in (len(FEATURES), len(ELEMENTS)):
        raise ValueError(f"expected features (n, {len(FEATURES)}) or compositions (n, {len(ELEMENTS)}), "
                         f"got shape {np.shape(inputs)}")
    return len(array)


@dataclass(frozen=True)
class ConstantPrior:
    """The same p(y = 1) = ``r`` for every alloy (``r = 0.5``: the paper's flat prior)."""

    r: float = 0.5

    def __post_init__(self):
        r = self.r
        object.__setattr__(self, "r", number("a constant prior", r, 0, 1, low_open=True, high_open=True))

    def probability(self, inputs) -> np.ndarray:
        """``r`` for each alloy of ``inputs`` (features or compositions), shape (n,)."""
        return np.full(_n_alloys(inputs), self.r)

    def __call__(self, inputs) -> np.ndarray:
        return self.probability(inputs)

    def to_dict(self) -> dict:
        return {"kind": "constant", "r": self.r}


PRIOR_SPECS = ("flat", "expert", "expert-literature")


def resolve_prior(spec, labelled_features=None, labelled_labels=None, *,
                  labelled_compositions=None, table: str | None = None):
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
        The run's labelled training alloys, to fit ``"expert"`` on their
        features. Give labels with either features or compositions.
    labelled_compositions : optional
        The run's labelled training alloys as compositions (n, 30): the
        expert prior is then fitted, and later evaluated, from compositions
        with the rules on ``table`` (default ``"standard"``), whatever table
        the model's features use.
    table : str, optional
        Element table of a composition-reading expert prior. Given alone
        (no labelled alloys), ``"expert"`` is the literature default on
        compositions with this table.

    Returns
    -------
    ConstantPrior or ExpertPrior
        Callable; ``prior.probability(inputs)`` gives an array (n,) in (0, 1).
        An expert prior reads features when fitted on features (or given
        neither compositions nor a table), compositions otherwise
        (:attr:`ExpertPrior.reads`); a constant prior reads either.

    Raises
    ------
    ValueError
        An unknown specification, a number outside (0, 1), labels without
        alloys (or the reverse), both features and compositions, or a table
        with features.
    """
    if labelled_features is not None and labelled_compositions is not None:
        raise ValueError("give labelled_features or labelled_compositions, not both")
    alloys = labelled_features if labelled_compositions is None else labelled_compositions
    if (alloys is None) != (labelled_labels is None):
        raise ValueError("give both labelled_features (or labelled_compositions) and labelled_labels, or neither")
    if table is not None and labelled_features is not None:
        raise ValueError("a table applies to a prior that reads compositions; labelled_features were given")
    composition_table = table or (DEFAULT_TABLE if labelled_compositions is not None else None)
    if isinstance(spec, (ConstantPrior, ExpertPrior)):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key == "flat":
            return ConstantPrior(0.5)
        if key == "expert":
            if labelled_compositions is not None:
                return ExpertPrior.fit_compositions(labelled_compositions, labelled_labels, table=composition_table)
            if labelled_features is not None:
                return ExpertPrior.fit(labelled_features, labelled_labels)
            return ExpertPrior(table=composition_table)
        if key == "expert-literature":
            return ExpertPrior(table=composition_table)
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


def prior_of_run(spec, labelled_x, labelled_y, pool_x):
    """A training run's prior and p(y = 1) of every alloy of its pool.

    The expert prior is fitted on the run's labelled alloys only, and read
    from compositions with the rules on the element table they were
    calibrated on (:data:`hea_dvae.rules.DEFAULT_TABLE`), whatever table the
    model's own features use.

    Parameters
    ----------
    spec : str, float or prior
        As for :func:`resolve_prior`.
    labelled_x, labelled_y : array-like
        The run's labelled alloys: fractions (n, 30) and labels.
    pool_x : array-like (m, 30)
        Fractions of every alloy of the run's pool (labelled then unlabelled).

    Returns
    -------
    prior, numpy.ndarray (m,) of float32
    """
    labelled_x = np.asarray(labelled_x, dtype=np.float64)
    labelled_x = labelled_x / labelled_x.sum(axis=1, keepdims=True)
    pool_x = np.asarray(pool_x, dtype=np.float64)
    pool_x = pool_x / pool_x.sum(axis=1, keepdims=True)
    prior = resolve_prior(spec, labelled_compositions=labelled_x, labelled_labels=np.asarray(labelled_y))
    return prior, np.asarray(prior.probability(pool_x), dtype=np.float32).reshape(-1)
