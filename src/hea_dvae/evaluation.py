r"""Cross-validation that tells models apart, on seen and on unseen alloy systems.

One test set of 138 alloys gives a 95 % interval of about :math:`\pm 0.04`
on ROC AUC, wider than most differences between the models. Repeated,
stratified k-fold cross-validation over all 1,373 alloys tests every alloy
once per repeat, and comparing two models fold by fold cancels what the folds
have in common.

Two schemes:

``"random"``
    Stratified k-fold over alloys; alloys whose compositions coincide after
    rounding the fractions to 6 decimals (the same alloy spelled twice, see
    :func:`hea_dvae.features.find_duplicate_compositions`) stay in one fold.
``"grouped"``
    Stratified group k-fold over *element sets* (the set of elements an alloy
    contains, e.g. Al-Co-Cr-Fe-Ni): no alloy system appears on both sides.
    This measures how a model does on alloy systems it has never seen, the
    situation of inverse design.

Inside a fold the training alloys are split once more, the same way for
every model: a stratified validation share (grouped like the scheme) for
early stopping of the SSVAE and of the classifier head, and, optionally, an
unlabelled share whose labels are hidden (only the SSVAE reads those
compositions). Every model is fitted on the same labelled alloys; the
scikit-learn baselines, which need no early stopping, do not see the
validation alloys (as in :func:`hea_dvae.baselines.run_baselines`).

Results are one tidy table, ``scheme, table, repeat, fold, model, metric,
value``; :func:`summarize_cv` and :func:`compare_models` read it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedGroupKFold, train_test_split
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from . import checks
from .baselines import fit_classifier_head, sklearn_baselines
from .config import show_progress
from .data import as_arrays, load_dataset, with_table
from .descriptors import MODEL_INPUTS, model_inputs
from .elements import TABLES
from .features import ELEMENTS
from .metrics import (  # noqa: F401  (LOWER_IS_BETTER re-exported for readers of cross-validation)
    LOWER_IS_BETTER,
    accuracy,
    brier,
    difference_of_means,
    evaluate,
    expected_calibration_error,
    paired_frame,
    paired_t,
    roc_auc,
)
from .train import TrainConfig
from .zoo import cached_fit, fit_seeds, train_missing

#: Models :func:`cross_validate` compares by default: all on the paper's 8 features.
MODELS: tuple[str, ...] = (
    "ssvae", "classifier_head", "random_forest", "gradient_boosting", "logistic_regression",
)  # fmt: skip

#: Models it compares when asked: the SSVAE whose classifier reads the 31 descriptors of
#: :func:`hea_dvae.descriptors.model_inputs` (the same recipe otherwise; chapter 7).
MORE_MODELS: tuple[str, ...] = ("ssvae_descriptors",)

#: The SSVAEs: ``ssvae`` reads the 8 features, ``ssvae_descriptors`` the 31 descriptors.
SSVAE_MODELS: tuple[str, ...] = ("ssvae", "ssvae_descriptors")

#: Cross-validation schemes.
SCHEMES: tuple[str, ...] = ("random", "grouped")

#: Metrics scored on each test fold (ECE with 10 equal-width bins).
CV_METRICS: tuple[str, ...] = ("accuracy", "auc", "brier", "ece")

# --------------------------------------------------------------------------
# Groups and folds


def composition_groups(data: pd.DataFrame, decimals: int = 6) -> np.ndarray:
    """Group id per alloy: alloys with the same fractions (rounded to ``decimals``) share one.

    The same rule as :func:`hea_dvae.features.find_duplicate_compositions`;
    most groups hold one alloy.
    """
    key = data[list(ELEMENTS)].round(decimals).apply(tuple, axis=1)
    return pd.factorize(key)[0]


def element_sets(data: pd.DataFrame, decimals: int = 6) -> pd.Series:
    """The alloy system of each alloy: its elements joined by dashes, in ELEMENTS order.

    An element is present from a fraction of 0.5e-6 on (fractions rounded to
    ``decimals``, as in :func:`composition_groups`), so that two spellings of
    one composition always share a system.
    """
    present = data[list(ELEMENTS)].round(decimals).to_numpy() > 0
    names = np.array(ELEMENTS)
    return pd.Series(["-".join(names[row]) for row in present], index=data.index, name="element_set")


def scheme_groups(data: pd.DataFrame, scheme: str) -> np.ndarray:
    """Group ids the folds of ``scheme`` keep together (compositions or element sets)."""
    _check_choice("scheme", scheme, SCHEMES)
    if scheme == "random":
        return composition_groups(data)
    return pd.factorize(element_sets(data))[0]


def _stratified_group_splits(labels, groups, n_splits: int, seed: int):
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels, groups))


def _repeat_seeds(seed: int, n_repeats: int) -> list[int]:
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n_repeats)]


def cv_folds(
    data: pd.DataFrame,
    scheme: str = "random",
    n_folds: int = 5,
    n_repeats: int = 1,
    seed: int = 0,
) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """The folds of a cross-validation: ``(repeat, fold, train_positions, test_positions)``.

    Stratified group k-fold (:class:`sklearn.model_selection.StratifiedGroupKFold`,
    shuffled with a seed per repeat) with the groups of :func:`scheme_groups`.
    Positions index the rows of ``data``; every alloy is tested exactly once
    per repeat.

    Raises
    ------
    ValueError
        Unknown scheme, fewer than 2 folds, or fewer groups than folds.
    """
    _check_choice("scheme", scheme, SCHEMES)
    _check_count("n_folds", n_folds, minimum=2)
    _check_count("n_repeats", n_repeats, minimum=1)
    groups = scheme_groups(data, scheme)
    n_groups = len(np.unique(groups))
    if n_groups < n_folds:
        raise ValueError(f"the {scheme!r} scheme has {n_groups} groups, fewer than n_folds={n_folds}")
    labels = data["label"].to_numpy()
    folds = []
    for repeat, repeat_seed in enumerate(_repeat_seeds(seed, n_repeats)):
        for fold, (train, test) in enumerate(_stratified_group_splits(labels, groups, n_folds, repeat_seed)):
            folds.append((repeat, fold, train, test))
    return folds


def fold_parts(
    data: pd.DataFrame,
    groups: np.ndarray,
    train: np.ndarray,
    validation_share: float = 0.1,
    unlabelled_share: float = 0.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Split a fold's training positions into labelled, unlabelled and validation positions.

    The validation part is one fold of a stratified group k-fold with
    ``k = round(1 / validation_share)`` over the training alloys, grouped as
    the scheme is (so it holds unseen systems in the grouped scheme, and no
    duplicate of a training alloy). The unlabelled part is a stratified
    ``unlabelled_share`` of the rest (empty for 0).

    Returns
    -------
    dict
        ``labelled``, ``unlabelled``, ``validation`` -> positions into ``data``.
    """
    labels = data["label"].to_numpy()[train]
    n_splits = max(2, int(round(1 / validation_share)))
    rest, validation = _stratified_group_splits(labels, groups[train], n_splits, seed)[0]
    rest, validation = train[rest], train[validation]
    if unlabelled_share > 0:
        labelled, unlabelled = train_test_split(
            rest, test_size=unlabelled_share, stratify=data["label"].to_numpy()[rest], random_state=seed
        )
    else:
        labelled, unlabelled = rest, rest[:0]
    return {"labelled": np.sort(labelled), "unlabelled": np.sort(unlabelled), "validation": validation}


# --------------------------------------------------------------------------
# One fold


@dataclass(frozen=True, eq=False)
class _FoldTask:
    scheme: str
    table: str
    repeat: int
    fold: int
    test: np.ndarray
    parts: dict
    models: tuple
    train_config: TrainConfig
    model_seed: int
    head_epochs: int = 2000


def fold_seed(seed: int, repeat: int, fold: int) -> int:
    """The seed of the models (and of :func:`fold_parts`) in fold ``fold`` of repeat ``repeat``.

    Independent of scheme and table, so that the two tables see the same
    initialisations, and another study of the same folds can give its models
    the same labelled alloys and seeds (:mod:`hea_dvae.generalisation`).
    """
    return int(np.random.SeedSequence([seed, repeat, fold]).generate_state(1)[0] % (2**31))


def _ssvae_job(frame: pd.DataFrame, task: _FoldTask, name: str) -> tuple:
    """(labelled, unlabelled, validation, train config, seed) of an SSVAE of fold ``task``, as the cache keys it.

    ``ssvae_descriptors`` reads :func:`hea_dvae.descriptors.model_inputs`
    (on the task's table) instead of the 8 features, in a model of as many
    inputs; everything else is the task's recipe.
    """
    if name == "ssvae":
        parts = tuple(frame.iloc[task.parts[part]] for part in ("labelled", "unlabelled", "validation"))
        return (*parts, task.train_config, task.model_seed)
    config = task.train_config
    config = replace(config, model=replace(config.model, n_features=len(MODEL_INPUTS)))
    parts = []
    for part in ("labelled", "unlabelled", "validation"):
        rows = frame.iloc[task.parts[part]]
        x, inputs = _descriptor_inputs(rows, task.table)
        parts.append((x, inputs) if part == "unlabelled" else (x, inputs, rows["label"].to_numpy()))
    return (*parts, config, task.model_seed)


def _descriptor_inputs(rows: pd.DataFrame, table: str) -> tuple[np.ndarray, np.ndarray]:
    """Fractions and :func:`~hea_dvae.descriptors.model_inputs` (float32) of some alloys."""
    x = rows[list(ELEMENTS)].to_numpy(dtype=float)
    if not len(rows):
        return x, np.zeros((0, len(MODEL_INPUTS)), dtype=np.float32)
    return x, model_inputs(x, table=table).to_numpy(dtype=np.float32)


def _fold_probabilities(frame: pd.DataFrame, task: _FoldTask) -> dict[str, np.ndarray]:
    part = {name: frame.iloc[positions] for name, positions in task.parts.items()}
    test = frame.iloc[task.test]
    _, sup_e, sup_y = as_arrays(part["labelled"])
    _, test_e, _ = as_arrays(test)
    probabilities = {}
    baselines = sklearn_baselines(task.model_seed)
    for name in task.models:
        if name in SSVAE_MODELS:
            # Through the model cache: a re-execution of the book trains nothing.
            *parts, train_config, seed = _ssvae_job(frame, task, name)
            model, _ = cached_fit(*parts, train_config, seed=seed, progress=False)
            inputs = _descriptor_inputs(test, task.table)[1] if name == "ssvae_descriptors" else test_e
            probabilities[name] = model.predict_proba(inputs)
        elif name == "classifier_head":
            head = fit_classifier_head(part["labelled"], part["validation"], seed=task.model_seed,
                                       epochs=task.head_epochs)
            probabilities[name] = head.predict_proba(test_e)
        else:
            estimator = baselines[name].fit(sup_e, sup_y.astype(int))
            probabilities[name] = estimator.predict_proba(test_e)[:, 1]
    return probabilities


def _run_fold(frame: pd.DataFrame, task: _FoldTask) -> tuple[list[dict], pd.DataFrame]:
    # One thread everywhere: identical numbers in the main process and in workers,
    # and no oversubscription when folds run side by side on shared cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            probabilities = _fold_probabilities(frame, task)
    finally:
        torch.set_num_threads(threads)
    labels = frame["label"].to_numpy()[task.test]
    key = {"scheme": task.scheme, "table": task.table, "repeat": task.repeat, "fold": task.fold}
    predictions = pd.concat(
        [
            pd.DataFrame({**key, "model": name, "position": task.test,
                          "formula": frame["formula"].to_numpy()[task.test],
                          "label": labels, "probability": p})
            for name, p in probabilities.items()
        ],
        ignore_index=True,
    )
    return score_predictions(predictions).to_dict("records"), predictions


#: Metrics scored on each test fold: name -> function of (labels, probabilities).
SCORERS = {"accuracy": accuracy, "auc": roc_auc, "brier": brier, "ece": expected_calibration_error}


def score_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """The :data:`SCORERS` of every model on every test fold of ``predictions``.

    ``predictions`` has ``scheme, table, repeat, fold, model, label,
    probability`` (those of :func:`cross_validate`, or any model's on the
    same folds).

    Returns
    -------
    DataFrame
        ``scheme, table, repeat, fold, model, metric, value``, one row per
        fold, model and metric, in the order the folds and models first
        appear (the layout of :func:`cross_validate`'s results).
    """
    keys = ["scheme", "table", "repeat", "fold", "model"]
    rows = [{**dict(zip(keys, key)), "metric": metric, "value": float(score(part["label"], part["probability"]))}
            for key, part in predictions.groupby(keys, sort=False) for metric, score in SCORERS.items()]
    return pd.DataFrame(rows, columns=keys + ["metric", "value"])


# --------------------------------------------------------------------------
# Cross-validation


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose from {tuple(choices)}")


def _check_count(name: str, value, minimum: int) -> None:
    checks.integer(name, value, minimum=minimum)


def _as_tuple(value) -> tuple:
    return (value,) if isinstance(value, str) else tuple(value)


def cross_validate(
    data: pd.DataFrame | None = None,
    schemes=("random",),
    tables=("paper",),
    models=MODELS,
    n_folds: int = 5,
    n_repeats: int = 1,
    train_config: TrainConfig | None = None,
    validation_share: float = 0.1,
    unlabelled_share: float = 0.0,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool | None = None,
    return_predictions: bool = False,
    head_epochs: int = 2000,
):
    """Repeated stratified cross-validation of several models, per scheme and element table.

    Parameters
    ----------
    data : DataFrame, optional
        The tidy dataset (default :func:`hea_dvae.data.load_dataset`, all
        1,373 alloys); needs ``formula``, the fractions and ``label``.
    schemes : str or sequence of str
        ``"random"`` and/or ``"grouped"`` (see the module docstring).
    tables : str or sequence of str
        Element tables; features are recomputed with
        :func:`hea_dvae.data.with_table` (``"paper"`` keeps the published
        columns).
    models : sequence of str
        Any of :data:`MODELS` and :data:`MORE_MODELS`.
    n_folds, n_repeats : int
        k of the k-fold, and how many differently shuffled repeats. The folds
        depend on the scheme, ``seed`` and the repeat, not on the table: both
        tables are tested on the same folds.
    train_config : TrainConfig, optional
        Recipe of the SSVAE (default ``TrainConfig()``).
    validation_share : float
        Share of each fold's training alloys held out for early stopping, in
        (0, 0.5]: one fold of ``round(1 / validation_share)`` stratified
        group folds (so 0.1 holds out about a tenth).
    unlabelled_share : float
        Share of the remaining training alloys whose labels are hidden, in
        [0, 1); only the SSVAE reads their compositions.
    seed : int
        Seeds the folds and every model (one seed per repeat and fold).
    n_jobs : int
        Worker processes (joblib's loky); results are identical to
        ``n_jobs=1``.
    progress : bool, optional
        Progress bar over folds; default unless ``$HEA_DVAE_PROGRESS=0``.
    return_predictions : bool
        Also return every out-of-fold probability.
    head_epochs : int
        Most epochs of the classifier head
        (:func:`hea_dvae.baselines.fit_classifier_head`).

    Returns
    -------
    results : DataFrame
        Columns ``scheme, table, repeat, fold, model, metric, value``; metrics
        :data:`CV_METRICS`.
    predictions : DataFrame
        Only with ``return_predictions``: ``scheme, table, repeat, fold,
        model, position`` (row of ``data``), ``formula``, ``label``,
        ``probability``.
    """
    data = load_dataset() if data is None else data.reset_index(drop=True)
    schemes, tables, models = _as_tuple(schemes), _as_tuple(tables), _as_tuple(models)
    for scheme in schemes:
        _check_choice("scheme", scheme, SCHEMES)
    for table in tables:
        _check_choice("table", table, TABLES)
    for model in models:
        _check_choice("model", model, MODELS + MORE_MODELS)
    if not models or not schemes or not tables:
        raise ValueError("give at least one scheme, one table and one model")
    if not 0 < validation_share <= 0.5:
        raise ValueError(f"validation_share must be in (0, 0.5], got {validation_share!r}")
    if not 0 <= unlabelled_share < 1:
        raise ValueError(f"unlabelled_share must be in [0, 1), got {unlabelled_share!r}")
    _check_count("n_jobs", n_jobs, minimum=1)
    _check_count("head_epochs", head_epochs, minimum=1)
    train_config = train_config or TrainConfig()

    frames = {table: with_table(data, table) for table in tables}
    tasks = []
    for scheme in schemes:
        groups = scheme_groups(data, scheme)
        for repeat, fold, train, test in cv_folds(data, scheme, n_folds, n_repeats, seed):
            model_seed = fold_seed(seed, repeat, fold)
            parts = fold_parts(data, groups, train, validation_share, unlabelled_share, model_seed)
            for table in tables:
                tasks.append(_FoldTask(scheme, table, repeat, fold, test, parts, models,
                                       train_config, model_seed, head_epochs))

    ssvaes = [name for name in SSVAE_MODELS if name in models]
    if ssvaes:
        # Every fold's SSVAEs at once, through the batched trainer (and a Dask
        # scheduler when HEA_DVAE_SCHEDULER names one); the folds then load them.
        train_missing([_ssvae_job(frames[t.table], t, name) for t in tasks for name in ssvaes], progress=progress)
    bar = dict(total=len(tasks), desc="cross-validation", unit="fold", disable=not show_progress(progress))
    if n_jobs == 1:
        outputs = [_run_fold(frames[task.table], task) for task in tqdm(tasks, **bar)]
    else:
        runner = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")
        outputs = list(tqdm(runner(delayed(_run_fold)(frames[t.table], t) for t in tasks), **bar))
    results = pd.DataFrame([row for rows, _ in outputs for row in rows],
                           columns=["scheme", "table", "repeat", "fold", "model", "metric", "value"])
    if return_predictions:
        return results, pd.concat([p for _, p in outputs], ignore_index=True)
    return results


# --------------------------------------------------------------------------
# Summaries


def summarize_cv(results: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """Mean and standard deviation over folds (and repeats), per scheme, table, model and metric.

    Returns
    -------
    DataFrame
        Index ``scheme, table, model, metric``; columns ``mean``, ``std``
        (ddof=1, across folds: the spread of one fold's score, not the error
        of the mean), ``folds`` and a ``mean ± std`` text column.
    """
    grouped = results.groupby(["scheme", "table", "model", "metric"], sort=False)["value"]
    out = pd.DataFrame({"mean": grouped.mean(), "std": grouped.std(ddof=1), "folds": grouped.size()})
    out["mean ± std"] = [f"{m:.{decimals}f} ± {s:.{decimals}f}" for m, s in zip(out["mean"], out["std"].fillna(0))]
    return out


def compare_models(
    results: pd.DataFrame,
    model_a: str,
    model_b: str,
    metric: str = "auc",
    level: float = 0.95,
    between: str = "model",
) -> pd.DataFrame:
    r"""Paired comparison of two models (or two element tables) across the same folds.

    For each scheme and table (or, comparing tables, each scheme and model),
    the per-fold differences :math:`d = \mathrm{metric}(a) - \mathrm{metric}(b)`
    are summarised by their mean and a t interval with the Nadeau & Bengio
    (2003) correction for overlapping training sets
    (:func:`hea_dvae.metrics.paired_t`).

    Parameters
    ----------
    results : DataFrame
        From :func:`cross_validate`.
    model_a, model_b : str
        The two models compared (with ``between="table"``: the two tables,
        e.g. ``"corrected"`` and ``"paper"``, which share their folds).
    metric : str
        One of the results' metrics.
    level : float
        Coverage of the interval.
    between : {"model", "table"}
        Which column ``model_a`` and ``model_b`` are values of.

    Returns
    -------
    DataFrame
        Index ``scheme, table`` (``scheme, model`` when comparing tables);
        the columns of :func:`hea_dvae.metrics.paired_frame`: ``difference``
        (mean over folds), ``low``, ``high``, ``clear``, ``runs`` (folds of
        all repeats), ``wins`` (folds where a beats b, taking
        :data:`hea_dvae.metrics.LOWER_IS_BETTER` into account), ``ties``,
        ``std`` and ``p_value`` (two-sided, corrected).
    """
    _check_choice("between", between, ("model", "table"))
    present = set(results[between])
    for name in (model_a, model_b):
        if name not in present:
            raise ValueError(f"{between} {name!r} is not in the results; they hold {sorted(present)}")
    if metric not in set(results["metric"]):
        raise ValueError(f"metric {metric!r} is not in the results; they hold {sorted(set(results['metric']))}")
    by = ["scheme", "model" if between == "table" else "table"]
    chosen = results[results["metric"] == metric]
    wide = chosen.pivot_table(index=[*by, "repeat", "fold"], columns=between, values="value")
    difference = (wide[model_a] - wide[model_b]).dropna()
    comparisons = {
        key: paired_t(d.to_numpy(), folds=d.index.get_level_values("fold").nunique(), level=level, metric=metric)
        for key, d in difference.groupby(level=by, sort=False)
    }
    out = paired_frame(comparisons, names=by)
    out.attrs.update(a=model_a, b=model_b, between=between, metric=metric, level=level)
    return out


def compare_recipes(
    split,
    recipes: dict,
    seeds=range(2),
    part: str = "validation",
    workers: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Train each recipe on ``split`` (cached) and score it on one part, per seed.

    Parameters
    ----------
    split : mapping
        ``labelled``, ``unlabelled``, ``validation`` (and ``part``) frames.
    recipes : dict
        name -> :class:`TrainConfig`.
    seeds : iterable of int
        Seeds per recipe.
    part : str
        Which part scores the recipes; choose recipes on ``"validation"``.

    Returns
    -------
    DataFrame
        One row per recipe and seed: ``recipe``, ``seed``, the metrics of
        :func:`hea_dvae.metrics.evaluate`, and the training ``seconds`` of
        that run (as recorded when it was trained).
    """
    seeds = list(seeds)
    parts = (split["labelled"], split.get("unlabelled"), split["validation"])
    # Every missing run of every recipe at once: the batched trainer shares the work.
    train_missing([(*parts, train_config, seed) for train_config in recipes.values() for seed in seeds],
                  workers=workers, progress=progress)
    rows = []
    for name, train_config in recipes.items():
        models, histories = fit_seeds(split, train_config, seeds, workers=workers, progress=progress)
        for seed, model in models.items():
            rows.append({"recipe": name, "seed": seed, **evaluate(model, split[part]),
                         "seconds": float(histories[seed]["seconds"].iloc[-1])})
    return pd.DataFrame(rows)


def recipe_difference(scores: pd.DataFrame, a: str, b: str, metric: str = "auc"):
    """Mean ``metric`` of recipe ``a`` minus recipe ``b`` over their seeds, with Welch's 95 % interval.

    ``scores`` is :func:`compare_recipes`' table. The runs of two recipes
    share only their seeds' numbers, not their weights, so they are
    compared as two independent sets of runs
    (:func:`hea_dvae.metrics.difference_of_means`).
    """
    values = {name: scores.loc[scores["recipe"] == name, metric].to_numpy(dtype=float) for name in (a, b)}
    empty = [name for name, v in values.items() if len(v) == 0]
    if empty:
        raise ValueError(f"no runs of recipe(s) {empty}; recipes scored: {sorted(scores['recipe'].unique())}")
    (va, vb) = values[a], values[b]
    return difference_of_means(va.mean(), va.std(ddof=1) if len(va) > 1 else float("nan"), len(va),
                               vb.mean(), vb.std(ddof=1) if len(vb) > 1 else float("nan"), len(vb))


#: The recipe search space: each setting and the values tried (the default recipe's value first).
RECIPE_SPACE: dict[str, tuple] = {
    "epochs": (800, 400, 1600),
    "batch_size": (128, 64, 256),
    "lr": (3e-3, 1e-3, 2e-3, 5e-3),
    "decoder_lr_scale": (3.0, 1.0, 10.0),
    "kl_warmup_epochs": (0, 100),
    "log_scale_init": (-3.0, -5.0),
    "hidden": ((100, 100), (100, 100), (100, 100), (150, 150)),
}


def sample_recipes(n: int, seed: int = 0, space: dict | None = None) -> dict:
    """``n`` recipes drawn at random from :data:`RECIPE_SPACE` (the default recipe first), by name.

    A recipe changes the default :class:`~hea_dvae.train.TrainConfig` in the
    settings of the space; ``hidden`` sets the widths of all three networks.
    Names list the settings that differ from the default.
    """
    from dataclasses import replace

    checks.integer("n", n, 1)
    space = RECIPE_SPACE if space is None else space
    rng = np.random.default_rng(seed)
    default = TrainConfig()
    recipes, seen = {"default": default}, {None}
    attempts = 0
    while len(recipes) < n and attempts < 100 * n:
        attempts += 1
        choice = {name: values[rng.integers(len(values))] for name, values in space.items()}
        key = tuple(sorted((k, str(v)) for k, v in choice.items()))
        if key in seen:
            continue
        seen.add(key)
        hidden = choice.pop("hidden", default.model.hidden)
        config = replace(default, model=replace(default.model, hidden=tuple(hidden)), **choice)
        changed = [f"{k} {v}" for k, v in {**choice, "hidden": tuple(hidden)}.items()
                   if v != (default.model.hidden if k == "hidden" else getattr(default, k))]
        if changed:
            recipes[", ".join(changed)] = config
    return recipes
