"""The forest predictor's trees as plain arrays: the same numbers as scikit-learn, kept in the cache."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from hea_dvae import cache, predictors
from hea_dvae.predictors import ForestPredictor, Trees


@pytest.fixture(scope="module")
def fitted():
    """A forest on data with ties, repeated values and float64 inputs that float32 rounds."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 6)) * [1, 10, 1e-3, 1e3, 1, 1]
    x[:, 4] = np.round(x[:, 4], 1)  # many equal values: thresholds half-way between them
    y = (x[:, 0] + 0.1 * x[:, 1] + rng.normal(size=400) > 0).astype(int)
    forest = RandomForestClassifier(60, random_state=0, min_samples_leaf=2).fit(x, y)
    new = np.concatenate([rng.normal(size=(300, 6)) * [1, 10, 1e-3, 1e3, 1, 1], x[:50]])
    return forest, new


def test_trees_score_as_scikit_learn_to_the_bit(fitted):
    forest, x = fitted
    trees = Trees.from_forest(forest)
    per_tree = trees.probabilities(x)
    assert per_tree.shape == (60, len(x))
    expected = np.array([tree.predict_proba(x)[:, 1] for tree in forest.estimators_])
    np.testing.assert_array_equal(per_tree, expected)
    np.testing.assert_array_equal(per_tree.mean(axis=0), forest.predict_proba(x)[:, 1])
    # Inputs exactly on a threshold (as float32) go left, as scikit-learn sends them.
    node = int(np.flatnonzero(np.isfinite(trees.threshold))[0])
    on = x[:1].copy()
    on[0, trees.feature[node]] = trees.threshold[node]
    np.testing.assert_array_equal(trees.probabilities(on)[:, 0],
                                  [tree.predict_proba(on)[0, 1] for tree in forest.estimators_])
    # Chunks of alloys do not change a number.
    np.testing.assert_array_equal(trees.probabilities(x, chunk=7), per_tree)


def test_trees_round_trip_through_arrays_and_refuse_what_they_cannot_score(fitted):
    forest, x = fitted
    trees = Trees.from_forest(forest)
    again = Trees.from_arrays({name: np.array(value) for name, value in trees.arrays().items()})
    np.testing.assert_array_equal(again.probabilities(x), trees.probabilities(x))
    with pytest.raises(ValueError, match="6 inputs per alloy"):
        trees.probabilities(x[:, :5])
    bad = x[:3].copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        trees.probabilities(bad)
    broken = trees.arrays()
    broken["left"] = broken["left"].copy()
    broken["left"][0] = len(broken["feature"]) + 5
    with pytest.raises(ValueError, match="left points outside"):
        Trees.from_arrays(broken)
    with pytest.raises(ValueError, match="labels 0 and 1"):
        Trees.from_forest(RandomForestClassifier(3, random_state=0).fit(x[:40], np.arange(40) % 3))


def test_a_forest_predictor_is_its_trees_mean_and_spread(fitted):
    forest, x = fitted
    predictor = ForestPredictor(Trees.from_forest(forest), "corrected", name="test forest", identity="abc")
    assert predictor.n_members == 60
    members = predictor.member_probabilities(x)
    np.testing.assert_array_equal(predictor.predict_proba(x), forest.predict_proba(x)[:, 1])
    np.testing.assert_array_equal(predictor.predict_spread(x), members.std(axis=0))


def test_cached_arrays_are_current_or_none(tmp_path, monkeypatch):
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path))
    arrays = {"a": np.arange(4.0), "label": np.array("text")}
    assert cache.read_arrays("thing") is None
    cache.write_arrays("thing", arrays, extra_key="v1")
    read = cache.read_arrays("thing", extra_key="v1")
    np.testing.assert_array_equal(read["a"], arrays["a"])
    assert str(read["label"]) == "text" and set(read) == {"a", "label"}
    assert cache.read_arrays("thing", extra_key="v2") is None  # another library version: stale
    path = tmp_path / "derived" / "thing.npz"
    path.write_bytes(path.read_bytes()[:100])  # truncated
    assert cache.read_arrays("thing", extra_key="v1") is None
    # An object array would need pickle: never loaded.
    np.savez(path, _key=np.array(cache._derived_key("thing", "v1")), a=np.array([object()], dtype=object))
    assert cache.read_arrays("thing", extra_key="v1") is None
    with pytest.raises(ValueError, match="_key"):
        cache.write_arrays("thing", {"_key": np.zeros(1)})


@pytest.mark.needs_data
def test_the_forest_predictor_is_fitted_once_then_read_without_scikit_learn_or_torch(tmp_path, monkeypatch):
    from hea_dvae import zoo

    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path))
    assert predictors.cached_forest() is None
    fitted = zoo.forest_predictor()
    kept = predictors.cached_forest()
    assert kept is not None and (kept.identity, kept.name, kept.table) == (fitted.identity, fitted.name, "corrected")
    e = fitted.featurize(np.full((2, 30), 1 / 30))
    np.testing.assert_array_equal(kept.member_probabilities(e), fitted.member_probabilities(e))
    # Another seed is another forest, kept beside it.
    assert zoo.forest_predictor(seed=1).identity != fitted.identity
    assert predictors.cached_forest().identity == fitted.identity
    # A damaged file is fitted again, to the same forest.
    path = tmp_path / "derived" / "forest-corrected-seed0.npz"
    path.write_bytes(b"not an npz")
    assert predictors.cached_forest() is None
    assert zoo.forest_predictor().identity == fitted.identity
    # Reading it back needs neither scikit-learn nor torch (a process of its own: a clean module table).
    code = ("import sys; from hea_dvae.predictors import cached_forest; f = cached_forest(); "
            "assert f is not None; f.predict_proba(f.featurize([[0.2] * 5 + [0] * 25])); "
            "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
