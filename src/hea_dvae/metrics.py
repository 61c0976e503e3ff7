"""Classification and reconstruction metrics of a trained model on a split part.

Reconstruction follows the authors' ``reconstruct.py``: encode an alloy with
its true label to the mean of q(z|x,y), decode with the same label, and
compare the decoded composition with the true one in atomic percent.

Below the model metrics: calibration (expected calibration error,
reliability tables, temperature scaling) and bootstrap intervals of test
metrics; then paired comparisons of two models, the one implementation the
book uses (:func:`paired_difference`, a bootstrap over alloys and runs;
:func:`paired_t`, a corrected t interval over cross-validation folds), with
one vocabulary of columns (:data:`PAIRED_COLUMNS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from scipy import stats
from scipy.optimize import minimize_scalar
from scipy.special import expit
from scipy.stats import rankdata

from . import checks
from .data import as_arrays
from .scores import (  # noqa: F401  (re-exported: metrics is the evaluation API)
    PRESENCE_THRESHOLD,
    accuracy,
    brier,
    reconstruction_errors,
    roc_auc,
)


@torch.no_grad()
def reconstruct(model, fractions, labels) -> np.ndarray:
    """decode(mean of q(z|x,y), y) for each alloy, as fractions of shape (n, 30)."""
    was_training = model.training
    model.eval()
    try:
        mean, _ = model.encode(fractions, labels)
        return model.decode(mean, labels).cpu().numpy()
    finally:
        model.train(was_training)


def evaluate(model, frame) -> dict:
    """All metrics of ``model`` on a split part (a frame from :func:`hea_dvae.data.paper_split`).

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``auc``, ``brier`` of q(y|e), and the
        reconstruction errors of :func:`reconstruction_errors`
        (``mae_all``, ``mae_present``, ``element_set_recovered``), obtained by
        encoding and decoding each alloy with its true label.
    """
    fractions, features, labels = as_arrays(frame)
    probabilities = model.predict_proba(features)
    reconstructed = reconstruct(model, fractions, labels)
    return {
        "n": int(len(labels)),
        "accuracy": accuracy(labels, probabilities),
        "auc": roc_auc(labels, probabilities),
        "brier": brier(labels, probabilities),
        **reconstruction_errors(fractions, reconstructed),
    }


def summarize(scores, columns=None, decimals: int = 3) -> pd.DataFrame:
    """Mean and standard deviation over runs, and a ``mean ± std`` text column.

    Parameters
    ----------
    scores : DataFrame or list of dict
        One row per run (e.g. one per seed), one column per metric.
    columns : list of str, optional
        Metrics to summarise; default every numeric column but ``n`` and ``seed``.
    decimals : int
        Rounding of the text column.

    Returns
    -------
    DataFrame
        Index: metric; columns ``mean``, ``std`` (sample, ddof=1), ``runs``
        and ``mean ± std``.
    """
    frame = pd.DataFrame(scores)
    if columns is None:
        columns = [c for c in frame.select_dtypes("number").columns if c not in ("n", "seed")]
    values = frame[list(columns)]
    out = pd.DataFrame({"mean": values.mean(), "std": values.std(ddof=1), "runs": len(frame)})
    out["mean ± std"] = [
        f"{m:.{decimals}f} ± {s:.{decimals}f}" for m, s in zip(out["mean"], out["std"].fillna(0))
    ]
    return out


def comparison_table(runs: dict, columns, decimals: int = 3) -> pd.DataFrame:
    """One row per method: ``mean ± std`` over its runs, or the value of a single run.

    Parameters
    ----------
    runs : dict
        method name -> DataFrame with one row per run and a column per metric
        (missing metrics are shown as empty).
    columns : list of str
        Metrics to show, in order.
    """
    table = {}
    for name, frame in runs.items():
        frame = pd.DataFrame(frame)
        row = {}
        for column in columns:
            if column not in frame:
                row[column] = ""
                continue
            values = frame[column].astype(float)
            if len(values) > 1:
                row[column] = f"{values.mean():.{decimals}f} ± {values.std(ddof=1):.{decimals}f}"
            else:
                row[column] = f"{values.iloc[0]:.{decimals}f}"
        row["runs"] = len(frame)
        table[name] = row
    return pd.DataFrame.from_dict(table, orient="index")[[*columns, "runs"]]


def against_targets(ours, released, targets) -> pd.DataFrame:
    """Where each target stands: our value, the released model's, and whether ours meets it.

    Parameters
    ----------
    ours, released : mapping
        metric -> value (e.g. the ``mean`` column of :func:`summarize`, and
        :func:`evaluate` of the released model).
    targets : mapping
        metric -> (direction, goal), direction ``">="`` or ``"<="``.

    Returns
    -------
    DataFrame
        One row per target: ``target`` (as text), ``ours (mean)``,
        ``released`` and ``met``.
    """
    rows = {}
    for name, (sign, goal) in targets.items():
        if sign not in (">=", "<="):
            raise ValueError(f"target {name!r}: direction must be '>=' or '<=', got {sign!r}")
        rows[name] = {"target": f"{sign} {goal}", "ours (mean)": ours[name], "released": released[name],
                      "met": bool(ours[name] >= goal if sign == ">=" else ours[name] <= goal)}
    return pd.DataFrame(rows).T


# --------------------------------------------------------------------------
# Calibration and uncertainty of test metrics


#: Test metrics the bootstrap computes vectorised, by name.
BOOTSTRAP_METRICS: tuple[str, ...] = ("accuracy", "auc", "brier", "ece")


class Interval(NamedTuple):
    """A point estimate with an interval (a percentile bootstrap, or a t interval over runs)."""

    estimate: float
    low: float
    high: float


def _check_scored(labels, scores, name: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=float).reshape(-1)
    scores = np.asarray(scores, dtype=float).reshape(-1)
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels but {len(scores)} {name}")
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"labels must be 0 or 1, found {sorted(set(np.unique(labels)) - {0.0, 1.0})[:5]}")
    if not np.isfinite(scores).all():
        raise ValueError(f"{name} must be finite; {int((~np.isfinite(scores)).sum())} are not")
    return labels, scores


def _check_bins(n_bins) -> int:
    return checks.integer("n_bins", n_bins, minimum=1)


def _bin_index(probabilities: np.ndarray, n_bins: int) -> np.ndarray:
    # Equal-width bins [k/n, (k+1)/n); a probability of exactly 1 joins the last bin.
    return np.minimum((probabilities * n_bins).astype(int), n_bins - 1)


def expected_calibration_error(labels, probabilities, n_bins: int = 10) -> float:
    r"""Expected calibration error with equal-width bins.

    The interval [0, 1] is cut into ``n_bins`` bins of equal width
    ([k/n, (k+1)/n), the last one closed); then

    .. math:: \mathrm{ECE} = \sum_b \frac{n_b}{N}\,|\bar p_b - \bar y_b|,

    the gap between the mean predicted probability and the observed
    single-phase rate of each bin, weighted by the bin's share of alloys.
    0 for a perfectly calibrated model; empty bins contribute nothing.
    """
    labels, probabilities = _check_scored(labels, probabilities, "probabilities")
    n_bins = _check_bins(n_bins)
    if len(labels) == 0:
        return float("nan")
    bins = _bin_index(probabilities, n_bins)
    gap = np.bincount(bins, weights=probabilities - labels, minlength=n_bins)
    return float(np.abs(gap).sum() / len(labels))


def reliability_table(labels, probabilities, n_bins: int = 10) -> pd.DataFrame:
    """Observed single-phase rate against mean predicted probability, per equal-width bin.

    Returns
    -------
    DataFrame
        One row per bin (empty bins included, with NaN rates): ``bin``,
        ``lower``, ``upper``, ``mean_predicted``, ``observed_rate``, ``count``.
        The bins are those of :func:`expected_calibration_error`.
    """
    labels, probabilities = _check_scored(labels, probabilities, "probabilities")
    n_bins = _check_bins(n_bins)
    bins = _bin_index(probabilities, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(bins, weights=probabilities, minlength=n_bins) / count
        observed = np.bincount(bins, weights=labels, minlength=n_bins) / count
    edges = np.linspace(0, 1, n_bins + 1)
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "lower": edges[:-1],
            "upper": edges[1:],
            "mean_predicted": mean_predicted,
            "observed_rate": observed,
            "count": count,
        }
    )


def to_logits(probabilities, eps: float = 1e-7) -> np.ndarray:
    """Log-odds of probabilities, clipped to [eps, 1 - eps] first (so 0 and 1 stay finite)."""
    p = np.clip(np.asarray(probabilities, dtype=float), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def fit_temperature(labels, logits, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    r"""Temperature scaling: the T > 0 minimising the NLL of :math:`\sigma(\ell / T)`.

    Fit it on validation alloys, never on the test alloys it will be judged
    on. A 1-D bounded minimisation over :math:`\log T` (Brent's method).
    T > 1 softens over-confident probabilities; T < 1 sharpens them;
    rankings, hence ROC AUC and accuracy at 0.5, do not change.

    Parameters
    ----------
    labels : array_like
        0 or 1.
    logits : array_like
        The model's log-odds (see :func:`to_logits` for probabilities).
    bounds : tuple of float
        Search interval for T.

    Returns
    -------
    float
    """
    labels, logits = _check_scored(labels, logits, "logits")
    low, high = bounds
    if not 0 < low < high:
        raise ValueError(f"bounds must satisfy 0 < low < high, got {bounds!r}")
    if len(labels) == 0:
        raise ValueError("fit_temperature needs at least one alloy")

    def nll(log_t):
        scaled = logits / np.exp(log_t)
        return np.mean(np.logaddexp(0.0, scaled) - labels * scaled)

    result = minimize_scalar(nll, bounds=(np.log(low), np.log(high)), method="bounded",
                             options={"xatol": 1e-8})
    return float(np.exp(result.x))


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """Probabilities :math:`\\sigma(\\ell / T)` of temperature-scaled logits."""
    temperature = checks.number("temperature", temperature, 0, low_open=True)
    return expit(np.asarray(logits, dtype=float) / temperature)


def _resample_indices(labels: np.ndarray, n_boot: int, seed, stratified: bool) -> np.ndarray:
    """Index sets of ``n_boot`` resamples, shape (n_boot, n), drawn at once.

    ``seed`` may be a :class:`numpy.random.Generator`, which is drawn from
    (and advanced): a caller that compares several settings in turn passes
    one generator to all of them.
    """
    rng = np.random.default_rng(seed)
    n = len(labels)
    if not stratified:
        return rng.integers(0, n, size=(n_boot, n))
    parts = []
    for value in (1.0, 0.0):
        members = np.flatnonzero(labels == value)
        if len(members):
            parts.append(members[rng.integers(0, len(members), size=(n_boot, len(members)))])
    return np.concatenate(parts, axis=1)


def roc_auc_rows(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``scores`` against the matching row of ``labels`` (rank formula).

    Rows with only one class get NaN. Used for resamples, all at once.
    """
    n_pos = labels.sum(axis=1)
    n_neg = labels.shape[1] - n_pos
    ranks = rankdata(scores, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * labels).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def metric_rows(metric, labels: np.ndarray, scores: np.ndarray, calls: np.ndarray | None = None) -> np.ndarray:
    """``metric`` of each row of 2-D ``labels`` and ``scores`` (one resample or run per row).

    Named metrics are computed for all rows at once. ``calls`` (0/1, same
    shape) are the model's verdicts, which ``"accuracy"`` scores instead of
    ``scores > 0.5``: a classifier that ranks by one number and decides by
    another (the empirical rules rank by log-odds) gives both.
    """
    if callable(metric):
        return np.array([metric(y_row, p_row) for y_row, p_row in zip(labels, scores)], dtype=float)
    if metric == "accuracy":
        called = (scores > 0.5) if calls is None else (calls == 1)
        return (called == (labels == 1)).mean(axis=1)
    if metric == "brier":
        return ((scores - labels) ** 2).mean(axis=1)
    if metric == "auc":
        return roc_auc_rows(labels, scores)
    if metric == "ece":
        n_bins = 10
        rows = np.arange(len(labels))[:, None] * n_bins + _bin_index(scores, n_bins)
        gap = np.bincount(rows.ravel(), weights=(scores - labels).ravel(), minlength=len(labels) * n_bins)
        return np.abs(gap.reshape(len(labels), n_bins)).sum(axis=1) / labels.shape[1]
    raise ValueError(f"unknown metric {metric!r}: use one of {BOOTSTRAP_METRICS} or a callable")


def _metric_rows(metric, labels: np.ndarray, scores: np.ndarray, index: np.ndarray,
                 calls: np.ndarray | None = None) -> np.ndarray:
    """:func:`metric_rows` of the alloys of each row of ``index`` (rows of alloy indices)."""
    return metric_rows(metric, labels[index], scores[index], None if calls is None else calls[index])


def _check_bootstrap(metric, n_boot, level):
    if not callable(metric) and metric not in BOOTSTRAP_METRICS:
        raise ValueError(f"unknown metric {metric!r}: use one of {BOOTSTRAP_METRICS} or a callable")
    checks.integer("n_boot", n_boot, minimum=1)
    checks.number("level", level, 0, 1, low_open=True, high_open=True)


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    if np.isnan(values).all():
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_interval(
    labels,
    scores,
    metric="auc",
    n_boot: int = 2000,
    seed=0,
    level: float = 0.95,
    stratified: bool = True,
) -> Interval:
    """A test metric with its percentile bootstrap interval.

    Alloys are resampled with replacement ``n_boot`` times; with
    ``stratified`` the single- and multi-phase alloys are resampled
    separately, so that every resample keeps the class counts (and AUC is
    always defined). All index sets are drawn at once and the named metrics
    are computed for all resamples in one go (AUC by ranks per resample):
    2,000 resamples of 138 alloys take a few tens of milliseconds.

    Parameters
    ----------
    labels : array_like
        0 or 1.
    scores : array_like
        Probabilities of single phase (any score, for ``"auc"``).
    metric : str or callable
        ``"accuracy"`` (threshold 0.5), ``"auc"``, ``"brier"``, ``"ece"``
        (10 equal-width bins), or ``f(labels, scores) -> float`` (looped,
        slower).
    n_boot : int
        Number of resamples.
    seed : int or numpy.random.SeedSequence
        Seed of the resampling.
    level : float
        Coverage of the interval.
    stratified : bool
        Resample within each class.

    Returns
    -------
    Interval
        ``estimate`` (the metric on all alloys), ``low``, ``high``
        (percentiles of the resampled metric; resamples where the metric is
        undefined are left out).
    """
    labels, scores = _check_scored(labels, scores)
    _check_bootstrap(metric, n_boot, level)
    estimate = float(_metric_rows(metric, labels, scores, np.arange(len(labels))[None, :])[0])
    index = _resample_indices(labels, n_boot, seed, stratified)
    return Interval(estimate, *_percentiles(_metric_rows(metric, labels, scores, index), level))


# --------------------------------------------------------------------------
# Paired comparisons: one model against another on the same alloys (and runs)

#: Metrics where a lower value is better (a model "wins" a run with the lower one).
LOWER_IS_BETTER = frozenset({"brier", "ece"})

#: Columns of every paired comparison (:func:`paired_frame`), in order; ``std``
#: and ``p_value`` only for the t interval over folds (:func:`paired_t`).
PAIRED_COLUMNS: tuple[str, ...] = ("difference", "low", "high", "clear", "runs", "wins", "ties",
                                   "std", "p_value")


@dataclass(frozen=True)
class PairedDifference:
    """A metric of model a minus model b on the same alloys (and runs), with its interval.

    Attributes
    ----------
    difference : float
        Mean over the paired runs of ``metric(a) - metric(b)`` (one run: the
        difference itself).
    low, high : float
        The interval of ``difference``.
    runs : int
        Paired runs: seeds (both models trained with the same seed) or folds.
    wins, ties : int
        Runs where a is better than b (lower for :data:`LOWER_IS_BETTER`),
        and where both score the same.
    std : float
        Standard deviation of the per-run differences (:func:`paired_t`; NaN
        for a bootstrap).
    p_value : float
        Two-sided p-value of the t interval (:func:`paired_t`; NaN for a
        bootstrap).
    """

    difference: float
    low: float
    high: float
    runs: int = 1
    wins: int = 0
    ties: int = 0
    std: float = float("nan")
    p_value: float = float("nan")

    @property
    def clear(self) -> bool:
        """Whether the interval excludes 0."""
        return bool(self.low > 0 or self.high < 0)

    def row(self) -> dict:
        """The comparison as one row of :data:`PAIRED_COLUMNS`."""
        return {name: getattr(self, name) for name in PAIRED_COLUMNS}


def _run_wins(per_run: np.ndarray, metric) -> tuple[int, int]:
    better = per_run < 0 if metric in LOWER_IS_BETTER else per_run > 0
    return int(better.sum()), int((per_run == 0).sum())


def paired_difference(
    labels,
    scores_a,
    scores_b,
    metric="auc",
    n_boot: int = 2000,
    seed=0,
    level: float = 0.95,
    stratified: bool = True,
    calls_a=None,
    calls_b=None,
) -> PairedDifference:
    """Difference of a test metric between two models on the same alloys, with a paired bootstrap interval.

    Each resample draws one set of alloys and scores both models on it, so
    that what the alloys have in common cancels: the interval is that of
    ``metric(a) - metric(b)``, usually much narrower than the two separate
    intervals suggest. A model compared with itself gives exactly 0 and
    [0, 0].

    With several paired runs (``scores_a`` and ``scores_b`` of shape
    ``(runs, n)``: run k of a and of b share a seed, hence their labelled
    alloys), the difference is the mean over runs, and the bootstrap covers
    both sources of chance: every resample draws alloys (shared by every run
    and both models) and then runs, with replacement, and averages the
    drawn runs' differences on the drawn alloys.

    Parameters
    ----------
    labels : array_like (n,)
        0 or 1, the same alloys for both models and every run.
    scores_a, scores_b : array_like (n,) or (runs, n)
        Probabilities of single phase (any score, for ``"auc"``).
    metric : str or callable
        As for :func:`bootstrap_interval`.
    n_boot : int
        Number of resamples.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the resampling; a generator is drawn from, so that
        comparisons made in turn draw one stream (as
        :func:`hea_dvae.ablation.paired_comparison` does).
    level : float
        Coverage of the interval.
    stratified : bool
        Resample within each class.
    calls_a, calls_b : array_like, optional
        0/1 verdicts, shaped as the scores, that ``"accuracy"`` scores
        instead of ``scores > 0.5``.

    Returns
    -------
    PairedDifference
        ``difference``, ``low``, ``high``, ``runs``, ``wins`` and ``ties``.
    """
    labels = np.asarray(labels, dtype=float).reshape(-1)
    several = np.ndim(scores_a) == 2
    a, b = (np.atleast_2d(np.asarray(s, dtype=float)) for s in (scores_a, scores_b))
    if a.shape != b.shape or a.shape[1] != len(labels):
        raise ValueError(f"{len(labels)} labels but scores of shapes {a.shape} and {b.shape}")
    for name, scores in (("scores_a", a), ("scores_b", b)):
        for row in scores:
            _check_scored(labels, row, name)
    _check_bootstrap(metric, n_boot, level)
    calls_a, calls_b = (None if c is None else np.atleast_2d(np.asarray(c, dtype=float)) for c in (calls_a, calls_b))
    runs = len(a)
    tiled = np.broadcast_to(labels, a.shape)
    per_run = metric_rows(metric, tiled, a, calls_a) - metric_rows(metric, tiled, b, calls_b)
    rng = np.random.default_rng(seed)
    index = _resample_indices(labels, n_boot, rng, stratified)
    resampled = np.stack([
        _metric_rows(metric, labels, a[k], index, None if calls_a is None else calls_a[k])
        - _metric_rows(metric, labels, b[k], index, None if calls_b is None else calls_b[k])
        for k in range(runs)
    ])  # (runs, n_boot)
    if several:
        drawn = rng.integers(0, runs, size=(runs, n_boot))
        resampled = resampled[drawn, np.arange(n_boot)].mean(axis=0)
    else:
        resampled = resampled[0]
    wins, ties = _run_wins(per_run, metric)
    return PairedDifference(float(per_run.mean()), *_percentiles(resampled, level), runs=runs, wins=wins,
                            ties=ties)


def paired_bootstrap(
    labels,
    scores_a,
    scores_b,
    metric="auc",
    n_boot: int = 2000,
    seed=0,
    level: float = 0.95,
    stratified: bool = True,
) -> Interval:
    """:func:`paired_difference` of two single models, as an :class:`Interval`.

    Returns
    -------
    Interval
        ``estimate`` (the difference a - b on all alloys), ``low``, ``high``.
    """
    labels, scores_a = _check_scored(labels, scores_a, "scores_a")
    _, scores_b = _check_scored(labels, scores_b, "scores_b")
    paired = paired_difference(labels, scores_a, scores_b, metric, n_boot, seed, level, stratified)
    return Interval(paired.difference, paired.low, paired.high)


def paired_t(differences, folds: int, level: float = 0.95, metric: str = "auc") -> PairedDifference:
    r"""Mean of per-fold differences with the corrected t interval of Nadeau & Bengio (2003).

    Cross-validation folds share most of their training alloys, so their
    differences are correlated and the plain t interval would be too narrow.
    The variance of the mean is :math:`(1/J + n_\mathrm{test}/n_\mathrm{train})\,s_d^2`
    over the :math:`J` differences (folds of all repeats), with
    :math:`n_\mathrm{test}/n_\mathrm{train} = 1/(k-1)` for k folds.

    Parameters
    ----------
    differences : array_like
        ``metric(a) - metric(b)`` of each fold (of every repeat).
    folds : int
        k of the k-fold.
    level : float
        Coverage of the interval.
    metric : str
        Only decides which side wins (:data:`LOWER_IS_BETTER`).

    Returns
    -------
    PairedDifference
        Also ``std`` (ddof=1) and the two-sided ``p_value``. A model compared
        with itself gives 0, [0, 0] and p = 1; with one difference the
        interval is undefined (NaN).
    """
    d = np.asarray(differences, dtype=float).reshape(-1)
    n = len(d)
    mean = float(np.mean(d))
    std = float(np.std(d, ddof=1)) if n > 1 else float("nan")
    se = np.sqrt((1 / n + 1 / (folds - 1)) * std**2) if n > 1 and folds > 1 else float("nan")
    if n > 1 and se > 0:
        half = stats.t.ppf(0.5 + level / 2, df=n - 1) * se
        p_value = float(2 * stats.t.sf(abs(mean) / se, df=n - 1))
    else:
        half, p_value = (0.0, 1.0) if n > 1 and mean == 0 else (float("nan"), float("nan"))
    wins, ties = _run_wins(d, metric)
    return PairedDifference(mean, mean - half, mean + half, runs=n, wins=wins, ties=ties, std=std,
                            p_value=p_value)


def mean_interval(mean: float, std: float, runs: int, level: float = 0.95) -> Interval:
    """Student-t interval of a mean over ``runs`` independent runs (NaN bounds with fewer than 2)."""
    if runs < 2 or not np.isfinite(std):
        return Interval(float(mean), float("nan"), float("nan"))
    half = float(stats.t.ppf(0.5 + level / 2, runs - 1)) * std / np.sqrt(runs)
    return Interval(float(mean), float(mean - half), float(mean + half))


def single_run_interval(mean: float, std: float, runs: int, level: float = 0.95) -> Interval:
    """Where one more run would fall: the t prediction interval from ``runs`` runs' mean and std.

    The right yardstick for a number the paper reports from a single run:
    ``mean ± t · std · sqrt(1 + 1/runs)``.
    """
    if runs < 2 or not np.isfinite(std):
        return Interval(float(mean), float("nan"), float("nan"))
    half = float(stats.t.ppf(0.5 + level / 2, runs - 1)) * std * np.sqrt(1 + 1 / runs)
    return Interval(float(mean), float(mean - half), float(mean + half))


def difference_of_means(mean_a: float, std_a: float, runs_a: int, mean_b: float, std_b: float, runs_b: int,
                        level: float = 0.95) -> Interval:
    """``mean_a - mean_b`` of two independent sets of runs, with Welch's t interval.

    For two seed means scored on the same test alloys (ours and the paper's
    five runs) the test set's sampling noise is common to both, so only the
    spread over runs enters.
    """
    var_a, var_b = std_a**2 / runs_a, std_b**2 / runs_b
    difference = float(mean_a - mean_b)
    if runs_a < 2 or runs_b < 2 or not np.isfinite(var_a + var_b):
        return Interval(difference, float("nan"), float("nan"))
    se = np.sqrt(var_a + var_b)
    if se == 0:
        return Interval(difference, difference, difference)
    dof = (var_a + var_b) ** 2 / (var_a**2 / (runs_a - 1) + var_b**2 / (runs_b - 1)) if var_a + var_b else 1.0
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    return Interval(difference, difference - half, difference + half)


def paired_frame(comparisons: dict, names=None, columns=PAIRED_COLUMNS) -> pd.DataFrame:
    """Paired comparisons as one table, a row per key, the columns of :data:`PAIRED_COLUMNS`.

    Parameters
    ----------
    comparisons : dict
        key -> :class:`PairedDifference`; tuple keys make a MultiIndex.
    names : str or list of str, optional
        Name(s) of the index.
    columns : sequence of str
        The columns kept (``std`` and ``p_value`` are dropped when no
        comparison has them).
    """
    rows = {key: comparison.row() for key, comparison in comparisons.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(PAIRED_COLUMNS))
    if frame.empty:
        frame = pd.DataFrame(columns=list(PAIRED_COLUMNS))
    kept = [c for c in columns if c not in ("std", "p_value") or frame[c].notna().any()]
    frame = frame[kept]
    if names is not None:
        if isinstance(names, str):
            frame.index.name = names
        else:
            frame.index = pd.MultiIndex.from_tuples(frame.index, names=names)
    return frame


def interval_table(
    labels,
    predictions: dict,
    metrics=("accuracy", "auc", "brier", "ece"),
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Test metrics of several models, each with its bootstrap interval.

    Parameters
    ----------
    labels : array_like
        0 or 1, the same alloys for every model.
    predictions : dict
        model name -> probabilities of single phase.
    metrics : sequence of str
        Names accepted by :func:`bootstrap_interval`.

    Returns
    -------
    DataFrame
        One row per model; for each metric the estimate and a text column
        ``"<metric> 95 % interval"``.
    """
    rows = {}
    for name, scores in predictions.items():
        row = {}
        for metric in metrics:
            estimate, low, high = bootstrap_interval(labels, scores, metric, n_boot, seed, level)
            row[metric] = estimate
            row[f"{metric} {level:.0%} interval"] = f"[{low:.3f}, {high:.3f}]"
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def paired_table(
    labels,
    reference: str,
    predictions: dict,
    metric: str = "auc",
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Every model's ``metric`` minus the reference model's, paired on the same alloys.

    Returns
    -------
    DataFrame
        One row per other model (``"name − reference"``): ``difference``,
        ``low``, ``high`` (the paired bootstrap interval, :func:`paired_difference`)
        and ``clear``: whether the interval excludes 0.
    """
    if reference not in predictions:
        raise KeyError(f"reference model {reference!r} is not among {sorted(predictions)}")
    comparisons = {
        f"{name} − {reference}": paired_difference(labels, scores, predictions[reference], metric, n_boot,
                                                   seed, level)
        for name, scores in predictions.items() if name != reference
    }
    return paired_frame(comparisons, columns=("difference", "low", "high", "clear"))
