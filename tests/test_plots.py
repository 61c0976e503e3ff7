"""Figures: each plotting function draws the data it is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from hea_dvae.reporting import plots
from hea_dvae.features import ELEMENTS, FEATURES


@pytest.fixture()
def frame():
    rng = np.random.default_rng(0)
    x = np.zeros((40, len(ELEMENTS)))
    for i, row in enumerate(x):
        chosen = rng.choice(6, size=2 + i % 4, replace=False)
        row[chosen] = rng.dirichlet(np.ones(len(chosen)))
    e = rng.normal(size=(40, len(FEATURES)))
    data = pd.DataFrame(x, columns=list(ELEMENTS)).assign(**dict(zip(FEATURES, e.T)))
    data["label"] = np.arange(40) % 2
    data.insert(0, "formula", [f"a{i}" for i in range(40)])
    yield data
    plt.close("all")


def test_class_balance_bars_are_the_counts(frame):
    fig = plots.class_balance(frame.iloc[:30])
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [15, 15]


def test_elements_per_alloy_stacks_to_the_group_sizes(frame):
    fig = plots.elements_per_alloy(frame)
    ax = fig.axes[0]
    totals = {}
    for patch in ax.patches:
        key = round(patch.get_x() + patch.get_width() / 2)
        totals[key] = totals.get(key, 0) + patch.get_height()
    expected = (frame[list(ELEMENTS)] > 0).sum(axis=1).value_counts().to_dict()
    assert totals == expected


def test_feature_panels_one_per_feature(frame):
    fig = plots.feature_distributions(frame)
    assert sum(ax.get_visible() for ax in fig.axes) == len(FEATURES)


def test_roc_curves_label_their_auc(frame):
    labels = frame["label"].to_numpy()
    fig = plots.roc_curves({"perfect": (labels, labels.astype(float)), "reversed": (labels, 1.0 - labels)})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["perfect (AUC 1.000)", "reversed (AUC 0.000)"]


def test_training_curves_mark_the_selected_epoch():
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.0], "val_loss": [3.0, 2.5, 2.7],
                            "val_auc": [0.5, 0.8, 0.7]})
    history.attrs["best_epoch"] = 2
    fig = plots.training_curves(history)
    marks = [line for line in fig.axes[1].get_lines() if list(line.get_xdata()) == [2, 2]]
    assert len(marks) == 1


def test_composition_bars_show_percent(frame):
    true = frame[list(ELEMENTS)].to_numpy()[:2]
    fig = plots.composition_bars(true, true, ["a0", "a1"], top=3)
    first = fig.axes[0]
    heights = [p.get_height() for p in first.patches]
    assert max(heights) == pytest.approx(100 * true[0].max())


def test_parity_labels_the_first_panel_of_the_bottom_row(frame):
    computed = frame[list(FEATURES[:6])].to_numpy()
    fig = plots.parity(frame, computed, features=FEATURES[:6])
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 6
    assert [ax.get_xlabel() for ax in visible] == ["", "", "", "", "published", ""]
