"""Metrics on hand-made inputs whose values are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from hea_dvae.features import ELEMENTS, FEATURES
from hea_dvae.metrics import accuracy, brier, evaluate, reconstruct, reconstruction_errors, roc_auc
from hea_dvae.model import SSVAE, SSVAEConfig


def test_classification_metrics_by_hand():
    labels = [1, 0, 1, 0]
    probabilities = [0.8, 0.4, 0.3, 0.6]
    assert brier(labels, probabilities) == pytest.approx((0.04 + 0.16 + 0.49 + 0.36) / 4)
    assert accuracy(labels, probabilities) == pytest.approx(0.5)
    # Positive scores 0.8, 0.3 against negatives 0.4, 0.6: 2 of 4 pairs ordered.
    assert roc_auc(labels, probabilities) == pytest.approx(0.5)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert math.isnan(roc_auc([1, 1], [0.2, 0.9]))
    # Exactly 0.5 is not a single-phase prediction.
    assert accuracy([0], [0.5]) == 1.0


def test_reconstruction_errors_by_hand():
    true = np.zeros((2, 30))
    true[0, [0, 1]] = 0.5
    true[1, [2, 3, 4, 5]] = 0.25
    reconstructed = true.copy()
    reconstructed[0, :3] = [0.4, 0.5, 0.1]  # 10 at.% moved from element 0 to an absent element
    reconstructed[1, [2, 3, 4, 5, 6]] = [0.25, 0.25, 0.25, 0.245, 0.005]  # 0.5 at.% stray: below 1 at.%
    errors = reconstruction_errors(true, reconstructed)
    assert errors["mae_all"] == pytest.approx((20 / 30 + 1 / 30) / 2)
    # Alloy 0: (10 + 0) / 2 over its 2 elements; alloy 1: 0.5 / 4 over its 4.
    assert errors["mae_present"] == pytest.approx((5 + 0.125) / 2)
    assert errors["element_set_recovered"] == pytest.approx(0.5)
    assert reconstruction_errors(true, true) == {"mae_all": 0.0, "mae_present": 0.0, "element_set_recovered": 1.0}
    with pytest.raises(ValueError, match="shapes"):
        reconstruction_errors(true, true[:, :29])


def test_evaluate_on_a_frame():
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(30) * 0.3, size=20)
    e = rng.normal(size=(20, 8)) * 10
    frame = pd.DataFrame(x, columns=list(ELEMENTS)).assign(**dict(zip(FEATURES, e.T)), label=[0, 1] * 10)
    torch.manual_seed(0)
    model = SSVAE(SSVAEConfig(hidden=(8,)), e.mean(0), e.std(0))
    scores = evaluate(model, frame)
    assert set(scores) == {"n", "accuracy", "auc", "brier", "mae_all", "mae_present", "element_set_recovered"}
    assert scores["n"] == 20
    p = model.predict_proba(e)
    assert scores["brier"] == pytest.approx(brier(frame["label"], p))
    labels = torch.tensor(frame["label"].to_numpy(np.float32))
    with torch.no_grad():
        by_hand = model.decode(model.encode(x, labels)[0], labels).numpy()  # true label, mean of q(z|x,y)
    decoded = reconstruct(model, x, labels)
    np.testing.assert_allclose(decoded, by_hand, rtol=1e-6)
    expected = reconstruction_errors(x, by_hand)
    assert scores["mae_all"] == pytest.approx(expected["mae_all"])
    assert scores["mae_present"] == pytest.approx(expected["mae_present"])


def test_summarize_gives_mean_and_sample_std():
    from hea_dvae.metrics import summarize

    runs = [{"seed": 0, "n": 10, "auc": 0.8}, {"seed": 1, "n": 10, "auc": 0.9}, {"seed": 2, "n": 10, "auc": 1.0}]
    table = summarize(runs)
    assert list(table.index) == ["auc"]  # seed and n are not metrics
    assert table.loc["auc", "mean"] == pytest.approx(0.9)
    assert table.loc["auc", "std"] == pytest.approx(0.1)  # ddof=1: sqrt((0.01+0+0.01)/2)
    assert table.loc["auc", "mean ± std"] == "0.900 ± 0.100"
    assert table.loc["auc", "runs"] == 3


def test_comparison_table_formats_single_and_repeated_runs():
    import pandas as pd

    from hea_dvae.metrics import comparison_table

    table = comparison_table(
        {"many": pd.DataFrame({"auc": [0.5, 0.7]}), "one": pd.DataFrame({"auc": [0.25], "mae_all": [2.0]})},
        columns=["auc", "mae_all"],
    )
    assert table.loc["many", "auc"] == "0.600 ± 0.141"
    assert table.loc["many", "mae_all"] == ""
    assert table.loc["one", "auc"] == "0.250" and table.loc["one", "mae_all"] == "2.000"
    assert table["runs"].tolist() == [2, 1]


def test_rank_auc_equals_the_trapezoidal_area_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 75)
    scores = np.round(rng.random(75), 1)  # many ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


# --------------------------------------------------------------------------
# Calibration and bootstrap intervals


def test_expected_calibration_error_by_hand():
    from hea_dvae.metrics import expected_calibration_error

    labels = [0, 1, 1, 1]
    probabilities = [0.1, 0.9, 0.65, 0.75]
    # Two bins: [0, 0.5) holds 0.1 (rate 0, gap 0.1); [0.5, 1] holds 0.9, 0.65,
    # 0.75 (mean 0.7667, rate 1, gap 0.2333) -> (1 * 0.1 + 3 * 0.2333) / 4.
    assert expected_calibration_error(labels, probabilities, n_bins=2) == pytest.approx(0.2)
    # Ten bins: every alloy alone in its bin -> mean |p - y| = (0.1 + 0.1 + 0.35 + 0.25) / 4.
    assert expected_calibration_error(labels, probabilities) == pytest.approx(0.2)
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == 0.0
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(labels, probabilities, n_bins=0)
    with pytest.raises(ValueError, match="4 labels but 3 probabilities"):
        expected_calibration_error(labels, probabilities[:3])


def test_reliability_table_by_hand():
    from hea_dvae.metrics import reliability_table

    table = reliability_table([0, 1, 1, 0, 1], [0.1, 0.3, 1.0, 0.95, 0.2], n_bins=4)
    assert table["count"].tolist() == [2, 1, 0, 2]  # 1.0 joins the last bin
    assert table["lower"].tolist() == [0, 0.25, 0.5, 0.75]
    assert table.loc[0, "mean_predicted"] == pytest.approx(0.15)
    assert table.loc[0, "observed_rate"] == pytest.approx(0.5)
    assert table.loc[3, "mean_predicted"] == pytest.approx(0.975)
    assert table.loc[3, "observed_rate"] == pytest.approx(0.5)
    assert math.isnan(table.loc[2, "observed_rate"])


def test_temperature_scaling_recovers_an_overconfidence_factor():
    from scipy.special import expit

    from hea_dvae.metrics import apply_temperature, fit_temperature, to_logits

    rng = np.random.default_rng(0)
    true_logits = rng.normal(scale=1.5, size=20000)
    labels = (rng.random(20000) < expit(true_logits)).astype(int)
    # A model three times too sure of itself: T should come out near 3.
    temperature = fit_temperature(labels, 3 * true_logits)
    assert temperature == pytest.approx(3, rel=0.05)
    np.testing.assert_allclose(apply_temperature(3 * true_logits, temperature),
                               expit(3 * true_logits / temperature))
    # Calibrated logits need no temperature.
    assert fit_temperature(labels, true_logits) == pytest.approx(1, rel=0.05)
    np.testing.assert_allclose(to_logits(expit(np.array([-2.0, 0.0, 3.0]))), [-2, 0, 3], atol=1e-9)
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature([0.0], 0.0)


def _scored(n, seed, signal=1.0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return labels, np.clip(0.5 + signal * 0.3 * (labels - 0.5) + rng.normal(scale=0.2, size=n), 0, 1)


@pytest.mark.parametrize("metric", ["accuracy", "auc", "brier", "ece"])
def test_vectorised_bootstrap_matches_a_loop(metric):
    from hea_dvae.metrics import _resample_indices, bootstrap_interval, expected_calibration_error

    labels, scores = _scored(60, seed=1)
    one = {"accuracy": accuracy, "auc": roc_auc, "brier": brier, "ece": expected_calibration_error}[metric]
    fast = bootstrap_interval(labels, scores, metric, n_boot=300, seed=5)
    slow = bootstrap_interval(labels, scores, one, n_boot=300, seed=5)
    assert fast.estimate == pytest.approx(one(labels, scores), abs=1e-12)
    assert fast == pytest.approx(slow, abs=1e-12)
    # Same draws as resampling by hand.
    index = _resample_indices(labels.astype(float), 300, 5, stratified=True)
    by_hand = [one(labels[i], scores[i]) for i in index]
    assert fast.low == pytest.approx(np.percentile(by_hand, 2.5), abs=1e-12)
    assert fast.high == pytest.approx(np.percentile(by_hand, 97.5), abs=1e-12)


def test_bootstrap_interval_properties():
    from hea_dvae.metrics import bootstrap_interval

    labels, scores = _scored(138, seed=2)
    interval = bootstrap_interval(labels, scores, "auc")
    assert interval.low < interval.estimate < interval.high
    # Stratified resamples keep the class counts; plain ones do not.
    count = lambda y, p: float(np.sum(y))  # noqa: E731
    kept = bootstrap_interval(labels, scores, count, n_boot=200)
    assert kept.low == kept.high == labels.sum()
    varied = bootstrap_interval(labels, scores, count, n_boot=200, stratified=False)
    assert varied.low < labels.sum() < varied.high
    # Ten times the alloys: an interval about sqrt(10) narrower.
    many = _scored(1380, seed=3)
    wide = interval.high - interval.low
    narrow = bootstrap_interval(*many, "auc").high - bootstrap_interval(*many, "auc").low
    assert 2 < wide / narrow < 5
    assert bootstrap_interval(labels, scores, "auc", seed=1) != interval
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        bootstrap_interval(labels, scores, "f1")
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval(labels, scores, level=95)


def test_paired_bootstrap():
    from hea_dvae.metrics import paired_bootstrap

    labels, good = _scored(138, seed=4, signal=1.5)
    _, poor = _scored(138, seed=4, signal=0.3)
    for metric in ("accuracy", "auc", "brier", "ece"):
        assert tuple(paired_bootstrap(labels, good, good, metric)) == (0.0, 0.0, 0.0)
    difference = paired_bootstrap(labels, good, poor, "auc")
    assert difference.estimate == pytest.approx(roc_auc(labels, good) - roc_auc(labels, poor))
    assert 0 < difference.low < difference.estimate < difference.high
    reverse = paired_bootstrap(labels, poor, good, "auc")
    assert reverse == pytest.approx((-difference.estimate, -difference.high, -difference.low))
    with pytest.raises(ValueError, match="138 labels but 137 scores_b"):
        paired_bootstrap(labels, good, poor[:-1])


def test_paired_difference_over_runs_resamples_alloys_and_runs():
    from hea_dvae.metrics import PAIRED_COLUMNS, paired_difference, paired_frame

    labels, good = _scored(138, seed=5, signal=1.5)
    _, poor = _scored(138, seed=6, signal=0.3)
    runs_a, runs_b = np.stack([good, good]), np.stack([poor, poor])
    several = paired_difference(labels, runs_a, runs_b, "auc", n_boot=300)
    single = paired_difference(labels, good, poor, "auc", n_boot=300)
    # Two identical runs: the same difference, and an interval from the same alloy resamples.
    assert several.difference == pytest.approx(single.difference)
    assert (several.runs, several.wins, several.ties) == (2, 2, 0) and several.clear
    assert several.low == pytest.approx(single.low) and several.high == pytest.approx(single.high)
    # Verdicts replace scores > 0.5 for accuracy: a model that calls every alloy right.
    right = paired_difference(labels, poor, poor, "accuracy", n_boot=50, calls_a=labels)
    assert right.difference == pytest.approx(1 - np.mean((poor > 0.5) == (labels == 1)))
    table = paired_frame({"a − b": several, "b − a": paired_difference(labels, poor, good, "auc", n_boot=300)})
    assert list(table.columns) == [c for c in PAIRED_COLUMNS if c not in ("std", "p_value")]
    assert table.loc["b − a", "wins"] == 0


def test_paired_t_is_the_corrected_interval_and_counts_wins():
    from scipy import stats

    from hea_dvae.metrics import paired_t

    d = np.array([0.01, 0.03, 0.02, 0.02])
    result = paired_t(d, folds=4)
    se = np.sqrt((1 / 4 + 1 / 3) * d.var(ddof=1))
    assert result.high - result.difference == pytest.approx(stats.t.ppf(0.975, df=3) * se)
    assert (result.runs, result.wins, result.ties) == (4, 4, 0)
    assert paired_t(d, folds=4, metric="brier").wins == 0  # lower is better for the Brier score
    assert paired_t(np.zeros(3), folds=3).p_value == 1.0


def test_against_targets_says_which_are_met():
    from hea_dvae.metrics import against_targets

    table = against_targets({"auc": 0.92, "mae": 2.5}, {"auc": 0.91, "mae": 2.2},
                            {"auc": (">=", 0.915), "mae": ("<=", 2.2)})
    assert table["met"].tolist() == [True, False] and table.loc["mae", "target"] == "<= 2.2"
    with pytest.raises(ValueError, match="direction"):
        against_targets({"auc": 0.9}, {"auc": 0.9}, {"auc": (">", 0.9)})
