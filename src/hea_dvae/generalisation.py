r"""Which predictor holds on alloy systems it has never seen: nested grouped cross-validation.

A user of ``predict`` and ``design`` asks about alloy systems outside the
data, so the measure of a predictor is cross-validation with *grouped*
folds (:func:`hea_dvae.evaluation.cv_folds`, scheme ``"grouped"``): no
element set is on both sides of a fold. This module compares, on those
folds and the corrected element table (:data:`TABLE`):

- the scikit-learn forests and boosted trees of
  :func:`hea_dvae.baselines.sklearn_baselines` on the paper's 8 features and
  on the 31 descriptors of :mod:`hea_dvae.descriptors` (*fixed* models);
- the same two families with their *choices* (which input set, and a small
  grid of settings, :data:`GRIDS`) made by cross-validation **inside each
  outer training part** (*nested* models): inner grouped folds over the
  outer fold's labelled alloys only, so the outer test fold never takes part
  in a choice.

The folds and the labelled alloys of each fold are exactly those of
:func:`hea_dvae.evaluation.cross_validate` with the same ``n_folds``,
``n_repeats``, ``validation_share``, ``unlabelled_share`` and ``seed``
(:func:`hea_dvae.evaluation.fold_parts` with the seed of
:func:`hea_dvae.evaluation.fold_seed`), and the models are seeded the same
way: the SSVAE scored there and the models scored here are compared fold by
fold with :func:`hea_dvae.evaluation.compare_models` on the concatenated
results. As there, the supervised models see only a fold's labelled alloys
(not its validation or unlabelled alloys).

Beyond the scores, three questions about a predictor's uncertainty on
unseen systems:

- does its spread rank its own wrong predictions above its right ones
  (:func:`spread_ranks_errors`; a forest's spread is the standard deviation
  of its trees' probabilities)?
- is it calibrated (the ``ece`` metric of the results, and
  :func:`hea_dvae.metrics.reliability_table` of the pooled predictions)?
  How low can that error be on folds this small (:func:`ece_floor`), and
  does recalibrating on inner folds (a fixed model with ``calibration``)
  lower it?
- what is the ``outside_data`` flag of :func:`hea_dvae.design.data_flags`
  worth, computed against each outer fold's training part
  (:func:`outside_flags`, :func:`flag_value`)?
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from . import checks
from .baselines import sklearn_baselines
from .config import show_progress
from .data import load_dataset
from .descriptors import DESCRIPTORS
from .descriptors import model_inputs as descriptor_inputs
from .design.assessment import data_flags, reference_from
from .elements import ELEMENTS, FEATURES
from .evaluation import cv_folds, fold_parts, fold_seed, scheme_groups, score_predictions
from .metrics import accuracy, expected_calibration_error, paired_t, roc_auc

#: Element table of every input (the 8 features and the descriptors).
TABLE = "corrected"

#: Folds that hold whole alloy systems out (:func:`hea_dvae.evaluation.scheme_groups`).
SCHEME = "grouped"

#: Input sets a model may read: name -> columns of :func:`model_inputs`. The
#: first 8 descriptors are the paper's 8 features, so the sets are nested.
FEATURE_SETS: dict[str, tuple[str, ...]] = {"8": FEATURES, "31": DESCRIPTORS}

#: Settings tried for each family inside the outer training parts (the
#: family's :func:`hea_dvae.baselines.sklearn_baselines` default first).
GRIDS: dict[str, tuple[dict, ...]] = {
    "random_forest": ({"max_features": "sqrt"}, {"max_features": 0.5}),
    "gradient_boosting": ({"max_depth": 3}, {"max_depth": 5, "subsample": 0.8}),
}

#: Fixed models: (family, input set) or (family, input set, calibration), each
#: fitted with its default settings; a calibration (:data:`CALIBRATIONS`) maps
#: the model's probabilities through a function fitted on inner grouped folds.
FIXED: tuple[tuple[str, ...], ...] = (
    ("random_forest", "8"), ("random_forest", "31"), ("gradient_boosting", "8"), ("gradient_boosting", "31"),
    ("random_forest", "31", "isotonic"),
)  # fmt: skip

#: Recalibrations a fixed model may have (scikit-learn's
#: :class:`~sklearn.calibration.CalibratedClassifierCV` methods): each inner
#: fold's model is fitted on the others and its calibration map on the fold;
#: the predictor is the mean of the inner folds' calibrated models.
CALIBRATIONS: tuple[str, ...] = ("isotonic", "sigmoid")

#: Families whose input set and settings are chosen on inner folds.
NESTED: tuple[str, ...] = ("random_forest", "gradient_boosting")

#: Model name in the results -> what a reader sees (the SSVAE's name is the one
#: the chapter gives :func:`hea_dvae.evaluation.cross_validate`'s ``"ssvae"``).
MODEL_LABELS: dict[str, str] = {
    "ssvae_8": "SSVAE, 8 features",
    "ssvae_31": "SSVAE, 31 descriptors",
    "random_forest_8": "random forest, 8 features",
    "random_forest_31": "random forest, 31 descriptors",
    "random_forest_31_isotonic": "random forest, 31 descriptors, recalibrated",
    "gradient_boosting_8": "gradient boosting, 8 features",
    "gradient_boosting_31": "gradient boosting, 31 descriptors",
    "random_forest_nested": "random forest, nested choice",
    "gradient_boosting_nested": "gradient boosting, nested choice",
    "ssvae_8_forest_mean": "mean of the SSVAE on 8 features and the nested forest",
    "ssvae_31_forest_mean": "mean of the SSVAE on 31 descriptors and the nested forest",
}


def model_inputs(data: pd.DataFrame, table: str = TABLE) -> pd.DataFrame:
    """The 31 descriptors of each alloy as models read them.

    :func:`hea_dvae.descriptors.model_inputs` on ``table`` (default this
    module's :data:`TABLE`): :func:`~hea_dvae.descriptors.descriptor_frame`
    with :data:`~hea_dvae.descriptors.LOG_SCALED` replaced by their base-10
    logarithm after clipping to :data:`~hea_dvae.descriptors.LOG_CLIP`, so
    that every column is finite.

    Returns
    -------
    DataFrame
        Columns :data:`~hea_dvae.descriptors.DESCRIPTORS`, index of ``data``.
    """
    return descriptor_inputs(data, table=table)


@dataclass(frozen=True)
class Candidate:
    """One model a choice can make: a family, an input set and settings.

    Attributes
    ----------
    family : str
        ``"random_forest"`` or ``"gradient_boosting"``.
    features : str
        A key of :data:`FEATURE_SETS`.
    params : tuple of (str, value)
        Settings that differ from the family's default, sorted by name.
    calibration : str, optional
        One of :data:`CALIBRATIONS`: the probabilities are recalibrated on
        inner grouped folds of the alloys the model is fitted on
        (:meth:`fit`).
    """

    family: str
    features: str
    params: tuple = ()
    calibration: str | None = None

    def __post_init__(self):
        if self.family not in GRIDS:
            raise ValueError(f"unknown family {self.family!r}; choose from {tuple(GRIDS)}")
        if self.features not in FEATURE_SETS:
            raise ValueError(f"unknown input set {self.features!r}; choose from {tuple(FEATURE_SETS)}")
        if self.calibration is not None and self.calibration not in CALIBRATIONS:
            raise ValueError(f"unknown calibration {self.calibration!r}; choose from {CALIBRATIONS}")

    @property
    def key(self) -> str:
        """The model's name in the results: family, input set and calibration (e.g. ``random_forest_31``)."""
        return "_".join([self.family, self.features] + ([self.calibration] if self.calibration else []))

    @property
    def name(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.params)
        return self.key + (f" ({settings})" if settings else "")

    @property
    def columns(self) -> list[int]:
        """Positions of the candidate's inputs among :data:`~hea_dvae.descriptors.DESCRIPTORS`."""
        return [DESCRIPTORS.index(name) for name in FEATURE_SETS[self.features]]

    def estimator(self, seed: int, forest_trees: int | None = None):
        """The unfitted scikit-learn estimator, seeded; ``forest_trees`` overrides a forest's number of trees."""
        estimator = sklearn_baselines(seed)[self.family].set_params(**dict(self.params))
        if forest_trees is not None and self.family == "random_forest":
            estimator.set_params(n_estimators=forest_trees)
        return estimator

    def fit(self, data: pd.DataFrame, inputs: np.ndarray, positions: np.ndarray, seed: int, n_inner: int = 3):
        """The estimator fitted on the rows ``positions`` of ``inputs`` (their labels from ``data``).

        With a :attr:`calibration`, ``n_inner`` grouped folds of those rows
        (seeded by ``seed``) each fit the model on the others and a
        calibration map on the fold itself; the returned predictor averages
        the calibrated models. No alloy outside ``positions`` is read.
        """
        positions = np.asarray(positions)
        labels = data["label"].to_numpy()[positions]
        model = self.estimator(seed)
        if self.calibration is not None:
            inner = [(fit_at, score_at) for _, _, fit_at, score_at
                     in cv_folds(data.iloc[positions], SCHEME, n_inner, 1, seed)]
            model = CalibratedClassifierCV(model, method=self.calibration, cv=inner)
        return model.fit(inputs[np.ix_(positions, self.columns)], labels)


def candidates(family: str, feature_sets=tuple(FEATURE_SETS), grid=None) -> list[Candidate]:
    """Every input set times every setting of ``grid`` (default :data:`GRIDS`), defaults first."""
    grid = GRIDS[family] if grid is None else grid
    return [Candidate(family, features, tuple(sorted(params.items())))
            for features in feature_sets for params in grid]


def choose(data: pd.DataFrame, inputs: np.ndarray, positions: np.ndarray, options, n_inner: int = 3,
           seed: int = 0, forest_trees: int | None = None) -> tuple[Candidate, dict[Candidate, float]]:
    """The candidate with the best mean ROC AUC on inner grouped folds of ``positions`` only.

    Parameters
    ----------
    data : DataFrame
        All alloys (fractions and ``label``); only the rows ``positions``
        are read.
    inputs : ndarray (len(data), 31)
        :func:`model_inputs` of ``data``.
    positions : ndarray of int
        The alloys the choice may see (an outer fold's labelled alloys).
    options : sequence of Candidate
        Ties go to the first listed.
    n_inner : int
        Inner folds (grouped by element set, stratified).
    seed : int
        Seeds the inner folds and every fitted model.
    forest_trees : int, optional
        Trees of every inner forest (fewer than the final model's saves
        time; the same for every candidate).

    Returns
    -------
    best : Candidate
    scores : dict
        Candidate -> mean inner ROC AUC.
    """
    positions = np.asarray(positions)
    labels = data["label"].to_numpy()
    inner = cv_folds(data.iloc[positions], SCHEME, n_inner, 1, seed)
    scores = {}
    for option in options:
        aucs = []
        for _, _, fit_at, score_at in inner:
            fit_rows, score_rows = positions[fit_at], positions[score_at]
            model = option.estimator(seed, forest_trees)
            model.fit(inputs[np.ix_(fit_rows, option.columns)], labels[fit_rows])
            aucs.append(roc_auc(labels[score_rows], model.predict_proba(inputs[np.ix_(score_rows, option.columns)])[:, 1]))
        scores[option] = float(np.mean(aucs))
    best = max(options, key=lambda option: (scores[option], -list(options).index(option)))
    return best, scores


def tree_spread(model, inputs: np.ndarray) -> np.ndarray:
    """Standard deviation of a forest's trees' probabilities of single phase (NaN for other models)."""
    if not isinstance(model, RandomForestClassifier):
        return np.full(len(inputs), np.nan)
    return np.std([tree.predict_proba(inputs)[:, 1] for tree in model.estimators_], axis=0)


@dataclass(frozen=True, eq=False)
class _OuterFold:
    repeat: int
    fold: int
    labelled: np.ndarray
    test: np.ndarray
    seed: int


def _fit_and_score(option: Candidate, data, inputs, task: _OuterFold) -> tuple[np.ndarray, np.ndarray]:
    model = option.fit(data, inputs, task.labelled, task.seed)
    test_inputs = inputs[np.ix_(task.test, option.columns)]
    return model.predict_proba(test_inputs)[:, 1], tree_spread(model, test_inputs)


def _settings(option: Candidate, seed: int) -> tuple:
    """What makes two candidates the same fitted model: family, inputs and every estimator setting."""
    return (option.family, option.features, option.calibration,
            repr(sorted(option.estimator(seed).get_params().items())))


def _run_outer(data, inputs, task: _OuterFold, fixed, nested, n_inner, inner_trees):
    fitted = {}  # a chosen model identical to a fixed one (same inputs and settings) is not fitted twice

    def fit_once(option: Candidate):
        key = _settings(option, task.seed)
        if key not in fitted:
            fitted[key] = _fit_and_score(option, data, inputs, task)
        return fitted[key]

    with threadpool_limits(limits=1):
        outputs, choices = {}, []
        for option in map(_fixed_candidate, fixed):
            outputs[option.key] = fit_once(option)
        for family in nested:
            best, scores = choose(data, inputs, task.labelled, candidates(family), n_inner, task.seed, inner_trees)
            outputs[f"{family}_nested"] = fit_once(best)
            choices += [{"repeat": task.repeat, "fold": task.fold, "family": family, "candidate": option.name,
                         "features": option.features, "params": dict(option.params), "inner_auc": score,
                         "chosen": option == best} for option, score in scores.items()]
    labels = data["label"].to_numpy()[task.test]
    key = {"scheme": SCHEME, "table": TABLE, "repeat": task.repeat, "fold": task.fold}
    predictions = pd.concat([
        pd.DataFrame({**key, "model": name, "position": task.test, "formula": data["formula"].to_numpy()[task.test],
                      "label": labels, "probability": p, "spread": spread})
        for name, (p, spread) in outputs.items()
    ], ignore_index=True)
    return predictions, choices


def _fixed_candidate(entry) -> Candidate:
    """A :data:`FIXED` entry, (family, input set[, calibration]), as its candidate."""
    if not 2 <= len(entry) <= 3:
        raise ValueError(f"a fixed model is (family, input set[, calibration]), not {entry!r}")
    return Candidate(entry[0], entry[1], calibration=entry[2] if len(entry) == 3 else None)


@dataclass(frozen=True)
class NestedCV:
    """What :func:`nested_cross_validate` found.

    Attributes
    ----------
    results : DataFrame
        ``scheme, table, repeat, fold, model, metric, value``, as
        :func:`hea_dvae.evaluation.cross_validate` (concatenate the two and
        compare with :func:`hea_dvae.evaluation.compare_models`).
    predictions : DataFrame
        Every outer test alloy of every model: ``scheme, table, repeat,
        fold, model, position`` (row of the data), ``formula``, ``label``,
        ``probability``, ``spread`` (NaN but for forests).
    choices : DataFrame
        Every candidate of every nested choice: ``repeat, fold, family,
        candidate, features, params, inner_auc, chosen``.
    """

    results: pd.DataFrame
    predictions: pd.DataFrame
    choices: pd.DataFrame


def outer_folds(data: pd.DataFrame, n_folds: int = 5, n_repeats: int = 3, validation_share: float = 0.1,
                unlabelled_share: float = 0.25, seed: int = 0) -> list[dict]:
    """The outer grouped folds and each one's parts, as :func:`hea_dvae.evaluation.cross_validate` makes them.

    Returns
    -------
    list of dict
        ``repeat``, ``fold``, ``seed`` (of the fold's models), ``train`` and
        ``test`` positions, and the ``labelled``, ``unlabelled`` and
        ``validation`` positions of :func:`hea_dvae.evaluation.fold_parts`.
    """
    groups = scheme_groups(data, SCHEME)
    out = []
    for repeat, fold, train, test in cv_folds(data, SCHEME, n_folds, n_repeats, seed):
        model_seed = fold_seed(seed, repeat, fold)
        parts = fold_parts(data, groups, train, validation_share, unlabelled_share, model_seed)
        out.append({"repeat": repeat, "fold": fold, "seed": model_seed, "train": train, "test": test, **parts})
    return out


def nested_cross_validate(
    data: pd.DataFrame | None = None,
    inputs: pd.DataFrame | None = None,
    fixed=FIXED,
    nested=NESTED,
    n_folds: int = 5,
    n_repeats: int = 3,
    n_inner: int = 3,
    inner_trees: int | None = 100,
    validation_share: float = 0.1,
    unlabelled_share: float = 0.25,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> NestedCV:
    """Fixed and nested tree models on repeated outer grouped folds.

    Parameters
    ----------
    data : DataFrame, optional
        The tidy dataset (default :func:`hea_dvae.data.load_dataset`: all
        1,373 alloys).
    inputs : DataFrame, optional
        What the models read, one row per alloy of ``data``, columns
        :data:`~hea_dvae.descriptors.DESCRIPTORS` (default
        :func:`model_inputs` of ``data``).
    fixed : sequence of tuple
        (family, input set) or (family, input set, calibration) fitted with
        default settings (:data:`FIXED`).
    nested : sequence of str
        Families whose input set and settings are chosen by :func:`choose`
        on each outer fold's labelled alloys (:data:`NESTED`).
    n_folds, n_repeats : int
        Outer folds and repeats (as :func:`hea_dvae.evaluation.cv_folds`).
    n_inner : int
        Inner folds of every choice.
    inner_trees : int, optional
        Trees of the forests fitted for a choice (None: the default, 500);
        the chosen forest is refitted with the default number.
    validation_share, unlabelled_share, seed
        As for :func:`hea_dvae.evaluation.cross_validate`, so that the
        folds, labelled alloys and seeds are the same.
    n_jobs : int
        Worker processes over outer folds; results are identical to 1.
    progress : bool, optional
        Progress bar over outer folds.

    Returns
    -------
    NestedCV
    """
    data = load_dataset() if data is None else data.reset_index(drop=True)
    checks.integer("n_inner", n_inner, minimum=2)
    checks.integer("n_jobs", n_jobs, minimum=1)
    for entry in fixed:
        _fixed_candidate(entry)
    for family in nested:
        candidates(family)
    if not fixed and not nested:
        raise ValueError("give at least one fixed or nested model")
    inputs = model_inputs(data) if inputs is None else inputs
    if list(inputs.columns) != list(DESCRIPTORS) or len(inputs) != len(data):
        raise ValueError(f"inputs need one row per alloy and the columns {DESCRIPTORS}")
    inputs = inputs.to_numpy(dtype=float)
    tasks = [_OuterFold(f["repeat"], f["fold"], f["labelled"], f["test"], f["seed"])
             for f in outer_folds(data, n_folds, n_repeats, validation_share, unlabelled_share, seed)]
    bar = dict(total=len(tasks), desc="nested cross-validation", unit="fold", disable=not show_progress(progress))
    arguments = (tuple(fixed), tuple(nested), n_inner, inner_trees)
    if n_jobs == 1:
        outputs = [_run_outer(data, inputs, task, *arguments) for task in tqdm(tasks, **bar)]
    else:
        runner = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")
        outputs = list(tqdm(runner(delayed(_run_outer)(data, inputs, task, *arguments) for task in tasks), **bar))
    predictions = pd.concat([p for p, _ in outputs], ignore_index=True)
    results = score_predictions(predictions)
    choices = pd.DataFrame([c for _, rows in outputs for c in rows],
                           columns=["repeat", "fold", "family", "candidate", "features", "params", "inner_auc",
                                    "chosen"])
    return NestedCV(results, predictions, choices)


# --------------------------------------------------------------------------
# Uncertainty on unseen systems


def wrong(predictions: pd.DataFrame) -> np.ndarray:
    """Whether each prediction is wrong: ``probability > 0.5`` differs from the label."""
    return (predictions["probability"].to_numpy() > 0.5) != (predictions["label"].to_numpy() == 1)


def spread_ranks_errors(predictions: pd.DataFrame, model: str) -> pd.DataFrame:
    """Per outer fold: how well the spread tells ``model``'s wrong predictions from its right ones.

    Parameters
    ----------
    predictions : DataFrame
        :attr:`NestedCV.predictions` (or any frame with ``repeat, fold,
        model, label, probability, spread``).
    model : str

    Returns
    -------
    DataFrame
        One row per ``repeat, fold``: ``wrong`` (how many), ``spread_auc``
        (ROC AUC of the spread as a score of being wrong; 0.5 ranks no
        better than chance) and ``closeness_auc``, the same for
        :math:`0.5 - |p - 0.5|`, what the probability alone says about its
        own doubt: a spread is worth reporting where it beats that.
    """
    chosen = predictions[predictions["model"] == model]
    if chosen.empty:
        raise ValueError(f"no predictions of model {model!r}")
    if chosen["spread"].isna().all():
        raise ValueError(f"model {model!r} has no spread (only forests have one here)")
    rows = {}
    for key, fold in chosen.groupby(["repeat", "fold"], sort=True):
        errors = wrong(fold).astype(int)
        closeness = 0.5 - np.abs(fold["probability"].to_numpy() - 0.5)
        rows[key] = {"wrong": int(errors.sum()), "spread_auc": roc_auc(errors, fold["spread"].to_numpy()),
                     "closeness_auc": roc_auc(errors, closeness)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["repeat", "fold"])
    return out


def combine(predictions: pd.DataFrame, models, name: str) -> pd.DataFrame:
    """The mean probability of ``models`` on every outer test fold all of them were scored on.

    A combination of, say, the SSVAE and a forest, scored like any model
    (:func:`hea_dvae.evaluation.score_predictions`); its ``spread`` is NaN.

    Returns
    -------
    DataFrame
        ``predictions``' columns, ``model`` = ``name``, one row per alloy of
        each fold common to all ``models``.
    """
    models = list(models)
    if len(models) < 2 or len(set(models)) != len(models):
        raise ValueError(f"combine two or more different models, not {models}")
    keys = ["scheme", "table", "repeat", "fold", "position"]
    chosen = predictions[predictions["model"].isin(models)]
    missing = set(models) - set(chosen["model"])
    if missing:
        raise ValueError(f"no predictions of {sorted(missing)}")
    wide = chosen.pivot_table(index=keys, columns="model", values="probability", aggfunc="first").dropna()
    if wide.empty:
        raise ValueError(f"{models} share no scored fold")
    first = chosen[chosen["model"] == models[0]].set_index(keys).loc[wide.index]
    out = first[["formula", "label"]].assign(model=name, probability=wide[models].mean(axis=1), spread=np.nan)
    return out.reset_index()[list(predictions.columns)]


def ece_floor(predictions: pd.DataFrame, model: str, draws: int = 200, seed: int = 0,
              by: tuple[str, ...] = ("repeat", "fold")) -> pd.DataFrame:
    """Per outer fold (or ``by`` group): ``model``'s calibration error, and a perfectly calibrated model's.

    The calibration error (10 bins) of a finite test fold is above 0 even
    for a perfectly calibrated predictor: each bin's observed share of
    single-phase alloys scatters around its mean probability. The floor is
    that error with the model's own probabilities and labels drawn from
    them (Bernoulli(p)), the mean over ``draws`` draws; its 95th percentile
    is what such a model exceeds one time in twenty. The floor shrinks as
    one over the square root of the alloys scored: ``by=("repeat",)``
    pools each repeat's out-of-fold predictions (every alloy once), as the
    reliability diagram does.

    Returns
    -------
    DataFrame
        One row per ``by`` group (default ``repeat, fold``): ``alloys``,
        ``ece`` (observed), ``floor`` and ``floor_95``.
    """
    checks.integer("draws", draws, minimum=1)
    chosen = predictions[predictions["model"] == model]
    if chosen.empty:
        raise ValueError(f"no predictions of model {model!r}")
    rng = np.random.default_rng(seed)
    rows = {}
    by = list(by)
    for key, group in chosen.groupby(by, sort=True):
        p = group["probability"].to_numpy(dtype=float)
        drawn = [expected_calibration_error((rng.random(len(p)) < p).astype(int), p) for _ in range(draws)]
        rows[key] = {"alloys": len(p), "ece": expected_calibration_error(group["label"].to_numpy(), p),
                     "floor": float(np.mean(drawn)), "floor_95": float(np.quantile(drawn, 0.95))}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples([k if isinstance(k, tuple) else (k,) for k in out.index], names=by)
    return out


def outside_flags(data: pd.DataFrame, folds) -> pd.DataFrame:
    """The ``outside_data`` flag of every outer test alloy, against its fold's training part.

    The flag (:func:`hea_dvae.design.data_flags`) is computed as users get
    it, but with the :func:`hea_dvae.design.assessment.reference_from` of
    the outer fold's training alloys (all of them: what the fold's SSVAE
    read) instead of the whole dataset, threshold included.

    Parameters
    ----------
    data : DataFrame
        All alloys.
    folds : sequence of dict
        :func:`outer_folds`.

    Returns
    -------
    DataFrame
        ``repeat, fold, position, outside_data, distance_to_data,
        n_unseen_pairs``.
    """
    frames = []
    for fold in folds:
        reference = reference_from(data.iloc[fold["train"]])
        flags = data_flags(data.iloc[fold["test"]][list(ELEMENTS)].to_numpy(dtype=float), reference)
        frames.append(pd.DataFrame({"repeat": fold["repeat"], "fold": fold["fold"], "position": fold["test"],
                                    "outside_data": flags["outside_data"].to_numpy(dtype=bool),
                                    "distance_to_data": flags["distance_to_data"].to_numpy(),
                                    "n_unseen_pairs": flags["n_unseen_pairs"].to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def flag_value(predictions: pd.DataFrame, flags: pd.DataFrame, model: str) -> pd.DataFrame:
    """Per outer fold: ``model``'s scores on the flagged and on the unflagged test alloys.

    Returns
    -------
    DataFrame
        One row per ``repeat, fold``: ``flagged`` (share of the test fold),
        and the share of single-phase alloys (``single_phase``), ``auc``
        and ``accuracy`` on the ``outside`` and ``inside`` alloys (e.g.
        ``auc_outside``; NaN AUC where a side holds one class only).
    """
    chosen = predictions[predictions["model"] == model]
    if chosen.empty:
        raise ValueError(f"no predictions of model {model!r}")
    merged = chosen.merge(flags, on=["repeat", "fold", "position"], how="left", validate="one_to_one")
    if merged["outside_data"].isna().any():
        raise ValueError("flags are missing for some predictions: compute them on the same folds")
    rows = {}
    for key, fold in merged.groupby(["repeat", "fold"], sort=True):
        outside = fold["outside_data"].to_numpy(dtype=bool)
        row = {"flagged": float(outside.mean())}
        for side, mask in (("outside", outside), ("inside", ~outside)):
            part = fold[mask]
            empty = not len(part)
            row[f"single_phase_{side}"] = float("nan") if empty else float(part["label"].mean())
            row[f"auc_{side}"] = float("nan") if empty else roc_auc(part["label"], part["probability"])
            row[f"accuracy_{side}"] = float("nan") if empty else accuracy(part["label"], part["probability"])
        rows[key] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["repeat", "fold"])
    return out


def flag_difference(table: pd.DataFrame, metric: str = "accuracy", n_folds: int = 5, level: float = 0.95):
    """Mean over folds of ``metric`` inside minus outside the data, with the corrected t interval.

    ``table`` is :func:`flag_value`'s; folds where either side's metric is
    undefined are left out. Returns a
    :class:`hea_dvae.metrics.PairedDifference` (positive: the flagged
    alloys are predicted worse).
    """
    d = (table[f"{metric}_inside"] - table[f"{metric}_outside"]).dropna()
    return paired_t(d.to_numpy(), folds=n_folds, level=level, metric=metric)
