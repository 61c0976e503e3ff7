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
