r"""Data efficiency: how the classifiers fare as labels get scarce.

The paper's claim is that unlabelled alloys (and an informed prior on their
label) help the classifier most when few alloys are labelled. This module
tests it on a grid of *labelled fractions* of the 1,160-alloy training pool
(:func:`hea_dvae.data.labelled_fraction_split`: the paper's validation and
test alloys throughout), several seeds per fraction, and these models:

``vae-expert``
    The SSVAE, unlabelled alloys with the expert-informed prior
    (:mod:`hea_dvae.priors`, fitted on the run's labelled alloys only).
``vae-flat``
    The SSVAE with the paper's flat prior p(y = 1) = 0.5.
``head``
    The same classifier network ``encoder_y`` trained on the labelled alloys
    alone: the SSVAE recipe with no unlabelled alloys. The classifier's
    parameters are disjoint from the VAE's and, without unlabelled alloys,
    its only loss is the cross-entropy, so this is the supervised network
    with the same optimiser, epochs and validation-based selection.
``random-forest``, ``logistic-regression``
    :func:`hea_dvae.baselines.sklearn_baselines`, fitted on the labelled alloys.
``rules``
    The empirical rules alone (:func:`hea_dvae.rules.rules_classifier_scores`):
    ROC AUC of the literature prior's log-odds, accuracy of the rules' verdict.
    Nothing is fitted, so every seed and fraction gives the same numbers.

A seed fixes both the draw of labelled alloys and the initialisation, so two
models with the same fraction and seed saw the same labelled alloys: the
comparisons are paired. With every alloy labelled (fraction 1) nothing is
unlabelled, and ``vae-expert``, ``vae-flat`` and ``head`` are one and the same
model (trained once).

Every SSVAE goes through the model cache (:mod:`hea_dvae.zoo`); the missing
ones are trained side by side in worker processes. The test probabilities
of the scikit-learn baselines are cached too (``$HEA_DVAE_CACHE_DIR/baselines``),
so a warm cache makes a run take seconds. :func:`run_ablation` also reproduces the paper's Table 2
(:data:`hea_dvae.paper.TABLE_2`) in the same pool of workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from joblib import Memory
from threadpoolctl import threadpool_limits

from . import checks, config, metrics, paper, zoo
from .baselines import sklearn_baselines
from .data import TABLE2_LABELLED_SHARES, as_arrays, labelled_fraction_split, load_dataset, paper_split, with_table
from .rules import rules_classifier_scores
from .train import TrainConfig

#: Models of the ablation, in display order.
MODELS: tuple[str, ...] = ("vae-expert", "vae-flat", "head", "random-forest", "logistic-regression", "rules")

#: Models that are SSVAEs (cached, trained in worker processes).
SSVAE_MODELS: tuple[str, ...] = ("vae-expert", "vae-flat", "head")

#: Default labelled fractions of the 1,160-alloy training pool.
DEFAULT_FRACTIONS: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)

#: Test metrics of every model.
METRICS: tuple[str, ...] = ("auc", "accuracy")

#: Models of the Table 2 reproduction: the SSVAE with the paper's flat prior,
#: and the same classifier network on the labelled alloys alone.
TABLE2_MODELS = {"semi-supervised": "vae-flat", "supervised network": "head"}

_RESULT_COLUMNS = ["fraction", "n_labelled", "seed", "model", "metric", "value"]
_TABLE2_COLUMNS = ["row", "labelled", "unlabelled", "validation", "seed", "model", "metric", "value"]


# --------------------------------------------------------------------------
# Parameters


def _check_fractions(fractions) -> tuple[float, ...]:
    if checks.is_number(fractions):
        fractions = (fractions,)
    fractions = tuple(fractions)
    if not fractions:
        raise ValueError("fractions is empty: give at least one labelled fraction in (0, 1]")
    fractions = tuple(checks.number("every labelled fraction", f, 0, 1, low_open=True) for f in fractions)
    if len(set(fractions)) != len(fractions):
        raise ValueError(f"fractions repeat a value: {list(fractions)}")
    return fractions


def _check_seeds(seeds, name: str = "seeds") -> tuple[int, ...]:
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError(f"{name} is empty: give at least one seed")
    seeds = tuple(checks.integer(name, seed, minimum=0) for seed in seeds)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{name} repeat a value: {list(seeds)}")
    return seeds


def _check_models(models) -> tuple[str, ...]:
    models = (models,) if isinstance(models, str) else tuple(models)
    if not models:
        raise ValueError(f"models is empty: choose from {MODELS}")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {MODELS}")
    if len(set(models)) != len(models):
        raise ValueError(f"models repeat a name: {list(models)}")
    return models


def _check_rows(rows) -> tuple[int, ...]:
    rows = tuple(rows)
    unknown = [r for r in rows if r not in TABLE2_LABELLED_SHARES]
    if unknown:
        raise ValueError(f"unknown Table 2 row(s) {unknown}; the paper's rows are {tuple(TABLE2_LABELLED_SHARES)}")
    return rows


# --------------------------------------------------------------------------
# SSVAE jobs: one cached model each


@dataclass(frozen=True, eq=False)
class _Job:
    labelled: pd.DataFrame
    unlabelled: pd.DataFrame | None
    validation: pd.DataFrame
    train_config: TrainConfig
    seed: int
    digest: str = field(init=False)

    def __post_init__(self):
        key = zoo.model_key(self.labelled, self.unlabelled, self.validation, self.train_config, self.seed)
        object.__setattr__(self, "digest", zoo.key_digest(key))

    @property
    def arguments(self) -> tuple:
        return self.labelled, self.unlabelled, self.validation, self.train_config, self.seed

    @property
    def cost(self) -> int:
        """Alloys per epoch: the time of a run is about proportional to it."""
        return len(self.labelled) + (0 if self.unlabelled is None else len(self.unlabelled))


def _ssvae_job(split: dict, model: str, train_config: TrainConfig, seed: int) -> _Job:
    """The cached run behind an SSVAE model name on ``split``.

    Without unlabelled alloys the prior is never read, so every such run is
    made with the flat prior: ``head``, and ``vae-*`` at fraction 1, share it.
    """
    unlabelled = split["unlabelled"]
    if model == "head" or unlabelled is None or unlabelled.empty:
        return _Job(split["labelled"], None, split["validation"], replace(train_config, prior="flat"), seed)
    prior = "expert" if model == "vae-expert" else "flat"
    return _Job(split["labelled"], unlabelled, split["validation"], replace(train_config, prior=prior), seed)


def _train_missing(jobs, workers: int | None, progress: bool | None) -> int:
    """Train the jobs whose model is not cached yet, longest first; return how many."""
    unique = sorted({job.digest: job for job in jobs}.values(), key=lambda job: -job.cost)
    return zoo.train_missing([job.arguments for job in unique], workers=workers, progress=progress)


def _load(job: _Job):
    model, _ = zoo.cached_fit(*job.arguments, progress=False)
    return model


# --------------------------------------------------------------------------
# Scoring


def _prediction_frame(key: dict, test: pd.DataFrame, model: str, scores, predictions) -> pd.DataFrame:
    return pd.DataFrame({**key, "model": model, "position": np.arange(len(test)),
                         "formula": test["formula"].to_numpy(), "label": test["label"].to_numpy(int),
                         "score": np.asarray(scores, dtype=float),
                         "prediction": np.asarray(predictions, dtype=int)})


def _fit_predict(estimator, e, y, test_e, n_jobs: int) -> np.ndarray:
    if "n_jobs" in estimator.get_params():
        # Trees are seeded one by one: a forest does not depend on n_jobs.
        estimator.set_params(n_jobs=n_jobs)
    with threadpool_limits(limits=1, user_api="blas"):
        return estimator.fit(e, y.astype(int)).predict_proba(test_e)[:, 1]


def _supervised_predictions(split: dict, model: str, seed: int, n_jobs: int) -> np.ndarray:
    """Test probabilities of a scikit-learn baseline, fitted once and then read from disk.

    The cache (``$HEA_DVAE_CACHE_DIR/baselines``, :class:`joblib.Memory`)
    is keyed by the unfitted estimator (all its parameters), the labelled
    and test arrays: fitting 30 random forests of 500 trees takes longer
    than loading 100 cached SSVAEs.
    """
    _, e, y = as_arrays(split["labelled"])
    _, test_e, _ = as_arrays(split["test"])
    estimator = sklearn_baselines(seed)[model.replace("-", "_")]
    cached = Memory(config.cache_dir() / "baselines", verbose=0).cache(_fit_predict, ignore=["n_jobs"])
    return cached(estimator, e, y, test_e, n_jobs)


def _score(predictions: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    rows = []
    for key, group in predictions.groupby([*by, "model"], sort=False):
        labels = group["label"].to_numpy(float)[None, :]
        for metric in METRICS:
            value = metrics.metric_rows(metric, labels, group["score"].to_numpy(float)[None, :],
                                        group["prediction"].to_numpy(float)[None, :])[0]
            rows.append({**dict(zip([*by, "model"], key)), "metric": metric, "value": float(value)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# The ablation


@dataclass
class AblationResult:
    """Everything :func:`run_ablation` measured.

    Attributes
    ----------
    results : DataFrame
        The tidy table ``fraction, n_labelled, seed, model, metric, value``
        (test ROC AUC and accuracy of every model, fraction and seed).
    predictions : DataFrame
        ``fraction, seed, model, position, formula, label, score,
        prediction`` for every test alloy (``score`` ranks, for AUC:
        a probability, or the rules' log-odds; ``prediction`` is 0/1).
    table2 : DataFrame
        The Table 2 reproduction, tidy: ``row, labelled, unlabelled,
        validation, seed, model, metric, value`` (models named as in
        :data:`TABLE2_MODELS`).
    table2_predictions : DataFrame
        Like ``predictions``, keyed by ``row`` instead of ``fraction``.
    models : dict
        ``(setting, seed, model)`` -> the trained SSVAE, where ``setting``
        is ``("fraction", f)`` or ``("table2", row)``.
    trained : int
        How many models had to be trained (0 with a warm cache).
    """

    results: pd.DataFrame
    predictions: pd.DataFrame
    table2: pd.DataFrame
    table2_predictions: pd.DataFrame
    models: dict
    trained: int


def run_ablation(
    fractions=DEFAULT_FRACTIONS,
    seeds=range(5),
    models=MODELS,
    train_config: TrainConfig | None = None,
    table2_rows=(1, 2),
    table2_seeds=None,
    workers: int | None = None,
    progress: bool | None = None,
    data: pd.DataFrame | None = None,
) -> AblationResult:
    """Every model at every labelled fraction and seed, scored on the paper's test alloys.

    Parameters
    ----------
    fractions : sequence of float
        Labelled shares of the 1,160-alloy training pool, each in (0, 1].
    seeds : iterable of int
        One labelled draw and one initialisation per seed (non-negative,
        distinct).
    models : sequence of str
        Any of :data:`MODELS`.
    train_config : TrainConfig, optional
        Recipe of every SSVAE (default ``TrainConfig()``); its element table
        is the features' and its ``prior`` is set by the model name.
    table2_rows : sequence of int
        Rows of the paper's Table 2 to reproduce (1, 2, or none).
    table2_seeds : iterable of int, optional
        Seeds of the Table 2 runs (default: ``seeds``).
    workers : int, optional
        Processes that train missing models (default: the CPU cores).
        Models do not depend on it.
    progress : bool, optional
        Progress bar over the models to train.
    data : DataFrame, optional
        The tidy dataset (default :func:`hea_dvae.data.load_dataset`).

    Returns
    -------
    AblationResult

    Raises
    ------
    ValueError
        A fraction outside (0, 1], no seeds, an unknown model or Table 2 row.
    """
    fractions, seeds, models = _check_fractions(fractions), _check_seeds(seeds), _check_models(models)
    table2_rows = _check_rows(table2_rows)
    table2_seeds = seeds if table2_seeds is None else _check_seeds(table2_seeds, "table2_seeds")
    train_config = train_config or TrainConfig()
    if not isinstance(train_config, TrainConfig):
        raise TypeError(f"train_config must be a TrainConfig, got {type(train_config).__name__}")
    table = train_config.model.table
    data = with_table(load_dataset() if data is None else data, table)

    splits = {(f, s): labelled_fraction_split(f, seed=s, data=data) for f in fractions for s in seeds}
    grid_jobs = {(("fraction", f), s, m): _ssvae_job(splits[f, s], m, train_config, s)
                 for (f, s) in splits for m in models if m in SSVAE_MODELS}
    table2_splits = {row: paper_split(data, TABLE2_LABELLED_SHARES[row]) for row in table2_rows}
    table2_jobs = {(("table2", row), s, name): _ssvae_job(table2_splits[row], model, train_config, s)
                   for row in table2_rows for s in table2_seeds for name, model in TABLE2_MODELS.items()}
    jobs = grid_jobs | table2_jobs
    trained = _train_missing(jobs.values(), workers, progress)
    loaded = {}
    trained_models = {}
    for label, job in jobs.items():
        if job.digest not in loaded:
            loaded[job.digest] = _load(job)
        trained_models[label] = loaded[job.digest]

    n_jobs = workers or os.cpu_count() or 1
    frames = []
    rules = {}
    for (fraction, seed), split in splits.items():
        test = split["test"]
        _, test_e, _ = as_arrays(test)
        key = {"fraction": fraction, "seed": seed}
        for model in models:
            if model in SSVAE_MODELS:
                p = trained_models[("fraction", fraction), seed, model].predict_proba(test_e)
                frames.append(_prediction_frame(key, test, model, p, p > 0.5))
            elif model == "rules":
                if "scores" not in rules:
                    rules["scores"] = rules_classifier_scores(test_e)
                scores = rules["scores"]
                frames.append(_prediction_frame(key, test, model, scores["score"], scores["prediction"]))
            else:
                p = _supervised_predictions(split, model, seed, n_jobs)
                frames.append(_prediction_frame(key, test, model, p, p > 0.5))
    predictions = pd.concat(frames, ignore_index=True)
    results = _score(predictions, ["fraction", "seed"])
    sizes = {(f, s): len(split["labelled"]) for (f, s), split in splits.items()}
    results.insert(1, "n_labelled", [sizes[f, s] for f, s in zip(results["fraction"], results["seed"])])
    results = results[_RESULT_COLUMNS]

    frames = []
    for row, split in table2_splits.items():
        _, test_e, _ = as_arrays(split["test"])
        for seed in table2_seeds:
            for name in TABLE2_MODELS:
                p = trained_models[("table2", row), seed, name].predict_proba(test_e)
                frames.append(_prediction_frame({"row": row, "seed": seed}, split["test"], name, p, p > 0.5))
    table2_predictions = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["row", "seed", "model", "position", "formula", "label", "score", "prediction"])
    table2 = _score(table2_predictions, ["row", "seed"]) if frames else pd.DataFrame(columns=_TABLE2_COLUMNS)
    for part in ("validation", "unlabelled", "labelled"):
        table2.insert(1, part, [len(table2_splits[r][part]) for r in table2["row"]])
    return AblationResult(results, predictions, table2[_TABLE2_COLUMNS], table2_predictions,
                          trained_models, trained)


# --------------------------------------------------------------------------
# Summaries


def summarize(results: pd.DataFrame, by: str = "fraction") -> pd.DataFrame:
    """Mean and standard deviation over seeds, per ``by`` (fraction or row), model and metric.

    Returns
    -------
    DataFrame
        Index ``by, model, metric``; columns ``mean``, ``std`` (ddof=1; NaN
        with one seed), ``seeds``, ``n_labelled`` (when present) and a
        ``mean ± std`` text column.
    """
    grouped = results.groupby([by, "model", "metric"], sort=False)
    out = grouped["value"].agg(mean="mean", std=lambda v: v.std(ddof=1), seeds="size")
    for column in ("n_labelled", "labelled"):
        if column in results:
            out["n_labelled"] = grouped[column].mean()
    out["mean ± std"] = [f"{m:.3f} ± {s:.3f}" for m, s in zip(out["mean"], out["std"].fillna(0.0))]
    return out


def summary_table(results: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """``mean ± std`` over seeds of one metric: a row per model, a column per labelled fraction."""
    if metric not in set(results["metric"]):
        raise ValueError(f"metric {metric!r} is not in the results; they hold {sorted(set(results['metric']))}")
    summary = summarize(results).xs(metric, level="metric")["mean ± std"].unstack("fraction")
    models = [m for m in MODELS if m in summary.index]
    sizes = results.groupby("fraction")["n_labelled"].mean().round().astype(int)
    summary = summary.loc[models]
    summary.columns = [f"{f:g} ({sizes[f]} alloys)" for f in summary.columns]
    summary.columns.name = "labelled fraction"
    return summary


def paired_comparison(
    predictions: pd.DataFrame,
    model_a: str,
    model_b: str,
    metric: str = "auc",
    by: str = "fraction",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    r"""Model a against model b on the same seeds, splits and test alloys, per ``by``.

    The per-seed difference :math:`d_s = \mathrm{metric}(a_s) -
    \mathrm{metric}(b_s)` on the test alloys is averaged over seeds. Its
    interval is a paired bootstrap over both sources of chance
    (:func:`hea_dvae.metrics.paired_difference` with one run per seed): each
    resample draws test alloys (with replacement, within each class) and
    seeds (with replacement), and scores both models of every drawn seed on
    the same drawn alloys. The settings are compared in turn from one stream
    of random numbers seeded by ``seed``.

    Parameters
    ----------
    predictions : DataFrame
        ``AblationResult.predictions`` (or ``table2_predictions`` with
        ``by="row"``).
    model_a, model_b : str
        The two models compared.
    metric : {"auc", "accuracy"}
        Accuracy scores each model's 0/1 ``prediction``, AUC its ``score``.
    by : str
        The column that keys a setting (``"fraction"`` or ``"row"``).
    n_boot : int
        Resamples.
    level : float
        Coverage of the interval.
    seed : int
        Seed of the resampling.

    Returns
    -------
    DataFrame
        Index ``by``; the columns of :func:`hea_dvae.metrics.paired_frame`:
        ``difference`` (mean over seeds), ``low``, ``high``, ``clear`` (the
        interval excludes 0), ``runs`` (seeds), ``wins`` (seeds where a
        beats b) and ``ties``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {METRICS}")
    present = set(predictions["model"])
    for name in (model_a, model_b):
        if name not in present:
            raise ValueError(f"model {name!r} is not in the predictions; they hold {sorted(present)}")
    checks.integer("n_boot", n_boot, minimum=1)
    checks.number("level", level, 0, 1, low_open=True, high_open=True)
    rng = np.random.default_rng(seed)
    comparisons = {}
    for setting, group in predictions.groupby(by, sort=False):
        wide = {name: group[group["model"] == name].sort_values(["seed", "position"])
                for name in (model_a, model_b)}
        seeds = sorted(set(wide[model_a]["seed"]) & set(wide[model_b]["seed"]))
        if not seeds:
            continue
        a, b = ({column: np.stack([w.loc[w["seed"] == s, column].to_numpy(float) for s in seeds])
                 for column in ("label", "score", "prediction")} for w in (wide[model_a], wide[model_b]))
        comparisons[setting] = metrics.paired_difference(
            a["label"][0], a["score"], b["score"], metric, n_boot, rng, level,
            calls_a=a["prediction"], calls_b=b["prediction"])
    out = metrics.paired_frame(comparisons, names=by)
    out.attrs.update(a=model_a, b=model_b, metric=metric, level=level)
    return out


def paired_comparisons(predictions: pd.DataFrame, model_a: str, others, n_boot: int = 2000,
                       by: str = "fraction") -> pd.DataFrame:
    """:func:`paired_comparison` of ``model_a`` against each of ``others``, for every metric.

    Models absent from ``predictions`` are left out. Each comparison draws
    its own resamples (seed 0), as a single :func:`paired_comparison` does.

    Returns
    -------
    DataFrame
        Index ``comparison`` (``"a − b"``), ``metric``, ``by``; the columns of
        :func:`paired_comparison`.
    """
    present = set(predictions["model"])
    comparisons = {
        (f"{model_a} − {other}", metric): paired_comparison(predictions, model_a, other, metric=metric, by=by,
                                                            n_boot=n_boot)
        for other in others if {model_a, other} <= present
        for metric in METRICS
    }
    return pd.concat(comparisons, names=["comparison", "metric"])


def table2_gaps(table2_predictions: pd.DataFrame, n_boot: int = 2000) -> pd.DataFrame:
    """The semi-supervised model against the supervised network, per row of Table 2, beside the paper's gap.

    Returns
    -------
    DataFrame
        Index ``metric``, ``row``; the columns of :func:`paired_comparison`
        and ``paper``: the paper's accuracy gap (one run each,
        :data:`hea_dvae.paper.TABLE_2`; NaN for other metrics).
    """
    gaps = pd.concat(
        {metric: paired_comparison(table2_predictions, "semi-supervised", "supervised network", metric=metric,
                                   by="row", n_boot=n_boot)
         for metric in METRICS},
        names=["metric"],
    )
    gaps["paper"] = [float(paper.TABLE_2[row]["semi-supervised"] - paper.TABLE_2[row]["supervised network"])
                     if metric == "accuracy" else np.nan for metric, row in gaps.index]
    return gaps


def table2_summary(table2: pd.DataFrame) -> pd.DataFrame:
    """Our Table 2 beside the paper's: split sizes, paper accuracy, our accuracy and AUC.

    Returns
    -------
    DataFrame
        Index ``row, model``; columns ``labelled``, ``unlabelled``,
        ``validation`` (ours, checked against the paper's), ``paper
        accuracy``, ``accuracy`` and ``auc`` (``mean ± std`` over seeds),
        ``accuracy_mean``, ``accuracy_std``, ``seeds`` and ``accuracy −
        paper`` (our mean minus the paper's single run).
    """
    summary = summarize(table2, by="row")
    rows = {}
    for (row, model), group in table2.groupby(["row", "model"], sort=False):
        accuracy = summary.loc[(row, model, "accuracy")]
        published = float(paper.TABLE_2[row][model])
        rows[row, model] = {
            **{part: int(group[part].iloc[0]) for part in ("labelled", "unlabelled", "validation")},
            "paper accuracy": published,
            "accuracy": accuracy["mean ± std"],
            "auc": summary.loc[(row, model, "auc"), "mean ± std"],
            "accuracy_mean": float(accuracy["mean"]),
            "accuracy_std": float(accuracy["std"]),
            "seeds": int(accuracy["seeds"]),
            "accuracy − paper": float(accuracy["mean"]) - published,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["row", "model"]
    return out


def rules_table(tables=("paper", "corrected"), data: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rules alone as a classifier, with each element table: test and all alloys.

    Returns
    -------
    DataFrame
        Index ``table``; ``test accuracy``, ``test auc`` (138 paper test
        alloys), ``all accuracy``, ``all auc`` (all 1,373 alloys), and the
        share of alloys the rules call single phase.
    """
    data = load_dataset() if data is None else data
    test_positions = paper_split(data)["test"].index
    rows = {}
    for table in tables:
        frame = with_table(data, table)
        scores = rules_classifier_scores(frame)
        labels = frame["label"].to_numpy(float)
        row = {}
        for part, rows_of_part in (("test", frame.index.isin(test_positions)), ("all", slice(None))):
            y = labels[rows_of_part][None, :]
            score = scores["score"].to_numpy(float)[rows_of_part][None, :]
            verdict = scores["prediction"].to_numpy(float)[rows_of_part][None, :]
            row[f"{part} accuracy"] = float(metrics.metric_rows("accuracy", y, score, verdict)[0])
            row[f"{part} auc"] = float(metrics.metric_rows("auc", y, score)[0])
        row["called single phase"] = float(scores["prediction"].mean())
        rows[table] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "table"
    return out
