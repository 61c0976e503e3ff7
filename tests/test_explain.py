"""Explaining the classifier: exact Shapley values, rankings, and the model against the rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
import torch
from synthetic import synthetic_alloys

from hea_dvae import explain
from hea_dvae.features import ELEMENTS, FEATURES
from hea_dvae.model import SSVAE, SSVAEConfig


@pytest.fixture
def alloys() -> pd.DataFrame:
    return synthetic_alloys(60, seed=4)


@pytest.fixture
def small_model(alloys) -> SSVAE:
    torch.manual_seed(0)
    e = alloys[list(FEATURES)].to_numpy()
    return SSVAE(SSVAEConfig(hidden=(16, 16)), feature_mean=e.mean(0), feature_std=e.std(0)).eval()


class _Linear:
    """logit = w . e + c, a model whose Shapley values are known in closed form."""

    def __init__(self, weights, intercept):
        self.weights = torch.tensor(weights, dtype=torch.float32)
        self.intercept = float(intercept)

    def classify_logits(self, e):
        return e @ self.weights + self.intercept


# The probability case is exact Shapley values through a sigmoid: 10 s, so only in make test.
@pytest.mark.parametrize("output", [pytest.param("probability", marks=pytest.mark.slow), "logit"])
def test_shapley_values_add_up_to_prediction_minus_base_value(small_model, alloys, output):
    explanation = explain.shap_values(small_model, alloys.iloc[:10], alloys.iloc[10:], output=output,
                                      progress=False)
    predicted = explain.model_output(small_model, output)(alloys.iloc[:10][list(FEATURES)].to_numpy())
    np.testing.assert_allclose(explanation.values.sum(axis=1) + explanation.base_values, predicted, atol=1e-5)
    # The base value is the mean output over the background alloys.
    background_mean = explain.model_output(small_model, output)(alloys.iloc[10:][list(FEATURES)].to_numpy()).mean()
    np.testing.assert_allclose(explanation.base_values, background_mean, atol=1e-5)
    assert explanation.values.shape == (10, len(FEATURES))
    assert list(explanation.feature_names) == list(FEATURES)


def test_shapley_values_of_a_linear_logit_are_weight_times_centred_feature(alloys):
    # With independent features replaced from a background, phi_j = w_j (e_j - mean_b e_j).
    weights = np.array([0.01, -0.5, 0.002, 0.3, -0.2, 4.0, 0.1, 0.05])
    model = _Linear(weights, intercept=-1.0)
    explained = alloys.iloc[:7][list(FEATURES)].to_numpy()
    background = alloys.iloc[7:][list(FEATURES)].to_numpy()
    explanation = explain.shap_values(model, explained, background, output="logit", chunk=3, progress=False)
    expected = weights * (explained - background.mean(axis=0))
    np.testing.assert_allclose(explanation.values, expected, rtol=1e-4, atol=1e-3)
    # A linear logit: each Shapley value is w_j times the centred value, so the correlation is sign(w_j).
    for j, feature in enumerate(FEATURES):
        if explained[:, j].std() > 0:
            assert explain.value_correlation(explanation, feature) == pytest.approx(np.sign(weights[j]), abs=1e-3)
    with pytest.raises(ValueError, match="unknown feature"):
        explain.value_correlation(explanation, "entropy")
    one = explain.shap_values(model, explained[:1], background, output="logit", progress=False)
    with pytest.raises(ValueError, match="constant"):
        explain.value_correlation(one, "delta_s_mix")


def test_background_subsample_is_seeded_and_a_subset(alloys):
    background = alloys[list(FEATURES)].to_numpy()
    first = explain.background_sample(background, size=20, seed=1)
    again = explain.background_sample(background, size=20, seed=1)
    other = explain.background_sample(background, size=20, seed=2)
    assert first.shape == (20, len(FEATURES))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert all((row == background).all(axis=1).any() for row in first)
    assert explain.background_sample(background, size=None).shape == background.shape
    with pytest.raises(ValueError, match="positive"):
        explain.background_sample(background, size=0)


def test_bad_arguments_are_refused(small_model, alloys):
    with pytest.raises(ValueError, match="output"):
        explain.shap_values(small_model, alloys.iloc[:2], alloys, output="margin")
    with pytest.raises(ValueError, match="shape"):
        explain.shap_values(small_model, np.zeros((2, 5)), alloys)
    with pytest.raises(ValueError, match="lack the columns"):
        explain.shap_values(small_model, alloys.drop(columns="vac"), alloys)


def _explanation(values) -> shap.Explanation:
    values = np.asarray(values, dtype=float)
    return shap.Explanation(values=values, base_values=np.zeros(len(values)), data=np.zeros_like(values),
                            feature_names=list(FEATURES))


def test_rankings_and_kendall_tau():
    ascending = np.arange(1, 9, dtype=float)  # delta_h_mix (last) most important
    first = _explanation([ascending, -ascending])
    same = _explanation([2 * ascending])
    reversed_ = _explanation([ascending[::-1]])
    importance = explain.importance_table({"a": first, "b": same, "c": reversed_})
    assert list(importance.index) == list(FEATURES)
    assert explain.mean_abs_shap(first).index[0] == "delta_h_mix"
    ranks = explain.importance_ranks(importance)
    assert ranks.loc["delta_h_mix", "a"] == 1 and ranks.loc["k", "a"] == 8
    taus = explain.pairwise_kendall(importance).set_index(["first", "second"])["tau"]
    assert taus[("a", "b")] == pytest.approx(1.0)
    assert taus[("a", "c")] == pytest.approx(-1.0)
    assert explain.order_agreement(explain.mean_abs_shap(first), list(FEATURES)[::-1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="reference order"):
        explain.order_agreement(explain.mean_abs_shap(first), ["k", "vm"])


def test_model_against_rules_counts():
    # Four alloys: label, model verdict and a rule verdict chosen by hand.
    table = pd.DataFrame(
        {
            "formula": ["A", "B", "C", "D"],
            "label": [1, 1, 0, 0],
            "probability": [0.9, 0.2, 0.7, 0.1],
            "model": [True, False, True, False],
            "single_phase": [True, True, False, True],
        }
    )
    summary = explain.agreement_with_rules(table, rules=["single_phase"]).loc["single_phase"]
    assert summary["agree"] == 0.25  # only A
    assert summary["rule_accuracy"] == 0.75  # A, B, C right
    assert summary["model_accuracy"] == 0.5  # A, D right
    assert summary["disagreements"] == 3
    assert summary["model_right"] == 1  # D
    assert summary["rule_right"] == 2  # B, C
    listed = explain.disagreements(table)
    assert listed.set_index("formula")["right"].to_dict() == {"B": "rule", "C": "rule", "D": "model"}


def test_rules_versus_model_uses_the_rules_verdict(alloys):
    probability = np.linspace(0, 1, len(alloys))
    table = explain.rules_versus_model(alloys, probability)
    assert len(table) == len(alloys)
    for column in ("omega", "delta", "vec", "yang2012", "guo2011", "single_phase", "model"):
        assert column in table
    assert (table["model"] == (probability > 0.5)).all()
    np.testing.assert_array_equal(table["n_elements"], (alloys[list(ELEMENTS)] > 0).sum(axis=1))
    # Yang & Zhang: Omega >= 1.1 and delta <= 6.6 %.
    assert (table["yang2012"] == ((table["omega"] >= 1.1) & (table["delta"] <= 6.6))).all()
    with pytest.raises(ValueError, match="probabilities"):
        explain.rules_versus_model(alloys, probability[:-1])


def test_several_outputs_in_one_pass_equal_separate_explanations(small_model, alloys):
    both = explain.shap_values_by_output(small_model, alloys.iloc[:4], alloys.iloc[4:30], progress=False)
    for output in explain.OUTPUTS:
        alone = explain.shap_values(small_model, alloys.iloc[:4], alloys.iloc[4:30], output=output,
                                    progress=False)
        np.testing.assert_allclose(both[output].values, alone.values, atol=1e-9)
        np.testing.assert_allclose(both[output].base_values, alone.base_values, atol=1e-9)
    # The logit's values are not the probability's: the sigmoid is not linear.
    assert not np.allclose(both["logit"].values, both["probability"].values)


def test_waterfall_bars_chain_from_base_value_to_prediction():
    from hea_dvae.reporting import plots

    values = np.array([[0.3, -0.1, 0.05, 0.0, -0.2, 0.01, 0.02, -0.03]])
    explanation = shap.Explanation(values=values, base_values=np.array([0.4]), data=np.ones((1, 8)),
                                   feature_names=list(FEATURES), output_names="probability")
    figure = plots.shap_waterfalls(explanation, [0], ["alloy"])
    bars = sorted(figure.axes[0].patches, key=lambda bar: bar.get_y())  # bottom to top
    assert bars[0].get_x() == pytest.approx(0.4)
    for lower, upper in zip(bars[:-1], bars[1:]):
        assert upper.get_x() == pytest.approx(lower.get_x() + lower.get_width())
    assert bars[-1].get_x() + bars[-1].get_width() == pytest.approx(0.4 + values.sum())
    assert abs(bars[-1].get_width()) == pytest.approx(0.3)  # the largest on top
    plots.plt.close("all")
