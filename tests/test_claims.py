"""Claims: a sentence that compares is decided from recorded numbers and fails the check when it flips."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from hea_dvae import reporting
from hea_dvae.reporting.claims import RULES, outcome_of


@pytest.fixture
def chapter(tmp_path, monkeypatch):
    monkeypatch.setenv("HEA_DVAE_RECORD_DIR", str(tmp_path))
    reporting.chapter("99_claims")
    return tmp_path / "99_claims.json"


def _write_reference():
    """scripts/write_reference.py, which turns records into tests/reference entries."""
    path = Path(__file__).resolve().parents[1] / "scripts" / "write_reference.py"
    spec = importlib.util.spec_from_file_location("write_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SENTENCES = {"above zero": "The prior helps ({difference:+.3f} [{low:+.3f}, {high:+.3f}]).",
             "below zero": "The prior hurts ({difference:+.3f}).",
             "not resolved": "The difference ({difference:+.3f}) is not resolved."}


def test_a_claim_renders_the_sentence_its_numbers_support(chapter):
    for key, value in (("gain", 0.107), ("gain_low", 0.05), ("gain_high", 0.16)):
        reporting.record(key, value, kind="trained", tolerance=0.05, basis="test", glue=False)
    sentence = reporting.claim("prior_helps", "interval", {"difference": "gain", "low": "gain_low", "high": "gain_high"},
                               SENTENCES)
    assert sentence == "The prior helps (+0.107 [+0.050, +0.160])."
    written = json.loads(chapter.read_text())["claim_prior_helps"]
    assert written["kind"] == "claim" and written["value"] == "above zero"
    assert written["evidence"] == {"difference": "gain", "low": "gain_low", "high": "gain_high"}


def test_a_flipped_claim_fails_the_check_and_names_the_sentence(chapter):
    for key, value in (("gain", 0.107), ("gain_low", 0.05), ("gain_high", 0.16)):
        reporting.record(key, value, kind="trained", tolerance=0.2, basis="a wide tolerance", glue=False)
    reporting.claim("prior_helps", "interval", {"difference": "gain", "low": "gain_low", "high": "gain_high"},
                    SENTENCES)
    records = json.loads(chapter.read_text())
    reference = _write_reference().reference_from(records)
    assert reporting.compare(records, reference) == []
    # A re-execution whose interval now straddles zero: every number is within its
    # (wide) tolerance, but the conclusion no longer holds, and the check says so.
    perturbed = {**records, "gain_low": {"value": -0.01, "kind": "trained"}}
    problems = reporting.compare(perturbed, reference)
    assert len(problems) == 1
    assert "claim_prior_helps" in problems[0] and "'above zero' became 'not resolved'" in problems[0]
    assert "The prior helps" in problems[0]


def test_a_signed_number_never_passes_with_the_opposite_sign():
    reference = {"gain": {"value": 0.107, "kind": "trained", "tolerance": 0.228, "basis": "5 seeds", "signed": True}}
    assert reporting.compare({"gain": 0.05}, reference) == []
    problems = reporting.compare({"gain": -0.01}, reference)
    assert problems and "opposite sign" in problems[0]


@pytest.mark.parametrize("rule, numbers, outcome", [
    ("interval", {"low": 0.01, "high": 0.2}, "above zero"),
    ("interval", {"low": -0.2, "high": -0.01}, "below zero"),
    ("interval", {"low": -0.01, "high": 0.2}, "not resolved"),
    ("greater", {"a": 0.9, "b": 0.85, "margin": 0.01}, "greater"),
    ("greater", {"a": 0.85, "b": 0.855, "margin": 0.01}, "equal within the margin"),
    ("within", {"value": 0.91, "low": 0.85, "high": 0.95}, "inside"),
    ("sign", {"value": -0.3}, "negative"),
    ("at least", {"value": 0.29, "threshold": 0.30}, "missed"),
    ("first", {"forest": 0.92, "ssvae": 0.88, "boosting": 0.92}, "forest"),
])
def test_rules(rule, numbers, outcome):
    assert outcome_of(rule, numbers) == outcome
    assert RULES[rule][1] is None or outcome in RULES[rule][1]


def test_a_claim_needs_its_numbers_recorded_and_a_sentence_per_outcome(chapter):
    with pytest.raises(KeyError, match="not recorded"):
        reporting.claim("x", "sign", {"value": "missing"}, {"positive": "", "negative": "", "zero": ""})
    reporting.record("d", 0.1, glue=False)
    with pytest.raises(ValueError, match="no sentence"):
        reporting.claim("x", "sign", {"value": "d"}, {"positive": "up"})
    with pytest.raises(ValueError, match="unknown rule"):
        reporting.claim("x", "better", {"value": "d"}, {})
    # Constants of a claim (a published value, a target) are recorded beside it.
    reporting.claim("target", "at least", {"value": "d", "threshold": 0.3}, {"met": "met", "missed": "missed"})
    assert reporting.records()["claim_target__threshold"]["value"] == 0.3


def test_an_interval_claim_records_its_three_numbers_and_says_which_way(chapter):
    sentences = reporting.difference_sentences("The AUC", "the SSVAE", "the forest")
    said = reporting.interval_claim("ssvae_vs_forest", (-0.045, -0.07, -0.02), sentences, tolerance=0.03,
                                    basis="test")
    assert said == "The AUC is lower with the SSVAE than with the forest (-0.045, 95 % interval [-0.070, -0.020])."
    found = reporting.records()
    assert found["claim_ssvae_vs_forest"]["value"] == "below zero"
    assert found["ssvae_vs_forest_low"]["value"] == -0.07
    said = reporting.interval_claim("tables", (0.01, -0.02, 0.04), sentences, tolerance=0.03, basis="test")
    assert "not resolved" in said


def test_interval_of_two_seed_means_and_of_one_more_run():
    from scipy.stats import t

    from hea_dvae.metrics import difference_of_means, mean_interval, single_run_interval

    # Equal spreads and runs: Welch's degrees of freedom are 2(n - 1).
    d = difference_of_means(0.85, 0.02, 5, 0.89, 0.02, 5)
    half = t.ppf(0.975, 8) * (2 * 0.02**2 / 5) ** 0.5
    assert d.estimate == pytest.approx(-0.04) and d.low == pytest.approx(-0.04 - half)
    assert d.high == pytest.approx(-0.04 + half)
    one = single_run_interval(0.85, 0.02, 5)
    mean = mean_interval(0.85, 0.02, 5)
    assert one.high - one.low == pytest.approx((mean.high - mean.low) * 6**0.5)  # sqrt(1 + 1/n) / sqrt(1/n)
    assert np.isnan(mean_interval(0.85, 0.02, 1).low)
