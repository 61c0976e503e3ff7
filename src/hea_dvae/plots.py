"""Figures for the book: each function returns a matplotlib Figure.

All figures share one style (``hea_dvae.mplstyle``, applied by :func:`use_style`)
and one pair of class colours, so that "single phase" looks the same in every
chapter.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .features import ELEMENTS, FEATURE_UNITS, FEATURES, element_counts

STYLE = Path(__file__).with_name("hea_dvae.mplstyle")

#: Colours of the two classes, used everywhere.
CLASS_COLORS = {1: "#1f77b4", 0: "#d62728"}
CLASS_NAMES = {1: "single phase", 0: "multi phase"}

#: Axis labels of the engineered features.
FEATURE_LABELS = {
    "k": "bulk modulus $K$",
    "vm": "molar volume $V_m$",
    "tm": "melting point $T_m$",
    "vac": "VEC",
    "delta": r"size mismatch $\delta$",
    "delta_chi": r"$\Delta\chi$",
    "delta_s_mix": r"$\Delta S_\mathrm{mix}$",
    "delta_h_mix": r"$\Delta H_\mathrm{mix}$",
}


def use_style() -> None:
    """Apply the book's matplotlib style (and, in a notebook, inline figures).

    Inside a Jupyter kernel the inline backend is switched on even when
    ``$MPLBACKEND`` names another one, so that figures (and the ones glued
    into the book) are always stored in the notebook as PNG.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the book extras
        get_ipython = lambda: None  # noqa: E731
    shell = get_ipython()
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        shell.run_line_magic("matplotlib", "inline")
    plt.style.use(STYLE)


def feature_label(name: str) -> str:
    """Axis label with unit, e.g. ``melting point $T_m$ (K)``."""
    unit = FEATURE_UNITS.get(name, "")
    return f"{FEATURE_LABELS.get(name, name)} ({unit})" if unit else FEATURE_LABELS.get(name, name)


def class_balance(data: pd.DataFrame):
    """Bar chart of the number of single- and multi-phase alloys."""
    counts = data["label"].value_counts().reindex([1, 0], fill_value=0)
    fig, ax = plt.subplots(figsize=(4, 3))
    bars = ax.bar([CLASS_NAMES[c] for c in counts.index], counts.values,
                  color=[CLASS_COLORS[c] for c in counts.index])
    ax.bar_label(bars)
    ax.set_ylabel("alloys")
    ax.grid(axis="x", visible=False)
    return fig


def elements_per_alloy(data: pd.DataFrame):
    """Alloys by number of elements, with the single-phase rate of each group."""
    n = element_counts(data)
    table = pd.DataFrame({"n": n, "label": data["label"]})
    counts = table.groupby(["n", "label"]).size().unstack(fill_value=0).reindex(columns=[1, 0], fill_value=0)
    rate = table.groupby("n")["label"].mean()
    fig, ax = plt.subplots()
    bottom = np.zeros(len(counts))
    for label in (1, 0):
        ax.bar(counts.index, counts[label], bottom=bottom, color=CLASS_COLORS[label],
               label=CLASS_NAMES[label])
        bottom += counts[label].to_numpy()
    ax.set_xlabel("number of elements in the alloy")
    ax.set_ylabel("alloys")
    ax.set_xticks(counts.index)
    rate_ax = ax.twinx()
    rate_ax.plot(rate.index, rate.values, "k-o", label="single-phase rate")
    rate_ax.set_ylim(0, 1)
    rate_ax.set_ylabel("single-phase rate")
    rate_ax.grid(False)
    handles = ax.get_legend_handles_labels()[0] + rate_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper right")
    return fig


def element_frequency(data: pd.DataFrame):
    """How many alloys contain each element, split by class."""
    present = data[list(ELEMENTS)] > 0
    by_class = {label: present[data["label"] == label].sum() for label in (1, 0)}
    order = present.sum().sort_values(ascending=False).index
    fig, ax = plt.subplots(figsize=(8, 3.5))
    bottom = np.zeros(len(order))
    for label in (1, 0):
        values = by_class[label][order].to_numpy()
        ax.bar(order, values, bottom=bottom, color=CLASS_COLORS[label], label=CLASS_NAMES[label])
        bottom += values
    ax.set_ylabel("alloys containing the element")
    ax.legend()
    ax.grid(axis="x", visible=False)
    return fig


def _panels(n: int, ncols: int, figwidth: float, panel_height: float = 2.6):
    """A grid of ``n`` panels, ``ncols`` wide; unused cells are hidden.

    Returns the figure and the ``n`` panels in reading order.
    """
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(figwidth, panel_height * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, list(axes.ravel()[:n])


def feature_distributions(data: pd.DataFrame, features=FEATURES, bins: int = 30):
    """Histograms of the engineered features, one panel each, by class."""
    features = list(features)
    fig, axes = _panels(len(features), ncols=4, figwidth=11)
    for ax, name in zip(axes, features):
        edges = np.histogram_bin_edges(data[name], bins=bins)
        for label in (1, 0):
            ax.hist(data.loc[data["label"] == label, name], bins=edges, alpha=0.55,
                    color=CLASS_COLORS[label], label=CLASS_NAMES[label])
        ax.set_xlabel(feature_label(name))
    axes[0].legend()
    axes[0].set_ylabel("alloys")
    return fig


def parity(published: pd.DataFrame, computed, features=FEATURES):
    """Computed against published feature values, one panel per feature."""
    features = list(features)
    computed = np.asarray(computed)
    ncols = 4
    fig, axes = _panels(len(features), ncols=ncols, figwidth=11)
    for j, (ax, name) in enumerate(zip(axes, features)):
        x = published[name].to_numpy()
        ax.scatter(x, computed[:, j], s=5, alpha=0.6)
        lo, hi = min(x.min(), computed[:, j].min()), max(x.max(), computed[:, j].max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_title(FEATURE_LABELS[name])
    axes[0].set_ylabel("computed")
    # The first panel of the bottom row carries the x label.
    axes[(len(features) - 1) // ncols * ncols].set_xlabel("published")
    return fig


def table_comparison(paper, corrected, labels, feature: str = "vac"):
    """One feature under the paper's and the corrected element table, by class."""
    j = FEATURES.index(feature)
    paper, corrected, labels = np.asarray(paper), np.asarray(corrected), np.asarray(labels)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for label in (1, 0):
        mask = labels == label
        ax.scatter(paper[mask, j], corrected[mask, j], s=8, alpha=0.6,
                   color=CLASS_COLORS[label], label=CLASS_NAMES[label])
    lo = min(paper[:, j].min(), corrected[:, j].min())
    hi = max(paper[:, j].max(), corrected[:, j].max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel(f"{FEATURE_LABELS[feature]}, paper table")
    ax.set_ylabel(f"{FEATURE_LABELS[feature]}, corrected table")
    ax.legend()
    return fig


def glue_figure(name: str, fig) -> None:
    """Store a figure under ``name`` for a ``{glue:figure}`` directive, then close it.

    Closing keeps the inline backend from showing the figure a second time
    where the cell ends.
    """
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)


def training_curves(history: pd.DataFrame):
    """Training loss (with its parts) and validation AUC against epoch.

    ``history`` is the table returned by :func:`hea_dvae.train.fit`; the
    epoch the model was selected at (``history.attrs["best_epoch"]``) is
    marked.
    """
    fig, (loss_ax, auc_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name in ("loss", "reconstruction", "kl_z", "classification"):
        if name in history:
            loss_ax.plot(history["epoch"], history[name], label=name.replace("_", " "))
    if "val_loss" in history:
        loss_ax.plot(history["epoch"], history["val_loss"], "k--", label="validation loss")
    loss_ax.set_yscale("symlog")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss per alloy")
    loss_ax.legend(fontsize=8)
    auc_ax.plot(history["epoch"], history["val_auc"], color="C2")
    auc_ax.set_xlabel("epoch")
    auc_ax.set_ylabel("validation ROC AUC")
    best = history.attrs.get("best_epoch")
    if best is not None:
        for ax in (loss_ax, auc_ax):
            ax.axvline(best, color="grey", lw=0.8, ls=":")
        auc_ax.annotate("selected", (best, auc_ax.get_ylim()[0]), xytext=(3, 5),
                        textcoords="offset points", fontsize=8, color="grey")
    return fig


def roc_curves(curves: dict, ax=None):
    """ROC curves with their AUC in the legend.

    Parameters
    ----------
    curves : dict
        name -> (labels, probabilities).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    if ax is None:
        fig, ax = plt.subplots(figsize=(4.6, 4.2))
    else:
        fig = ax.figure
    for name, (labels, scores) in curves.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def composition_bars(true, reconstructed, names, top: int = 6):
    """True and reconstructed compositions (at.%) of a few alloys, side by side.

    Parameters
    ----------
    true, reconstructed : array-like (n, 30)
        Fractions over :data:`ELEMENTS`.
    names : list of str
        Panel titles (one per alloy).
    top : int
        Elements shown per alloy: the largest in either composition.
    """
    true, reconstructed = np.asarray(true), np.asarray(reconstructed)
    ncols = min(len(names), 3)
    fig, axes = _panels(len(names), ncols=ncols, figwidth=3.6 * ncols)
    width = 0.4
    for ax, name, t, r in zip(axes, names, true, reconstructed):
        keep = np.argsort(-np.maximum(t, r))[:top]
        positions = np.arange(len(keep))
        ax.bar(positions - width / 2, 100 * t[keep], width, label="true", color="0.35")
        ax.bar(positions + width / 2, 100 * r[keep], width, label="reconstructed", color="C0")
        ax.set_xticks(positions, [ELEMENTS[i] for i in keep])
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("at.%")
    axes[0].legend(fontsize=8)
    return fig
