"""The empirical rules from compositions: hand-worked alloys, gamma and Lambda, one implementation for both inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hea_dvae import data, rules
from hea_dvae.features import ELEMENTS, FEATURES, composition_matrix, composition_vector, featurize, get_table
from hea_dvae.priors import ExpertPrior
from hea_dvae.scores import roc_auc

R = 8.314  # J/(mol K), the gas constant of the features
IDX = {symbol: i for i, symbol in enumerate(ELEMENTS)}


def solid_angle(r, r_mean):
    # Wang et al. (2015), eq. for the solid angle of the atoms around one of radius r.
    return 1 - math.sqrt(((r + r_mean) ** 2 - r_mean**2) / (r + r_mean) ** 2)


def random_compositions(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, len(ELEMENTS)))
    for row in x:
        chosen = rng.choice(len(ELEMENTS), size=rng.integers(2, 7), replace=False)
        row[chosen] = rng.dirichlet(np.ones(len(chosen)))
    return x


# --------------------------------------------------------------------------
# Hand-worked alloys on the standard table


@pytest.mark.needs_data
def test_cantor_alloy_by_hand():
    q = rules.quantities(composition_vector("CoCrFeMnNi")).iloc[0]
    tm = (1768 + 2180 + 1811 + 1519 + 1728) / 5  # pymatgen melting points, K
    s_mix = R * math.log(5)
    h_mix = 4 * 0.04 * -26  # Takeuchi & Inoue pairs, sum -26 kJ/mol
    r = {"Co": 125.1, "Cr": 124.9, "Fe": 124.1, "Mn": 135.0, "Ni": 124.6}  # Guo & Liu (2011)
    r_mean = sum(r.values()) / 5
    delta = 100 * math.sqrt(sum((1 - v / r_mean) ** 2 for v in r.values()) / 5)
    assert q["tm"] == pytest.approx(tm)
    assert q["omega"] == pytest.approx(tm * s_mix / abs(1000 * h_mix), rel=1e-5)  # 5.79
    assert q["delta"] == pytest.approx(delta, rel=1e-12)  # 3.27 %
    # Smallest atom Fe (124.1), largest Mn (135.0).
    gamma = solid_angle(124.1, r_mean) / solid_angle(135.0, r_mean)
    assert q["gamma"] == pytest.approx(gamma, rel=1e-12)  # 1.096
    assert q["lambda_"] == pytest.approx(s_mix / delta**2, rel=1e-5)  # 1.25

    verdict = rules.verdicts(composition_vector("CoCrFeMnNi")).iloc[0]
    assert verdict[list(rules.ALL_RULES)].all() and verdict["votes"] == 5
    assert verdict["vec_phase"] == "FCC" and verdict["lambda_phase"] == "single"
    assert verdict["single_phase"]


@pytest.mark.needs_data
def test_intermetallic_nial_by_hand():
    verdict = rules.verdicts(composition_vector("AlNi")).iloc[0]
    s_mix, h_mix = R * math.log(2), -22.0
    assert verdict["delta_h_mix"] == pytest.approx(h_mix)
    assert verdict["omega"] == pytest.approx((933.47 + 1728) / 2 * s_mix / 22000, rel=1e-5)  # 0.35
    assert verdict["lambda_"] == pytest.approx(s_mix / verdict["delta"] ** 2, rel=1e-5)  # 0.12
    assert not verdict["yang2012"] and not verdict["zhang2008"] and not verdict["singh2014"]
    assert verdict["lambda_phase"] == "compounds"
    assert not verdict["single_phase"]


@pytest.mark.needs_data
@pytest.mark.parametrize("formula, phase", [("CoCrFeNi", "single"), ("AlCoCrFeNi", "two phases"), ("AlNi", "compounds")])
def test_lambda_phases(formula, phase):
    # Lambda = dS / delta^2: CoCrFeNi 11.53 / 0.302^2 = 126; AlCoCrFeNi 13.38 / 5.78^2 = 0.40; AlNi 0.12.
    assert rules.verdicts(composition_vector(formula)).iloc[0]["lambda_phase"] == phase


# --------------------------------------------------------------------------
# gamma


def test_gamma_of_equal_radii_and_of_one_element_is_one():
    radii = np.full(len(ELEMENTS), 130.0)
    x = random_compositions(20, seed=1)
    np.testing.assert_allclose(rules.solid_angle_gamma(x, radii), 1.0, rtol=1e-14)
    pure = np.zeros(len(ELEMENTS))
    pure[IDX["Fe"]] = 1.0
    assert rules.solid_angle_gamma(pure, np.arange(30) + 100.0)[0] == pytest.approx(1.0)


def test_gamma_grows_with_the_size_of_the_largest_atom():
    x = composition_matrix(["FeNi", "FeNi", "FeNi"])
    radii = np.full(len(ELEMENTS), 125.0)
    gammas = []
    for r_ni in (125.0, 135.0, 150.0):
        radii[IDX["Ni"]] = r_ni
        gammas.append(rules.solid_angle_gamma(x[:1], radii)[0])
    assert gammas[0] == pytest.approx(1.0) and gammas[0] < gammas[1] < gammas[2]


def test_gamma_ignores_traces_below_the_presence_threshold():
    radii = np.full(len(ELEMENTS), 125.0)
    radii[IDX["W"]] = 200.0
    x = composition_vector("FeNi") * (1 - 1e-8)
    x[IDX["W"]] = 1e-8  # a softmax never gives exact zeros
    assert rules.solid_angle_gamma(x, radii)[0] == pytest.approx(1.0, abs=1e-6)
    x = composition_vector("FeNiW0.01")
    assert rules.solid_angle_gamma(x, radii)[0] > 1.1


# --------------------------------------------------------------------------
# One implementation for compositions and for features


@pytest.mark.needs_data
@pytest.mark.parametrize("table", ["paper", "corrected", "standard"])
def test_compositions_and_features_give_the_same_rules(table):
    dataset = data.load_dataset()
    features = data.with_table(dataset, table)
    from_x = rules.margins(dataset, table=table, rules=rules.RULES)
    from_e = rules.rule_margins(features)
    # "paper" features are the published columns, equal to featurize's to 1e-13.
    np.testing.assert_allclose(from_x.to_numpy(), from_e.to_numpy(), rtol=0, atol=1e-9)
    verdict_x = rules.verdicts(dataset, table=table)
    verdict_e = rules.rules_verdict(features)
    columns = [*rules.RULES, "vec_phase", "single_phase"]
    pd.testing.assert_frame_equal(verdict_x[columns], verdict_e[columns])
    np.testing.assert_allclose(rules.margins(dataset, table, rules=("singh2014",)).to_numpy().ravel(),
                               rules.margins_of_features(features, rules=("singh2014",)).ravel(), atol=1e-9)


def test_wang2015_needs_compositions():
    e = np.array([[170.0, 9.0, 1800.0, 9.0, 3.0, 0.1, 13.0, -5.0]])
    with pytest.raises(ValueError, match="wang2015 needs the radii.*compositions"):
        rules.margins_of_features(e, rules=("yang2012", "wang2015"))


@pytest.mark.needs_data
def test_margin_signs_match_the_verdicts_for_every_rule():
    x = random_compositions(1500, seed=2)
    margins, verdict = rules.margins(x), rules.verdicts(x)
    for rule in rules.ALL_RULES:
        clear = margins[rule].abs() > 1e-6
        assert ((margins[rule] > 0) == verdict[rule])[clear].all(), rule
        assert verdict[rule].any() and not verdict[rule].all(), rule  # random alloys fall on both sides
    assert margins.abs().max().max() <= rules.MARGIN_LIMIT
    assert (verdict["votes"] == verdict[list(rules.ALL_RULES)].sum(axis=1)).all()


@pytest.mark.needs_data
def test_classifier_scores_are_the_literature_prior_and_the_verdict():
    x = random_compositions(200, seed=3)
    scores = rules.classifier_scores(x)
    np.testing.assert_array_equal(scores["score"], ExpertPrior(table="standard").log_odds(x))
    np.testing.assert_array_equal(scores["prediction"], rules.verdicts(x)["single_phase"].astype(int))
    every = rules.classifier_scores(x, rules=rules.ALL_RULES)
    np.testing.assert_allclose(every["score"], rules.margins(x).mean(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(every["majority"], (rules.verdicts(x)["votes"] >= 3).astype(int))


@pytest.mark.needs_data
def test_an_element_table_object_is_accepted_and_frames_keep_their_index():
    frame = pd.DataFrame(composition_matrix(["CoCrFeMnNi", "AlNi"]), columns=list(ELEMENTS), index=["a", "b"])
    by_name = rules.quantities(frame, table="standard")
    by_object = rules.quantities(frame, table=get_table("standard"))
    pd.testing.assert_frame_equal(by_name, by_object)
    assert list(by_name.index) == ["a", "b"] and list(by_name.columns) == list(rules.QUANTITIES)
    assert list(rules.margins(frame).index) == ["a", "b"]
    assert list(rules.verdicts(frame).index) == ["a", "b"]


@pytest.mark.needs_data
def test_rules_read_the_table_they_are_given():
    x = composition_vector("CoCrFeMnNi")
    assert rules.quantities(x, "standard")["delta"].iloc[0] == pytest.approx(3.27, abs=0.005)
    assert rules.quantities(x, "corrected")["delta"].iloc[0] == pytest.approx(100 * math.sqrt(6) / 138)  # 1.775 %
    assert rules.quantities(x, "paper")["delta_h_mix"].iloc[0] == pytest.approx(-6.544)


@pytest.mark.needs_data
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rules.quantities(np.zeros((2, 29))), r"shape \(n, 30\)"),
        (lambda: rules.quantities(pd.DataFrame({"Fe": [1.0]})), "lack the element columns"),
        (lambda: rules.quantities(np.full((1, 30), 0.1)), "sum to 1"),
        (lambda: rules.quantities(composition_vector("FeNi"), table="nope"), "unknown element table 'nope'"),
        (lambda: rules.margins(composition_vector("FeNi"), rules=("yang2012", "nope")), "rules must be distinct"),
        (lambda: rules.margins(composition_vector("FeNi"), rules=()), "rules must be distinct"),
        (lambda: rules.verdicts(composition_vector("FeNi"), rules=("guo2011", "guo2011")), "rules must be distinct"),
        (lambda: rules.baseline_table(composition_matrix(["FeNi", "CoCr"]), [1]), "2 alloys but 1 labels"),
    ],
)
def test_inputs_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.needs_data
def test_baseline_table():
    dataset = data.load_dataset().iloc[::10]
    labels = dataset["label"].to_numpy()
    half = np.arange(len(dataset)) % 2 == 0
    table = rules.baseline_table(dataset, labels, parts={"even": half, "all": np.ones(len(dataset), bool)},
                                 tables=("corrected", "standard"))
    classifiers = [*rules.ALL_RULES, rules.VOTE_OF_RULES, rules.VOTE_OF_ALL, rules.DELTA_ALONE]
    assert list(table.index) == [(t, c) for t in ("corrected", "standard") for c in classifiers]
    assert list(table.columns) == ["even auc", "even accuracy", "all auc", "all accuracy"]
    assert table.stack().between(0, 1).all()
    delta = featurize(dataset[list(ELEMENTS)].to_numpy(), "standard")[:, FEATURES.index("delta")]
    assert table.loc[("standard", rules.DELTA_ALONE), "all auc"] == pytest.approx(roc_auc(labels, -delta))
    assert table.loc[("standard", rules.VOTE_OF_RULES), "even auc"] == pytest.approx(
        roc_auc(labels[half], rules.classifier_scores(dataset[half])["score"]))
