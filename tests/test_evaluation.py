"""Cross-validation on synthetic alloys: folds that keep duplicates and systems together."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hea_dvae import evaluation
from hea_dvae.evaluation import compare_models, cross_validate, cv_folds, fold_parts, summarize_cv
from hea_dvae.features import ELEMENTS
from hea_dvae.model import SSVAEConfig
from hea_dvae.train import TrainConfig

from synthetic import synthetic_alloys

TINY = TrainConfig(model=SSVAEConfig(hidden=(16,)), epochs=6, min_epochs=1, patience=3)


def alloy_systems(n: int = 240, n_systems: int = 24, n_duplicates: int = 12, seed: int = 0) -> pd.DataFrame:
    """Synthetic alloys drawn from a few element sets, some written twice.

    Features and labels come from :func:`synthetic.synthetic_alloys`; the
    fractions are replaced by compositions of ``n_systems`` element sets. The
    last ``n_duplicates`` alloys repeat earlier compositions (off by 1e-9, as
    two spellings of one alloy are), with their own features and labels.
    """
    rng = np.random.default_rng(seed)
    frame = synthetic_alloys(n, seed)
    systems = [rng.choice(len(ELEMENTS), size=rng.integers(2, 6), replace=False) for _ in range(n_systems)]
    x = np.zeros((n, len(ELEMENTS)))
    for row, system in zip(x, rng.integers(0, n_systems, n)):
        row[systems[system]] = rng.dirichlet(np.ones(len(systems[system])))
    originals = rng.choice(n - n_duplicates, size=n_duplicates, replace=False)
    x[n - n_duplicates:] = x[originals]
    x[np.arange(n - n_duplicates, n), x[n - n_duplicates:].argmax(axis=1)] += 1e-9
    x /= x.sum(axis=1, keepdims=True)
    frame[list(ELEMENTS)] = x
    return frame


def rounded_keys(frame: pd.DataFrame) -> pd.Series:
    return frame[list(ELEMENTS)].round(6).apply(tuple, axis=1)


@pytest.fixture(scope="module")
def alloys():
    return alloy_systems()


# --------------------------------------------------------------------------
# Folds


@pytest.mark.parametrize("scheme", ["random", "grouped"])
def test_folds_test_each_alloy_once_per_repeat_and_are_stratified(alloys, scheme):
    folds = cv_folds(alloys, scheme, n_folds=4, n_repeats=2, seed=3)
    assert [(r, f) for r, f, _, _ in folds] == [(r, f) for r in range(2) for f in range(4)]
    overall = alloys["label"].mean()
    for repeat in range(2):
        tested = np.concatenate([test for r, _, _, test in folds if r == repeat])
        assert np.sort(tested).tolist() == list(range(len(alloys)))
    for _, _, train, test in folds:
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(alloys)
        # Whole groups move between folds, so grouped folds stratify less tightly.
        tolerance = 0.06 if scheme == "random" else 0.2
        assert abs(alloys["label"].to_numpy()[test].mean() - overall) < tolerance
    first = [test for r, _, _, test in folds if r == 0]
    second = [test for r, _, _, test in folds if r == 1]
    assert any(not np.array_equal(np.sort(a), np.sort(b)) for a, b in zip(first, second))


@pytest.mark.parametrize("scheme", ["random", "grouped"])
def test_duplicates_are_never_split(alloys, scheme):
    keys = rounded_keys(alloys)
    assert keys.duplicated().sum() == 12  # the fixture's twelve second spellings
    for _, _, train, test in cv_folds(alloys, scheme, n_folds=5):
        assert not set(keys.iloc[train]) & set(keys.iloc[test])


def test_grouped_folds_share_no_element_set(alloys):
    systems = evaluation.element_sets(alloys)
    assert systems.nunique() == 24
    for _, _, train, test in cv_folds(alloys, "grouped", n_folds=5):
        assert not set(systems.iloc[train]) & set(systems.iloc[test])
    # The random scheme does put one system on both sides.
    _, _, train, test = cv_folds(alloys, "random", n_folds=5)[0]
    assert set(systems.iloc[train]) & set(systems.iloc[test])


def test_element_sets_by_hand():
    x = np.zeros((2, len(ELEMENTS)))
    x[0, [ELEMENTS.index(s) for s in ("Ni", "Al")]] = 0.5
    x[1, [ELEMENTS.index(s) for s in ("Co", "Cr", "Fe")]] = 1 / 3
    systems = evaluation.element_sets(pd.DataFrame(x, columns=list(ELEMENTS)))
    assert systems.tolist() == ["Ni-Al", "Fe-Cr-Co"]  # ELEMENTS order


@pytest.mark.parametrize("scheme", ["random", "grouped"])
def test_fold_parts_partition_the_training_alloys(alloys, scheme):
    groups = evaluation.scheme_groups(alloys, scheme)
    _, _, train, _ = cv_folds(alloys, scheme, n_folds=4)[0]
    parts = fold_parts(alloys, groups, train, validation_share=0.2, unlabelled_share=0.25, seed=1)
    joined = np.concatenate(list(parts.values()))
    assert np.sort(joined).tolist() == np.sort(train).tolist()
    assert abs(len(parts["validation"]) / len(train) - 0.2) < 0.1
    rest = len(train) - len(parts["validation"])
    assert abs(len(parts["unlabelled"]) - 0.25 * rest) <= 1
    # Validation holds whole groups: no duplicate (or, grouped, no system) on both sides.
    assert not set(groups[parts["validation"]]) & set(groups[np.concatenate([parts["labelled"], parts["unlabelled"]])])
    labels = alloys["label"].to_numpy()
    assert 0 < labels[parts["validation"]].mean() < 1
    assert fold_parts(alloys, groups, train, 0.2, 0.0, seed=1)["unlabelled"].size == 0


def test_fold_arguments_are_checked(alloys):
    with pytest.raises(ValueError, match="unknown scheme 'leave-one-out'"):
        cv_folds(alloys, "leave-one-out")
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2, got 1"):
        cv_folds(alloys, n_folds=1)
    with pytest.raises(ValueError, match="24 groups, fewer than n_folds=30"):
        cv_folds(alloys, "grouped", n_folds=30)


# --------------------------------------------------------------------------
# Cross-validation


@pytest.fixture(scope="module")
def grouped_run(alloys):
    return cross_validate(alloys, schemes=("random", "grouped"), n_folds=3, train_config=TINY,
                          progress=False, return_predictions=True)


@pytest.mark.slow
def test_cross_validate_returns_one_tidy_row_per_score(alloys, grouped_run):
    results, predictions = grouped_run
    assert list(results.columns) == ["scheme", "table", "repeat", "fold", "model", "metric", "value"]
    assert len(results) == 2 * 3 * len(evaluation.MODELS) * len(evaluation.CV_METRICS)
    assert set(results["model"]) == set(evaluation.MODELS)
    assert results["value"].between(0, 1).all()
    # Each alloy gets one out-of-fold probability per scheme and model.
    counts = predictions.groupby(["scheme", "model"])["position"].apply(lambda p: sorted(p) == list(range(len(alloys))))
    assert counts.all()
    # The tidy scores are the scores of those predictions.
    one = predictions[(predictions["scheme"] == "grouped") & (predictions["fold"] == 1)
                      & (predictions["model"] == "logistic_regression")]
    from hea_dvae.metrics import roc_auc

    value = results.query("scheme == 'grouped' and fold == 1 and model == 'logistic_regression' and metric == 'auc'")
    assert value["value"].item() == pytest.approx(roc_auc(one["label"], one["probability"]))
    assert (predictions["label"].to_numpy() == alloys["label"].to_numpy()[predictions["position"]]).all()


@pytest.mark.slow
def test_cross_validate_is_identical_with_two_workers(alloys, grouped_run):
    results, predictions = grouped_run
    parallel, parallel_predictions = cross_validate(
        alloys, schemes=("random", "grouped"), n_folds=3, train_config=TINY, progress=False,
        return_predictions=True, n_jobs=2,
    )
    pd.testing.assert_frame_equal(parallel, results, check_exact=True)
    pd.testing.assert_frame_equal(parallel_predictions, predictions, check_exact=True)


@pytest.mark.slow
def test_cross_validate_with_unlabelled_alloys_and_another_seed(alloys, grouped_run):
    results = cross_validate(alloys, models=("ssvae", "logistic_regression"), n_folds=3,
                             train_config=TINY, unlabelled_share=0.3, progress=False)
    baseline = grouped_run[0].query("scheme == 'random' and model in ('ssvae', 'logistic_regression')")
    assert len(results) == len(baseline)
    # Fewer labelled alloys: the logistic regression sees other data and scores differently.
    assert not np.allclose(results["value"].to_numpy(), baseline["value"].to_numpy())


def test_cross_validate_arguments_are_checked(alloys):
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        cross_validate(alloys, models=("svm",), progress=False)
    with pytest.raises(ValueError, match="unknown table 'mine'"):
        cross_validate(alloys, tables="mine", progress=False)
    with pytest.raises(ValueError, match="validation_share must be in \\(0, 0.5\\], got 0"):
        cross_validate(alloys, validation_share=0, progress=False)
    with pytest.raises(ValueError, match="unlabelled_share must be in \\[0, 1\\), got 1"):
        cross_validate(alloys, unlabelled_share=1, progress=False)


# --------------------------------------------------------------------------
# Summaries


def results_by_hand() -> pd.DataFrame:
    rows = []
    a_scores = [0.81, 0.83, 0.82, 0.82]
    b_scores = [0.80, 0.80, 0.80, 0.80]
    for fold, (a, b) in enumerate(zip(a_scores, b_scores)):
        for model, value in (("a", a), ("b", b)):
            rows.append(("random", "paper", 0, fold, model, "auc", value))
            rows.append(("random", "paper", 0, fold, model, "brier", 1 - value))
    return pd.DataFrame(rows, columns=["scheme", "table", "repeat", "fold", "model", "metric", "value"])


def test_summarize_cv_by_hand():
    summary = summarize_cv(results_by_hand())
    row = summary.loc[("random", "paper", "a", "auc")]
    assert row["mean"] == pytest.approx(0.82)
    assert row["std"] == pytest.approx(np.std([0.81, 0.83, 0.82, 0.82], ddof=1))
    assert row["folds"] == 4
    assert row["mean ± std"] == "0.820 ± 0.008"


def test_compare_models_with_the_corrected_t_interval():
    results = results_by_hand()
    comparison = compare_models(results, "a", "b").loc[("random", "paper")]
    d = np.array([0.01, 0.03, 0.02, 0.02])
    # Nadeau & Bengio: variance (1/J + 1/(k - 1)) s^2 with J = k = 4 folds.
    se = np.sqrt((1 / 4 + 1 / 3) * d.var(ddof=1))
    half = stats.t.ppf(0.975, df=3) * se
    assert comparison["difference"] == pytest.approx(0.02)
    assert comparison["low"] == pytest.approx(0.02 - half)
    assert comparison["high"] == pytest.approx(0.02 + half)
    assert comparison["p_value"] == pytest.approx(2 * stats.t.sf(0.02 / se, df=3))
    assert (comparison["wins"], comparison["runs"], comparison["clear"]) == (4, 4, True)
    # For the Brier score lower is better: a (1 - auc) still wins every fold.
    assert compare_models(results, "a", "b", metric="brier").loc[("random", "paper"), "wins"] == 4
    itself = compare_models(results, "a", "a").loc[("random", "paper")]
    assert (itself["difference"], itself["low"], itself["high"], itself["p_value"]) == (0, 0, 0, 1)
    assert itself["ties"] == 4 and not itself["clear"]
    with pytest.raises(ValueError, match="model 'c' is not in the results"):
        compare_models(results, "a", "c")


def test_compare_tables_on_shared_folds():
    paper = results_by_hand()
    corrected = paper.assign(table="corrected", value=paper["value"] + 0.01)
    comparison = compare_models(pd.concat([paper, corrected]), "corrected", "paper", between="table")
    assert list(comparison.index) == [("random", "a"), ("random", "b")]
    assert comparison["difference"].to_numpy() == pytest.approx([0.01, 0.01])
    assert (comparison["wins"] == comparison["runs"]).all()
    with pytest.raises(ValueError, match="unknown between 'seed'"):
        compare_models(paper, "a", "b", between="seed")


# --------------------------------------------------------------------------
# Figures


def test_figures_draw_what_they_are_given():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hea_dvae.reporting import plots
    from hea_dvae.metrics import reliability_table

    labels = np.array([0, 1, 1, 0, 1, 1])
    probabilities = np.array([0.1, 0.3, 0.95, 0.92, 0.6, 0.65])
    fig = plots.reliability_diagram({"model": (labels, probabilities)}, n_bins=4)
    line = fig.axes[0].get_lines()[1]
    table = reliability_table(labels, probabilities, 4)
    filled = table[table["count"] > 0]
    np.testing.assert_allclose(line.get_xdata(), filled["mean_predicted"])
    np.testing.assert_allclose(line.get_ydata(), filled["observed_rate"])
    # Bin gaps |sum p - sum y|: 0.1, 0.7, |1.25 - 2|, |1.87 - 1|; over 6 alloys.
    assert "ECE 0.403" in fig.axes[0].get_legend().get_texts()[1].get_text()
    assert [bar.get_height() for bar in fig.axes[1].patches] == table["count"].tolist()

    fig = plots.cv_comparison(results_by_hand())
    (errorbars,) = fig.axes[0].containers  # one setting (random folds, paper table)
    np.testing.assert_allclose(errorbars.lines[0].get_xdata(), [0.82, 0.80])
    with pytest.raises(ValueError, match="metric 'f1'"):
        plots.cv_comparison(results_by_hand(), metric="f1")
    plt.close("all")


@pytest.mark.slow
def test_the_ssvae_on_descriptors_is_trained_on_them_and_cached(alloys, tmp_path, monkeypatch):
    from hea_dvae import checkpoint
    from hea_dvae.descriptors import MODEL_INPUTS
    from hea_dvae.zoo import models_dir

    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path))
    results, predictions = cross_validate(alloys, schemes="grouped", models=("ssvae", "ssvae_descriptors"),
                                          n_folds=3, train_config=TINY, unlabelled_share=0.3, progress=False,
                                          return_predictions=True)
    assert set(results["model"]) == {"ssvae", "ssvae_descriptors"}
    # Three folds, two SSVAEs each: three of them read the 31 descriptors, in a model of that width.
    widths = sorted(len(checkpoint.read_config(entry)["features"]) for entry in models_dir().iterdir()
                    if entry.is_dir())
    assert widths == [8, 8, 8, 31, 31, 31]
    assert checkpoint.load(next(e for e in models_dir().iterdir() if e.is_dir()
                                and checkpoint.read_config(e)["features"] == list(MODEL_INPUTS))).features == MODEL_INPUTS
    # Read again from the cache: the same predictions, nothing trained.
    again = cross_validate(alloys, schemes="grouped", models=("ssvae", "ssvae_descriptors"), n_folds=3,
                           train_config=TINY, unlabelled_share=0.3, progress=False, return_predictions=True)[1]
    pd.testing.assert_frame_equal(again, predictions, check_exact=True)
    a, b = (predictions[predictions["model"] == m]["probability"].to_numpy() for m in ("ssvae", "ssvae_descriptors"))
    assert not np.allclose(a, b)
