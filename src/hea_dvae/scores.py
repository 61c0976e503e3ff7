"""Scores of predictions against labels and of compositions against compositions.

Plain numpy, no model: the lowest layer, used while training (validation
AUC) and by every evaluation above it.
"""

from __future__ import annotations

import numpy as np

#: An element counts as present in a decoded alloy from this share (1 at.%).
PRESENCE_THRESHOLD = 0.01


def accuracy(labels, probabilities, threshold: float = 0.5) -> float:
    """Share of alloys whose label equals ``probability > threshold``."""
    labels = np.asarray(labels).reshape(-1)
    predicted = np.asarray(probabilities).reshape(-1) > threshold
    return float((predicted == (labels == 1)).mean())


def roc_auc(labels, probabilities) -> float:
    """Area under the ROC curve; NaN when only one class is present.

    Computed by the rank (Mann-Whitney U) formula with average ranks for
    ties, which equals the trapezoidal area and is cheap enough to call after
    every training epoch.
    """
    positive = np.asarray(labels).reshape(-1) == 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # scipy.stats takes a second to import: only when ranking

    ranks = rankdata(np.asarray(probabilities).reshape(-1))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def brier(labels, probabilities) -> float:
    """Brier score: mean squared difference between probability and label."""
    labels = np.asarray(labels, dtype=float).reshape(-1)
    return float(np.mean((np.asarray(probabilities, dtype=float).reshape(-1) - labels) ** 2))


def reconstruction_errors(true, reconstructed, threshold: float = PRESENCE_THRESHOLD) -> dict:
    """Composition reconstruction errors between two (n, 30) fraction arrays.

    Returns
    -------
    dict
        ``mae_all``: mean absolute error in at.% over all elements and alloys;
        ``mae_present``: per alloy, the MAE over the elements present in the
        true alloy, averaged over alloys (the paper's per-alloy figure);
        ``element_set_recovered``: share of alloys whose set of elements at
        or above ``threshold`` is the same in both.
    """
    true = np.asarray(true, dtype=float)
    reconstructed = np.asarray(reconstructed, dtype=float)
    if true.shape != reconstructed.shape or true.ndim != 2:
        raise ValueError(f"shapes differ or are not 2-D: {true.shape} vs {reconstructed.shape}")
    error = 100 * np.abs(reconstructed - true)
    present = true > 0
    per_alloy_present = (error * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    same_set = ((true >= threshold) == (reconstructed >= threshold)).all(axis=1)
    return {
        "mae_all": float(error.mean()),
        "mae_present": float(per_alloy_present.mean()),
        "element_set_recovered": float(same_set.mean()),
    }
