"""Nested grouped cross-validation on synthetic alloys: no choice sees an outer test fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hea_dvae import descriptors, evaluation, generalisation, metrics
from hea_dvae.compositions import SAME_ALLOY_AT_PCT
from hea_dvae.descriptors import DESCRIPTORS
from hea_dvae.evaluation import element_sets
from hea_dvae.features import FEATURES
from hea_dvae.generalisation import Candidate, choose, flag_difference, flag_value, outer_folds, spread_ranks_errors

from test_evaluation import alloy_systems

# Small forests: the tests check the bookkeeping, not the models.
FAST = (("random_forest", "8"), ("gradient_boosting", "31"))


@pytest.fixture(scope="module")
def alloys():
    return alloy_systems(n=240, n_systems=30, seed=1)


@pytest.fixture(scope="module")
def inputs(alloys):
    """The 8 synthetic features, then 23 columns of noise: what the models read."""
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(len(alloys), len(DESCRIPTORS) - len(FEATURES)))
    values = np.hstack([alloys[list(FEATURES)].to_numpy(), noise])
    return pd.DataFrame(values, columns=list(DESCRIPTORS))


@pytest.fixture
def small_forests(monkeypatch):
    """Forests of 10 trees and boosting of 10 stages, so that a nested run takes a second."""
    original = generalisation.sklearn_baselines

    def small(seed=42):
        models = original(seed)
        models["random_forest"].set_params(n_estimators=10)
        models["gradient_boosting"].set_params(n_estimators=10)
        return models

    monkeypatch.setattr(generalisation, "sklearn_baselines", small)


def test_outer_folds_hold_element_sets_out_and_match_cross_validate(alloys):
    folds = outer_folds(alloys, n_folds=4, n_repeats=2, seed=5)
    groups = evaluation.scheme_groups(alloys, "grouped")
    systems = element_sets(alloys).to_numpy()
    assert [(f["repeat"], f["fold"]) for f in folds] == [(r, k) for r in range(2) for k in range(4)]
    for fold, (repeat, k, train, test) in zip(folds, evaluation.cv_folds(alloys, "grouped", 4, 2, 5)):
        assert not set(systems[fold["test"]]) & set(systems[fold["train"]])
        np.testing.assert_array_equal(fold["train"], train)
        np.testing.assert_array_equal(fold["test"], test)
        # The labelled alloys of evaluation.cross_validate's fold: the SSVAE there learns from the same labels.
        parts = evaluation.fold_parts(alloys, groups, train, 0.1, 0.25, evaluation.fold_seed(5, repeat, k))
        for name in ("labelled", "unlabelled", "validation"):
            np.testing.assert_array_equal(fold[name], parts[name])
        assert set(fold["labelled"]) <= set(fold["train"])


def _recording_baselines(seen: list):
    """Estimators that remember the rows they were fitted on and scored, by an id in the first input."""

    class Recording:
        def __init__(self, **params):
            self.params = params

        def set_params(self, **params):
            self.params.update(params)
            return self

        def fit(self, inputs, labels):
            seen.append(("fit", inputs[:, 0].astype(int)))
            return self

        def predict_proba(self, inputs):
            seen.append(("score", inputs[:, 0].astype(int)))
            p = np.linspace(0.1, 0.9, len(inputs))
            return np.column_stack([1 - p, p])

    return lambda seed=42: {"random_forest": Recording(), "gradient_boosting": Recording()}


def test_inner_choices_read_only_the_positions_given_on_grouped_inner_folds(alloys, inputs, monkeypatch):
    seen = []
    monkeypatch.setattr(generalisation, "sklearn_baselines", _recording_baselines(seen))
    ids = inputs.to_numpy().copy()
    ids[:, 0] = np.arange(len(alloys))  # column 0 carries the row, for the recording estimators
    fold = outer_folds(alloys, n_folds=4, n_repeats=1)[0]
    best, scores = choose(alloys, ids, fold["labelled"], generalisation.candidates("random_forest"), n_inner=3)
    assert set(scores) == set(generalisation.candidates("random_forest")) and best in scores
    systems = element_sets(alloys).to_numpy()
    allowed = set(fold["labelled"])
    fits = [rows for kind, rows in seen if kind == "fit"]
    scored = [rows for kind, rows in seen if kind == "score"]
    assert len(fits) == len(scored) == 4 * 3  # every candidate on every inner fold
    for fitted, tested in zip(fits, scored):
        assert set(fitted) <= allowed and set(tested) <= allowed
        assert not set(fitted) & set(fold["test"]) and not set(tested) & set(fold["test"])
        assert not set(systems[fitted]) & set(systems[tested])  # inner folds are grouped too


def test_nested_choices_are_made_on_each_outer_fold_s_labelled_alloys(alloys, inputs, small_forests, monkeypatch):
    calls = []
    original = generalisation.choose

    def spy(data, values, positions, *args, **kwargs):
        calls.append(np.asarray(positions))
        return original(data, values, positions, *args, **kwargs)

    monkeypatch.setattr(generalisation, "choose", spy)
    folds = outer_folds(alloys, n_folds=3, n_repeats=2, seed=2)
    found = generalisation.nested_cross_validate(alloys, inputs, fixed=FAST, n_folds=3, n_repeats=2, n_inner=2,
                                                 inner_trees=None, seed=2, progress=False)
    assert len(calls) == len(folds) * len(generalisation.NESTED)
    for positions, fold in zip(calls[::2], folds):
        np.testing.assert_array_equal(positions, fold["labelled"])
        assert not set(positions) & set(fold["test"])
    models = ["random_forest_8", "gradient_boosting_31", "random_forest_nested", "gradient_boosting_nested"]
    assert list(dict.fromkeys(found.results["model"])) == models
    assert len(found.results) == len(folds) * len(models) * len(evaluation.SCORERS)
    # Every alloy is tested once per repeat and model.
    counts = found.predictions.groupby(["repeat", "model"])["position"].agg(lambda p: sorted(p) == list(range(240)))
    assert counts.all()
    chosen = found.choices[found.choices["chosen"]]
    assert len(chosen) == len(folds) * len(generalisation.NESTED)
    spread = found.predictions.groupby("model")["spread"].apply(lambda s: s.notna().all())
    assert spread["random_forest_8"] and not spread["gradient_boosting_31"]
    # A chosen model identical to a fixed one is that model: same predictions, fitted once.
    for (repeat, fold), rows in chosen[chosen["family"] == "random_forest"].groupby(["repeat", "fold"]):
        if rows["candidate"].iloc[0] == "random_forest_8 (max_features=sqrt)":
            same = found.predictions.query("repeat == @repeat and fold == @fold")
            np.testing.assert_array_equal(same.loc[same["model"] == "random_forest_nested", "probability"],
                                          same.loc[same["model"] == "random_forest_8", "probability"])
    # The results compare with evaluation's, fold by fold.
    paired = evaluation.compare_models(found.results, "random_forest_nested", "random_forest_8")
    assert paired.loc[("grouped", "corrected"), "runs"] == len(folds)


def test_nested_arguments_are_checked(alloys, inputs):
    with pytest.raises(ValueError, match="family"):
        generalisation.nested_cross_validate(alloys, inputs, fixed=(("svm", "8"),))
    with pytest.raises(ValueError, match="input set"):
        generalisation.nested_cross_validate(alloys, inputs, fixed=(("random_forest", "12"),))
    with pytest.raises(ValueError, match="columns"):
        generalisation.nested_cross_validate(alloys, inputs.iloc[:, :8], fixed=FAST)
    with pytest.raises(ValueError, match="n_inner"):
        generalisation.nested_cross_validate(alloys, inputs, fixed=FAST, n_inner=1)


def test_candidates_and_their_inputs():
    options = generalisation.candidates("gradient_boosting")
    assert [o.features for o in options] == ["8", "8", "31", "31"]
    assert options[0].params == (("max_depth", 3),)
    assert Candidate("random_forest", "8").columns == list(range(8))
    assert Candidate("random_forest", "31").columns == list(range(31))
    forest = Candidate("random_forest", "31", (("max_features", 0.5),)).estimator(3, forest_trees=7)
    assert (forest.n_estimators, forest.max_features, forest.random_state) == (7, 0.5, 3)
    assert Candidate("random_forest", "8").name == "random_forest_8"


def test_tree_spread_is_the_trees_standard_deviation(alloys, inputs):
    values, labels = inputs.to_numpy()[:, :8], alloys["label"].to_numpy()
    forest = Candidate("random_forest", "8").estimator(0, forest_trees=5).fit(values, labels)
    by_hand = np.std([tree.predict_proba(values[:4])[:, 1] for tree in forest.estimators_], axis=0)
    np.testing.assert_allclose(generalisation.tree_spread(forest, values[:4]), by_hand)
    boosting = Candidate("gradient_boosting", "8").estimator(0, forest_trees=5).fit(values, labels)
    assert boosting.n_estimators == 100  # forest_trees is for forests only
    assert np.isnan(generalisation.tree_spread(boosting, values[:4])).all()


def _predictions(probability, spread, label, model="forest"):
    n = len(label)
    return pd.DataFrame({"repeat": 0, "fold": 0, "model": model, "position": np.arange(n), "label": label,
                         "probability": probability, "spread": spread})


def test_spread_ranks_errors_by_hand():
    # Wrong: positions 1 (p 0.6, label 0) and 2 (p 0.4, label 1); their spreads are the largest.
    found = spread_ranks_errors(_predictions([0.9, 0.6, 0.4, 0.1], [0.1, 0.3, 0.4, 0.05], [1, 0, 1, 0]), "forest")
    row = found.loc[(0, 0)]
    assert row["wrong"] == 2 and row["spread_auc"] == 1.0 and row["closeness_auc"] == 1.0
    # Spreads that rank the right predictions above the wrong ones.
    found = spread_ranks_errors(_predictions([0.9, 0.6, 0.4, 0.1], [0.5, 0.1, 0.1, 0.5], [1, 0, 1, 0]), "forest")
    assert found.loc[(0, 0), "spread_auc"] == 0.0
    with pytest.raises(ValueError, match="no spread"):
        spread_ranks_errors(_predictions([0.9, 0.1], [np.nan, np.nan], [1, 0]), "forest")


def test_flag_value_and_difference_by_hand():
    # Folds 0 and 1: one of the two flagged alloys is wrong; fold 2: both are.
    outside = {0: [0.8, 0.7], 1: [0.8, 0.7], 2: [0.3, 0.7]}
    predictions = pd.concat([_predictions([0.9, 0.2, *outside[k]], np.nan, [1, 0, 1, 0]).assign(fold=k)
                             for k in range(3)])
    flags = pd.concat([pd.DataFrame({"repeat": 0, "fold": k, "position": np.arange(4),
                                     "outside_data": [False, False, True, True]}) for k in range(3)])
    table = flag_value(predictions, flags, "forest")
    assert list(table["flagged"]) == [0.5] * 3
    assert list(table["accuracy_inside"]) == [1.0] * 3 and list(table["accuracy_outside"]) == [0.5, 0.5, 0.0]
    assert list(table["auc_outside"]) == [1.0, 1.0, 0.0]
    difference = flag_difference(table, "accuracy", n_folds=3)
    assert difference.difference == pytest.approx(2 / 3) and difference.runs == 3 and difference.wins == 3
    by_hand = metrics.paired_t([0.5, 0.5, 1.0], folds=3, metric="accuracy")
    assert (difference.low, difference.high) == pytest.approx((by_hand.low, by_hand.high))
    with pytest.raises(ValueError, match="flags are missing"):
        flag_value(predictions, flags.iloc[:-1], "forest")


def test_outside_flags_use_the_training_part_only(alloys):
    folds = outer_folds(alloys, n_folds=3, n_repeats=1)
    flags = generalisation.outside_flags(alloys, folds)
    assert len(flags) == len(alloys)
    # Against the whole data every alloy would be at distance 0 from itself; against its
    # fold's training part (other element sets) none is.
    assert (flags["distance_to_data"] > SAME_ALLOY_AT_PCT).all()
    assert flags["outside_data"].dtype == bool


@pytest.mark.needs_data
def test_model_inputs_are_finite_and_start_with_the_8_features():
    from hea_dvae.data import load_dataset, with_table

    data = load_dataset().head(200)
    found = generalisation.model_inputs(data)
    assert list(found.columns) == list(DESCRIPTORS) and np.isfinite(found.to_numpy()).all()
    np.testing.assert_allclose(found[list(FEATURES)], with_table(data, "corrected")[list(FEATURES)], rtol=1e-5)
    low, high = np.log10(descriptors.LOG_CLIP)
    assert found["omega"].between(low, high).all() and found["lambda_"].between(low, high).all()


def test_calibrated_fixed_model_fits_its_map_on_grouped_inner_folds_of_the_labelled_alloys(alloys, inputs,
                                                                                           monkeypatch):
    from sklearn.base import BaseEstimator, ClassifierMixin

    seen = []
    ids = inputs.to_numpy().copy()
    ids[:, 0] = np.arange(len(alloys))  # column 0 carries the row
    fold = outer_folds(alloys, n_folds=4, n_repeats=1)[0]
    option = Candidate("random_forest", "8", calibration="sigmoid")
    assert option.key == "random_forest_8_sigmoid" and option.name == "random_forest_8_sigmoid"

    class Recording(ClassifierMixin, BaseEstimator):  # a classifier scikit-learn can clone
        def fit(self, inputs, labels):
            seen.append(("fit", inputs[:, 0].astype(int)))
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, inputs):
            seen.append(("score", inputs[:, 0].astype(int)))
            p = np.clip(inputs[:, 1] - inputs[:, 1].min(), 0, None)
            p = p / (p.max() or 1)
            return np.column_stack([1 - p, p])

    monkeypatch.setattr(generalisation, "sklearn_baselines", lambda seed=42: {"random_forest": Recording()})
    model = option.fit(alloys, ids, fold["labelled"], seed=0, n_inner=3)
    systems = element_sets(alloys).to_numpy()
    fits = [rows for kind, rows in seen if kind == "fit"]
    maps = [rows for kind, rows in seen if kind == "score"]
    assert len(fits) == len(maps) == 3  # one model and one calibration map per inner fold
    assert set(np.concatenate(maps)) == set(fold["labelled"])  # every labelled alloy calibrates once
    for fitted, mapped in zip(fits, maps):
        assert set(fitted) | set(mapped) <= set(fold["labelled"])
        assert not set(systems[fitted]) & set(systems[mapped])
    p = model.predict_proba(ids[fold["test"]][:, option.columns])[:, 1]
    assert ((p >= 0) & (p <= 1)).all()
    with pytest.raises(ValueError, match="calibration"):
        Candidate("random_forest", "8", calibration="beta")
    with pytest.raises(ValueError, match="fixed model"):
        generalisation.nested_cross_validate(alloys, inputs, fixed=(("random_forest",),))


def test_nested_cross_validate_scores_a_calibrated_forest_as_a_model(alloys, inputs, small_forests):
    fixed = (("random_forest", "8"), ("random_forest", "8", "isotonic"))
    found = generalisation.nested_cross_validate(alloys, inputs, fixed=fixed, nested=(), n_folds=3, n_repeats=1,
                                                 progress=False)
    assert list(dict.fromkeys(found.results["model"])) == ["random_forest_8", "random_forest_8_isotonic"]
    raw, calibrated = (found.predictions[found.predictions["model"] == m] for m in dict.fromkeys(fixed_keys(fixed)))
    assert not np.allclose(raw["probability"], calibrated["probability"])
    assert calibrated["spread"].isna().all()  # a calibrated forest has no trees' spread
    # The results are the scorers of the predictions, fold by fold.
    rescored = evaluation.score_predictions(found.predictions)
    pd.testing.assert_frame_equal(rescored, found.results)
    part = calibrated[calibrated["fold"] == 1]
    by_hand = metrics.expected_calibration_error(part["label"], part["probability"])
    value = found.results.query("model == 'random_forest_8_isotonic' and fold == 1 and metric == 'ece'")["value"]
    assert value.item() == pytest.approx(by_hand)


def fixed_keys(fixed):
    return ["_".join(entry) for entry in fixed]


def test_combine_averages_models_on_the_folds_they_share():
    a = _predictions([0.9, 0.2, 0.6], np.nan, [1, 0, 1], model="a").assign(scheme="grouped", table="t", formula="X")
    b = _predictions([0.7, 0.4, 0.2], 0.1, [1, 0, 1], model="b").assign(scheme="grouped", table="t", formula="X")
    later = b.assign(repeat=1)  # a repeat only b was scored on: left out
    found = generalisation.combine(pd.concat([a, b, later]), ["a", "b"], "mean")
    assert list(found.columns) == list(a.columns)
    np.testing.assert_allclose(found["probability"], [0.8, 0.3, 0.4])
    assert (found["model"] == "mean").all() and found["spread"].isna().all() and (found["repeat"] == 0).all()
    assert list(found["label"]) == [1, 0, 1]
    with pytest.raises(ValueError, match="no predictions"):
        generalisation.combine(a, ["a", "b"], "mean")
    with pytest.raises(ValueError, match="two or more"):
        generalisation.combine(a, ["a", "a"], "mean")


def test_ece_floor_is_what_a_calibrated_model_scores():
    rng = np.random.default_rng(3)
    p = rng.uniform(size=400)
    calibrated = _predictions(p, np.nan, (rng.uniform(size=400) < p).astype(int))
    found = generalisation.ece_floor(calibrated, "forest", draws=300, seed=1)
    row = found.loc[(0, 0)]
    assert row["alloys"] == 400
    # Labels drawn from p: the observed error is one more draw of the floor's distribution.
    assert 0.02 < row["floor"] < row["floor_95"] < 0.1 and row["ece"] < row["floor_95"]
    # A model that says 0.9 where half are single phase is far above its floor.
    overconfident = _predictions(np.full(400, 0.9), np.nan, np.arange(400) % 2)
    row = generalisation.ece_floor(overconfident, "forest", draws=50).loc[(0, 0)]
    assert row["ece"] == pytest.approx(0.4) and row["floor_95"] < 0.05
    # More alloys, a lower floor (it shrinks as 1/sqrt(n)).
    more = _predictions(np.tile(p, 4), np.nan, np.zeros(1600, dtype=int))
    assert generalisation.ece_floor(more, "forest", draws=100).loc[(0, 0), "floor"] < row["floor"] * 10
    assert generalisation.ece_floor(more, "forest", draws=100).loc[(0, 0), "floor"] < found.loc[(0, 0), "floor"]
    with pytest.raises(ValueError, match="draws"):
        generalisation.ece_floor(calibrated, "forest", draws=0)


def test_ece_floor_pooled_by_repeat_is_lower_than_per_fold():
    rng = np.random.default_rng(4)
    p = rng.uniform(size=1200)
    labels = (rng.uniform(size=1200) < p).astype(int)
    folds = _predictions(p, np.nan, labels).assign(fold=np.arange(1200) % 4)
    per_fold = generalisation.ece_floor(folds, "forest", draws=100)
    pooled = generalisation.ece_floor(folds, "forest", draws=100, by=("repeat",))
    assert list(per_fold.index.names) == ["repeat", "fold"] and len(per_fold) == 4
    assert list(pooled.index.names) == ["repeat"] and pooled["alloys"].tolist() == [1200]
    # Four times the alloys: about half the floor.
    assert pooled["floor"].iloc[0] == pytest.approx(per_fold["floor"].mean() / 2, rel=0.25)
    assert pooled["ece"].iloc[0] == pytest.approx(metrics.expected_calibration_error(labels, p))


def test_the_forest_predictor_reads_the_table_its_comparison_was_made_on():
    from hea_dvae import predictors

    assert predictors.FOREST_TABLE == generalisation.TABLE
