"""The expert prior: rules worked by hand, monotone margins, bounds, fitting, specifications."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from hea_dvae import data, priors
from hea_dvae.features import ELEMENTS, FEATURES, composition_vector, featurize, get_table
from hea_dvae.priors import ConstantPrior, ExpertPrior, RuleScales, resolve_prior

R = 8.314  # J/(mol K), the gas constant of the features
IDX = {symbol: i for i, symbol in enumerate(ELEMENTS)}

#: Elements whose VEC differs between the paper and the corrected tables.
VEC_CHANGED = ("Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Sn")

#: A plausible alloy's features, FEATURES order: every rule but Zhang's
#: enthalpy window passes, and Omega is the binding condition of Yang's rule.
BASE = dict(k=170.0, vm=9.0, tm=1800.0, vac=9.0, delta=3.0, delta_chi=0.1, delta_s_mix=13.0, delta_h_mix=-20.0)


def features_with(**changes) -> np.ndarray:
    return np.array([[{**BASE, **changes}[name] for name in FEATURES]])


def varied(name: str, values) -> np.ndarray:
    return np.concatenate([features_with(**{name: v}) for v in values])


def random_features(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = np.array([50, 2, 400, 1.5, 2.5, 0.05, 3, 12])
    centre = np.array([170, 9, 1900, 7.5, 4.5, 0.1, 11, -12])
    e = centre + scale * rng.normal(size=(n, len(FEATURES)))
    e[:, FEATURES.index("delta")] = np.abs(e[:, FEATURES.index("delta")])
    e[:, FEATURES.index("delta_s_mix")] = np.abs(e[:, FEATURES.index("delta_s_mix")])
    return e


def fitted_prior(seed: int = 0) -> ExpertPrior:
    # Labels follow Yang's rule and VEC, with noise: a fit should find positive weights.
    e = random_features(400, seed)
    verdict = priors.rules_verdict(e)
    rng = np.random.default_rng(seed)
    labels = ((verdict["yang2012"] & verdict["guo2011"]) ^ (rng.random(len(e)) < 0.1)).astype(int)
    return ExpertPrior.fit(e, labels)


PRIORS = {"literature": ExpertPrior(), "fitted": fitted_prior()}


# --------------------------------------------------------------------------
# Hand-worked alloys


@pytest.mark.needs_data
def test_cantor_alloy_by_hand():
    table = get_table("paper")
    props = table.frame()
    symbols = ["Co", "Cr", "Fe", "Mn", "Ni"]
    tm = props.loc[symbols, "tm"].mean()
    r = props.loc[symbols, "ar"].to_numpy()
    delta = 100 * math.sqrt(np.mean((1 - r / r.mean()) ** 2))
    vec = props.loc[symbols, "vac"].mean()  # (9 + 6 + 8 + 7 + 10) / 5
    s_mix = R * math.log(5)
    pairs = [(a, b) for i, a in enumerate(symbols) for b in symbols[i + 1:]]
    h_mix = sum(4 * 0.2 * 0.2 * table.enthalpy[IDX[a], IDX[b]] for a, b in pairs)
    omega = tm * s_mix / abs(1000 * h_mix)
    assert vec == pytest.approx(8.0)
    assert omega > 1.1 and delta < 6.6 and -15 <= h_mix <= 5 and 12 <= s_mix <= 17.5

    e = featurize(composition_vector("CoCrFeMnNi"))
    verdict = priors.rules_verdict(e).iloc[0]
    assert verdict["omega"] == pytest.approx(omega, rel=1e-6)
    assert verdict["delta"] == pytest.approx(delta, rel=1e-9)
    assert verdict["vec"] == pytest.approx(vec)
    assert verdict["delta_h_mix"] == pytest.approx(h_mix)
    assert verdict[["yang2012", "zhang2008", "guo2011", "single_phase"]].all()
    assert verdict["vec_phase"] == "FCC"
    # VEC sits on the FCC boundary (margin 0); the other two rules pass clearly.
    margins = priors.rule_margins(e).iloc[0]
    assert margins["guo2011"] == pytest.approx(0.0, abs=1e-12)
    assert margins["yang2012"] > 0 and margins["zhang2008"] > 0
    assert ExpertPrior().probability(e)[0] > 0.5


@pytest.mark.needs_data
@pytest.mark.parametrize("formula", ["AlNi", "Al3Zr"])
def test_intermetallic_binary_by_hand(formula):
    table = get_table("paper")
    x = composition_vector(formula)
    (i, a), (j, b) = [(k, v) for k, v in enumerate(x) if v > 0]
    h_mix = 4 * a * b * table.enthalpy[i, j]
    assert h_mix < -15  # Al-Ni and Al-Zr mix strongly exothermically
    s_mix = -R * (a * math.log(a) + b * math.log(b))
    tm = a * table.properties["tm"][i] + b * table.properties["tm"][j]
    assert tm * s_mix / abs(1000 * h_mix) < 1.1

    e = featurize(x)
    verdict = priors.rules_verdict(e).iloc[0]
    assert verdict["omega"] == pytest.approx(tm * s_mix / abs(1000 * h_mix), rel=1e-5)
    assert not verdict["yang2012"] and not verdict["zhang2008"]
    assert not verdict["single_phase"]
    assert ExpertPrior().probability(e)[0] < 0.5


# --------------------------------------------------------------------------
# Margins and the prior's shape


def test_margin_signs_match_the_verdicts():
    e = random_features(2000, seed=1)
    margins, verdict = priors.rule_margins(e), priors.rules_verdict(e)
    for rule in priors.RULES:
        clear = margins[rule].abs() > 1e-9
        assert ((margins[rule] > 0) == verdict[rule])[clear].all(), rule
    # The overall verdict is (Yang or Zhang) and Guo.
    expected = (verdict["yang2012"] | verdict["zhang2008"]) & verdict["guo2011"]
    assert (verdict["single_phase"] == expected).all()
    assert margins.abs().max().max() <= priors.MARGIN_LIMIT


def test_margins_by_hand():
    e = features_with(delta=8.6, vac=7.5, delta_h_mix=-10.0, tm=1800.0, delta_s_mix=13.0)
    scales = RuleScales()
    margins = priors.rule_margins(e, scales).iloc[0]
    omega = 1800 * 13.0 / 10000
    assert margins["yang2012"] == pytest.approx(min(math.log(omega / 1.1) / 0.5, (6.6 - 8.6) / 1.0))
    assert margins["zhang2008"] == pytest.approx((6.6 - 8.6) / 1.0)  # delta binds
    assert margins["guo2011"] == pytest.approx(-min(8 - 7.5, 7.5 - 6.87) / 0.5)


@pytest.mark.parametrize("kind", PRIORS)
def test_prior_is_monotone_in_each_rule(kind):
    prior = PRIORS[kind]
    # Omega grows with the melting point: p never falls, and rises where Omega binds.
    p = prior.probability(varied("tm", np.linspace(800, 3500, 40)))
    assert (np.diff(p) >= -1e-12).all() and p[-1] > p[0]
    # Size mismatch beyond 6.6 % lowers p.
    p = prior.probability(varied("delta", [2.0, 6.0, 7.0, 9.0]))
    assert (np.diff(p) <= 1e-12).all() and p[2] < p[1]
    # Moving VEC from FCC into the duplex band lowers p, and out into BCC raises it again.
    p = prior.probability(varied("vac", [9.0, 8.2, 7.5, 6.5]))
    assert p[2] < p[1] < p[0] and p[3] > p[2]
    # A more negative mixing enthalpy lowers Omega, hence p.
    p = prior.probability(varied("delta_h_mix", [-5.0, -20.0, -40.0]))
    assert (np.diff(p) <= 1e-12).all() and p[2] < p[0]


def test_literature_prior_reads_zhangs_entropy_window():
    p = ExpertPrior().probability(varied("delta_s_mix", [13.0, 10.0]))
    assert p[1] < p[0]


def test_literature_prior_formula():
    e = random_features(50, seed=2)
    expected = np.clip(expit(priors.rule_margins(e).mean(axis=1).to_numpy()), 0.05, 0.95)
    np.testing.assert_allclose(ExpertPrior().probability(e), expected, rtol=1e-12)


@pytest.mark.parametrize("cap", [0.05, 0.2])
def test_prior_is_bounded_away_from_0_and_1(cap):
    prior = ExpertPrior(cap=cap)
    extreme = np.concatenate([
        features_with(delta=15.0, delta_h_mix=-60.0, vac=7.4, delta_s_mix=3.0),  # every rule fails
        features_with(delta=0.5, delta_h_mix=-1.0, vac=10.5, delta_s_mix=14.0, tm=2500.0),  # every rule passes
        features_with(delta_h_mix=0.0),  # Omega is infinite
        features_with(delta_s_mix=0.0),  # Omega is zero
    ])
    p = prior.probability(extreme)
    assert p[0] == pytest.approx(cap) and p[1] == pytest.approx(1 - cap)
    p = prior.probability(np.concatenate([extreme, random_features(500, seed=3)]))
    assert np.isfinite(p).all() and p.min() >= cap and p.max() <= 1 - cap


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="shape"):
        priors.rule_margins(np.zeros((3, 7)))
    with pytest.raises(ValueError, match="lack the columns"):
        priors.rules_verdict(pd.DataFrame({"tm": [1800.0]}))
    with pytest.raises(ValueError, match="not finite"):
        priors.rule_margins(features_with(tm=np.nan))
    with pytest.raises(ValueError, match="cap"):
        ExpertPrior(cap=0.5)
    with pytest.raises(ValueError, match="non-negative"):
        ExpertPrior(weights=(1.0, -0.1, 1.0))
    with pytest.raises(ValueError, match="positive"):
        RuleScales(delta=0.0)


def test_frames_keep_their_index():
    frame = pd.DataFrame(random_features(4, seed=4), columns=list(FEATURES), index=list("abcd"))
    assert list(priors.rule_margins(frame).index) == list("abcd")
    assert list(priors.rules_verdict(frame).index) == list("abcd")
    assert list(priors.rules_classifier_scores(frame).index) == list("abcd")


# --------------------------------------------------------------------------
# Fitting


def test_fit_learns_from_the_labels_it_is_given_only():
    e = random_features(400, seed=0)
    verdict = priors.rules_verdict(e)
    labels = (verdict["yang2012"] & verdict["guo2011"]).astype(int).to_numpy()
    prior = ExpertPrior.fit(e, labels)
    assert prior.fitted and prior.n_fitted == 400
    assert ExpertPrior.fit(e, labels) == prior  # deterministic
    # Labels that follow the rules give a prior that ranks by them ...
    assert min(prior.weights[0], prior.weights[2]) > 0
    assert np.mean((prior.probability(e) > 0.5) == labels) > 0.8
    # ... shuffled labels give another fit, with little left to learn.
    shuffled = np.random.default_rng(0).permutation(labels)
    other = ExpertPrior.fit(e, shuffled)
    assert other != prior
    assert sum(other.weights) < 0.5 * sum(prior.weights)
    assert np.mean((other.probability(e) > 0.5) == labels) < 0.7
    # A fit on a subset ignores the rest of the alloys.
    subset = ExpertPrior.fit(e[:200], labels[:200])
    assert subset == ExpertPrior.fit(pd.DataFrame(e[:200], columns=list(FEATURES)), labels[:200])
    assert subset != prior


def test_fit_keeps_weights_non_negative():
    # Labels that contradict Zhang's rule: its weight must stay at zero, not turn negative.
    e = random_features(400, seed=5)
    labels = (~priors.rules_verdict(e)["zhang2008"]).astype(int)
    prior = ExpertPrior.fit(e, labels)
    assert min(prior.weights) >= 0
    assert prior.weights[1] == pytest.approx(0.0, abs=1e-8)


def test_fit_rejects_bad_labels():
    e = random_features(10, seed=6)
    with pytest.raises(ValueError, match="both classes"):
        ExpertPrior.fit(e, np.ones(10))
    with pytest.raises(ValueError, match="10 alloys but 9 labels"):
        ExpertPrior.fit(e, np.r_[np.ones(5), np.zeros(4)])
    with pytest.raises(ValueError, match="0 or 1"):
        ExpertPrior.fit(e, np.r_[np.ones(5), np.full(5, 2.0)])


# --------------------------------------------------------------------------
# Specifications


def test_resolve_prior_specifications():
    e = random_features(30, seed=7)
    assert resolve_prior("flat") == ConstantPrior(0.5)
    np.testing.assert_array_equal(resolve_prior("flat").probability(e), np.full(30, 0.5))
    np.testing.assert_array_equal(resolve_prior(0.3)(e), np.full(30, 0.3))
    assert resolve_prior("0.25") == ConstantPrior(0.25)
    assert resolve_prior("expert") == ExpertPrior()
    assert resolve_prior("expert-literature", e, np.arange(30) % 2) == ExpertPrior()
    labels = (priors.rules_verdict(e)["yang2012"]).astype(int)
    fitted = resolve_prior(" Expert ", e, labels)
    assert fitted == ExpertPrior.fit(e, labels) and fitted.n_fitted == 30
    assert resolve_prior(fitted) is fitted


@pytest.mark.parametrize(
    "spec, message",
    [
        ("uniform", "unknown prior 'uniform'"),
        (0.0, "got 0.0"),
        (1, "got 1"),
        (1.5, "got 1.5"),
        ("-0.2", "got '-0.2'"),
        (float("nan"), "got nan"),
        (True, "unknown prior True"),
        (None, "unknown prior None"),
        ([0.5], r"unknown prior \[0.5\]"),
    ],
)
def test_resolve_prior_errors_name_the_value(spec, message):
    with pytest.raises(ValueError, match=message):
        resolve_prior(spec)


def test_resolve_prior_needs_features_and_labels_together():
    with pytest.raises(ValueError, match="both"):
        resolve_prior("expert", labelled_features=random_features(5, seed=8))


# --------------------------------------------------------------------------
# The rules as a classifier, on the real data


def test_rules_classifier_scores():
    e = random_features(100, seed=9)
    scores = priors.rules_classifier_scores(e)
    np.testing.assert_allclose(scores["score"], priors.rule_margins(e).mean(axis=1))
    np.testing.assert_array_equal(scores["prediction"], priors.rules_verdict(e)["single_phase"].astype(int))


@pytest.mark.needs_data
def test_vec_verdict_changes_only_where_the_vec_table_changes():
    dataset = data.load_dataset()
    paper = priors.rules_verdict(dataset)
    corrected = priors.rules_verdict(data.with_table(dataset, "corrected"))
    changed = paper["guo2011"] != corrected["guo2011"]
    affected = (dataset[list(VEC_CHANGED)] > 0).any(axis=1)
    assert changed.any()
    assert not (changed & ~affected).any()
    # The paper table inflates VEC: its changed verdicts can only move from
    # "FCC" towards the duplex band or BCC, never the other way.
    assert (paper.loc[changed, "vec"] > corrected.loc[changed, "vec"]).all()


# --------------------------------------------------------------------------
# A prior that reads compositions, the rules on the standard table


def random_compositions(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, len(ELEMENTS)))
    for row in x:
        chosen = rng.choice(len(ELEMENTS), size=rng.integers(2, 7), replace=False)
        row[chosen] = rng.dirichlet(np.ones(len(chosen)))
    return x


@pytest.mark.needs_data
def test_composition_prior_is_the_feature_prior_on_standard_features():
    labelled = data.paper_split()["labelled"]
    x, labels = labelled[list(ELEMENTS)].to_numpy(), labelled["label"].to_numpy()
    from_x = ExpertPrior.fit_compositions(x, labels)
    from_e = ExpertPrior.fit(featurize(x, "standard"), labels)
    assert from_x.table == "standard" and from_x.reads == "compositions" and from_e.reads == "features"
    assert from_x.n_fitted == len(labels) == 864
    np.testing.assert_allclose(from_x.weights, from_e.weights, rtol=1e-9, atol=1e-12)
    assert from_x.intercept == pytest.approx(from_e.intercept, rel=1e-9)
    dataset = data.load_dataset()
    np.testing.assert_allclose(from_x.probability(dataset),
                               from_e.probability(featurize(dataset[list(ELEMENTS)].to_numpy(), "standard")),
                               rtol=1e-9)
    # The table matters: the same alloys' corrected features give another fit.
    assert ExpertPrior.fit_compositions(x, labels, table="corrected") != from_x


@pytest.mark.needs_data
def test_literature_composition_prior_formula():
    x = random_compositions(50, seed=10)
    expected = np.clip(expit(priors.margins(x, "standard", rules=priors.RULES).mean(axis=1).to_numpy()), 0.05, 0.95)
    np.testing.assert_allclose(ExpertPrior(table="standard").probability(x), expected, rtol=1e-12)
    five = ExpertPrior(table="standard", rules=priors.ALL_RULES)
    assert five.weights == (0.2,) * 5
    np.testing.assert_allclose(five.log_odds(x), priors.margins(x).mean(axis=1), rtol=1e-12)


@pytest.mark.needs_data
def test_composition_prior_refuses_features_and_feature_prior_refuses_wang():
    with pytest.raises(ValueError, match=r"reads compositions \(n, 30\).*'standard'.*shape \(3, 8\)"):
        ExpertPrior(table="standard").probability(np.zeros((3, 8)))
    with pytest.raises(ValueError, match="wang2015 needs compositions"):
        ExpertPrior(rules=priors.ALL_RULES)
    with pytest.raises(ValueError, match="unknown element table 'nope'"):
        ExpertPrior(table="nope")
    with pytest.raises(ValueError, match=r"weights must be 5 non-negative"):
        ExpertPrior(table="standard", rules=priors.ALL_RULES, weights=(1, 1, 1))


@pytest.mark.needs_data
def test_resolve_prior_with_compositions():
    x = random_compositions(60, seed=11)
    labels = (priors.margins(x, rules=("yang2012",))["yang2012"] > 0).astype(int).to_numpy()
    fitted = resolve_prior("expert", labelled_compositions=x, labelled_labels=labels)
    assert fitted == ExpertPrior.fit_compositions(x, labels) and fitted.table == "standard"
    assert resolve_prior("expert", labelled_compositions=x, labelled_labels=labels, table="corrected").table == "corrected"
    assert resolve_prior("expert", table="standard") == ExpertPrior(table="standard")
    assert resolve_prior("expert-literature", labelled_compositions=x, labelled_labels=labels) == ExpertPrior(
        table="standard")
    flat = resolve_prior("flat", labelled_compositions=x, labelled_labels=labels)
    np.testing.assert_array_equal(flat.probability(x), np.full(60, 0.5))  # a constant prior reads compositions too
    assert fitted.to_dict()["table"] == "standard" and fitted.to_dict()["rules"] == list(priors.RULES)
    with pytest.raises(ValueError, match="not both"):
        resolve_prior("expert", labelled_features=np.zeros((60, 8)), labelled_compositions=x, labelled_labels=labels)
    with pytest.raises(ValueError, match="a table applies to a prior that reads compositions"):
        resolve_prior("expert", random_features(5, seed=12), np.arange(5) % 2, table="standard")
    with pytest.raises(ValueError, match="both"):
        resolve_prior("expert", labelled_compositions=x)
    with pytest.raises(ValueError, match=r"features \(n, 8\) or compositions \(n, 30\)"):
        ConstantPrior().probability(np.zeros((4, 7)))
