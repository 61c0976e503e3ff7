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

from ..features import ELEMENTS, FEATURE_UNITS, FEATURES, element_counts
from ..metrics import expected_calibration_error, reliability_table

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

#: Width (inches) of a figure that spans the text column. The book shows
#: figures at most about 700 px wide; at the style's 110 dpi a wider figure
#: is shrunk, and its 10-point labels with it.
PAGE_WIDTH = 7.5


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
    # Above the axes: inside, any corner covers a bar or the rate line.
    fig.legend(handles=handles, loc="outside upper center", ncols=3)
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
    # Elements are sorted by frequency, so the upper right is empty.
    ax.legend(loc="upper right")
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
    fig, axes = _panels(len(features), ncols=3, figwidth=PAGE_WIDTH)
    for ax, name in zip(axes, features):
        edges = np.histogram_bin_edges(data[name], bins=bins)
        for label in (1, 0):
            ax.hist(data.loc[data["label"] == label, name], bins=edges, alpha=0.55,
                    color=CLASS_COLORS[label], label=CLASS_NAMES[label])
        ax.set_xlabel(feature_label(name))
    for ax in axes[::3]:
        ax.set_ylabel("alloys")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=2)
    return fig


def parity(published: pd.DataFrame, computed, features=FEATURES):
    """Computed against published feature values, one panel per feature."""
    features = list(features)
    computed = np.asarray(computed)
    ncols = 4
    fig, axes = _panels(len(features), ncols=ncols, figwidth=PAGE_WIDTH + 0.5, panel_height=2.2)
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
    # Corrections only lower the values: the upper left stays empty.
    ax.legend(loc="upper left")
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
    fig, (loss_ax, auc_ax) = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.6))
    for name in ("loss", "reconstruction", "kl_z", "classification"):
        if name in history:
            loss_ax.plot(history["epoch"], history[name], label=name.replace("_", " "))
    if "val_loss" in history:
        loss_ax.plot(history["epoch"], history["val_loss"], "k--", label="validation loss")
    loss_ax.set_yscale("symlog")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss per alloy")
    # Below the panels: the curves fill the loss axes.
    fig.legend(*loss_ax.get_legend_handles_labels(), loc="outside lower center", ncols=5)
    auc_ax.plot(history["epoch"], history["val_auc"], color="C2")
    auc_ax.set_xlabel("epoch")
    auc_ax.set_ylabel("validation ROC AUC")
    best = history.attrs.get("best_epoch")
    if best is not None:
        for ax in (loss_ax, auc_ax):
            ax.axvline(best, color="grey", lw=0.8, ls=":")
        auc_ax.annotate("selected", (best, auc_ax.get_ylim()[0]), xytext=(3, 5),
                        textcoords="offset points", fontsize=9, color="grey")
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
    ax.legend(fontsize=9, loc="lower right")
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
    fig, axes = _panels(len(names), ncols=ncols, figwidth=PAGE_WIDTH * ncols / 3)
    width = 0.4
    for ax, name, t, r in zip(axes, names, true, reconstructed):
        keep = np.argsort(-np.maximum(t, r))[:top]
        positions = np.arange(len(keep))
        ax.bar(positions - width / 2, 100 * t[keep], width, label="true", color="0.35")
        ax.bar(positions + width / 2, 100 * r[keep], width, label="reconstructed", color="C0")
        ax.set_xticks(positions, [ELEMENTS[i] for i in keep])
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("at.%")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=2)
    return fig


# --------------------------------------------------------------------------
# Design: inverse design of single-phase alloys (book/06_design)


def feature_comparison(features, names, ncols: int = 4):
    """The 8 features of a few alloys side by side, one panel per feature.

    Every feature gets its own axis, so none is clipped (the paper's Fig. 8b
    cuts the mixing enthalpy of its start alloy off).

    Parameters
    ----------
    features : array-like (n, 8)
        In :data:`FEATURES` order, one row per alloy.
    names : list of str
        One per alloy (legend), e.g. start and end of an inversion.
    """
    features = np.atleast_2d(np.asarray(features, dtype=float))
    fig, axes = _panels(len(FEATURES), ncols=ncols, figwidth=11, panel_height=2.3)
    colors = [f"C{i}" for i in range(len(names))]
    for j, (ax, name) in enumerate(zip(axes, FEATURES)):
        bars = ax.bar(range(len(names)), features[:, j], color=colors)
        ax.bar_label(bars, fmt="%.4g", fontsize=9, padding=2)
        ax.set_xticks([])
        ax.set_title(feature_label(name), fontsize=10)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.margins(y=0.25)
        ax.grid(axis="x", visible=False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
    fig.legend(handles, names, loc="outside lower center", ncols=len(names), fontsize=9)
    return fig


def inversion_paths(trajectories: dict, target: float | None = None):
    """Probability of a single phase along inversions, one panel per method.

    Parameters
    ----------
    trajectories : dict
        method name -> trajectory frame (``seed``, ``step``,
        ``p_single_phase``), as in :class:`hea_dvae.design.Inversion`.
    target : float, optional
        Drawn as a dotted line.
    """
    fig, axes = plt.subplots(1, len(trajectories), figsize=(4.6 * len(trajectories), 3.4),
                             squeeze=False, sharey=True)
    for ax, (method, frame) in zip(axes[0], trajectories.items()):
        for i, (seed, path) in enumerate(frame.groupby("seed", sort=False)):
            ax.plot(path["step"], path["p_single_phase"], "-o", ms=3, color=f"C{i}", label=seed)
        if target is not None:
            ax.axhline(target, color="0.3", ls=":", lw=1)
        ax.set_title(method)
        ax.set_xlabel("step")
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel("p(single phase)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=9)
    return fig


def inversion_outcomes(table: pd.DataFrame, target: float | None = None):
    """Final probability against distance moved, per method (from :func:`hea_dvae.design.compare_inversions`)."""
    fig, ax = plt.subplots(figsize=(5.4, 3.8))
    markers = {"flip": "s", "gradient": "o"}
    for i, (method, frame) in enumerate(table.groupby("method", sort=False)):
        ax.scatter(frame["distance"], frame["p_single_phase"], marker=markers.get(method, "^"),
                   s=40, color=f"C{i}", label=method)
        for _, row in frame.iterrows():
            ax.plot([0, row["distance"]], [row["start_p"], row["p_single_phase"]], color=f"C{i}", lw=0.6, alpha=0.4)
    if target is not None:
        ax.axhline(target, color="0.3", ls=":", lw=1)
    ax.set_xlabel("distance moved from the seed (at.%)")
    ax.set_ylabel("p(single phase), final alloy")
    ax.set_ylim(-0.02, 1.02)
    fig.legend(loc="outside right upper", fontsize=9)
    return fig


# --------------------------------------------------------------------------
# Calibration and model comparison


def reliability_diagram(curves: dict, n_bins: int = 10):
    """Observed single-phase rate against mean predicted probability, per probability bin.

    The top panel shows one line per model through its non-empty bins (the
    diagonal is perfect calibration; the legend gives each model's expected
    calibration error); the bottom panel the number of alloys per bin.

    Parameters
    ----------
    curves : dict
        name -> (labels, probabilities).
    n_bins : int
        Equal-width bins over [0, 1] (see
        :func:`hea_dvae.metrics.reliability_table`).
    """
    fig, (ax, count_ax) = plt.subplots(
        2, 1, figsize=(6.4, 5.4), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="perfect calibration")
    width = 1 / n_bins / max(len(curves), 1)
    for i, (name, (labels, probabilities)) in enumerate(curves.items()):
        table = reliability_table(labels, probabilities, n_bins)
        filled = table[table["count"] > 0]
        ece = expected_calibration_error(labels, probabilities, n_bins)
        ax.plot(filled["mean_predicted"], filled["observed_rate"], "-o", ms=4, color=f"C{i}",
                label=f"{name} (ECE {ece:.3f})")
        count_ax.bar(table["lower"] + width * (i + 0.5), table["count"], width, color=f"C{i}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("observed single-phase rate")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    count_ax.set_xlabel("predicted probability of single phase")
    count_ax.set_ylabel("alloys")
    count_ax.grid(axis="x", visible=False)
    return fig


def cv_comparison(results: pd.DataFrame, metric: str = "auc"):
    """Cross-validated score of each model: mean ± standard deviation over folds.

    One marker per scheme and element table, side by side for each model
    (rows); ``results`` is the tidy table of
    :func:`hea_dvae.evaluation.cross_validate`.
    """
    chosen = results[results["metric"] == metric]
    if chosen.empty:
        raise ValueError(f"metric {metric!r} is not in the results; they hold {sorted(set(results['metric']))}")
    summary = chosen.groupby(["scheme", "table", "model"], sort=False)["value"].agg(["mean", "std"])
    models = list(dict.fromkeys(chosen["model"]))
    settings = list(dict.fromkeys(zip(chosen["scheme"], chosen["table"])))
    fig, ax = plt.subplots(figsize=(7.2, 0.55 * len(models) + 1.4))
    step = 0.7 / max(len(settings), 1)
    markers = "osD^v"
    for i, (scheme, table) in enumerate(settings):
        rows = summary.loc[(scheme, table)].reindex(models)
        positions = np.arange(len(models)) - 0.35 + step * (i + 0.5)
        ax.errorbar(rows["mean"].to_numpy(float), positions, xerr=rows["std"].fillna(0).to_numpy(float),
                    fmt=markers[i % len(markers)],
                    color=f"C{i}", ms=5, capsize=3, label=f"{scheme} folds, {table} table")
    ax.set_yticks(np.arange(len(models)), [m.replace("_", " ") for m in models])
    ax.invert_yaxis()
    ax.set_xlabel(f"{'ROC AUC' if metric == 'auc' else metric} (mean ± std over folds)")
    ax.grid(axis="y", visible=False)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    return fig


# --------------------------------------------------------------------------
# Latent space and interpretation (book/04_latent_space, book/05_interpretation)


def _legend_right(ax, **kwargs) -> None:
    """Legend beside the axes, off the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, fontsize=9, **kwargs)


def _draw_box(ax, box, **kwargs) -> None:
    (x0, x1), (y0, y1) = box
    style = dict(fill=False, lw=1.2, ls="--", color="0.2") | kwargs
    ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, **style))


def reconstruction_histograms(table: pd.DataFrame, bins: int = 20):
    """The paper's Fig. 4: reconstruction errors of alloys, stacked by number of elements.

    Parameters
    ----------
    table : DataFrame
        From :func:`hea_dvae.latent.reconstruct_as_authors`: ``n_elements``,
        ``composition_error``, ``probability_error``, ``latent_error``.
    bins : int
        Bins per panel.
    """
    panels = {
        "composition_error": "composition error (at.%)",
        "probability_error": r"single-phase probability error $|q(y|e(x)) - q(y|e(\hat x))|$",
        "latent_error": r"latent error $|z - \hat z|$",
    }
    counts = sorted(table["n_elements"].unique())
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.95, len(counts)))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, (column, label) in zip(axes, panels.items()):
        edges = np.histogram_bin_edges(table[column], bins=bins)
        groups = [table.loc[table["n_elements"] == n, column] for n in counts]
        weights = [np.full(len(g), 1 / len(table)) for g in groups]
        ax.hist(groups, bins=edges, stacked=True, weights=weights, color=colors,
                label=[f"{n} elements" for n in counts])
        ax.set_xlabel(label, fontsize=9)
    axes[0].set_ylabel("share of alloys")
    _legend_right(axes[-1])
    return fig


def latent_space(frame: pd.DataFrame, box=None, gridsize: int = 30):
    """The paper's Fig. 5: posterior means coloured by label (left) and their density (right).

    Parameters
    ----------
    frame : DataFrame
        ``z1``, ``z2`` and ``label`` (from :func:`hea_dvae.latent.latent_frame`).
    box : ((float, float), (float, float)), optional
        A box to outline on both panels (e.g. the paper's).
    gridsize : int
        Hexagons across the density panel.
    """
    fig, (ax, density_ax) = plt.subplots(1, 2, figsize=(11, 4.4), sharex=True, sharey=True)
    for label in (0, 1):
        chosen = frame[frame["label"] == label]
        ax.scatter(chosen["z1"], chosen["z2"], s=7, alpha=0.6, color=CLASS_COLORS[label],
                   label=CLASS_NAMES[label])
    cells = density_ax.hexbin(frame["z1"], frame["z2"], gridsize=gridsize, mincnt=1, cmap="Greys")
    fig.colorbar(cells, ax=density_ax, label="alloys per cell")
    for panel in (ax, density_ax):
        panel.set_xlabel("$z_1$")
        if box is not None:
            _draw_box(panel, box)
    ax.set_ylabel("$z_2$")
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.14), ncols=2, fontsize=9, markerscale=2)
    return fig


def latent_by_elements(frame: pd.DataFrame, families: dict | None = None):
    """The paper's Fig. 6: posterior means by number of elements, and element families.

    Parameters
    ----------
    frame : DataFrame
        ``z1``, ``z2``, ``n_elements`` (from :func:`hea_dvae.latent.latent_frame`).
    families : dict, optional
        family name -> (m, 2) latent points of alloys from that family, drawn
        on the right panel over the data in grey.
    """
    ncols = 2 if families else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5.6 * ncols, 4.4), sharex=True, sharey=True, squeeze=False)
    ax = axes[0][0]
    counts = sorted(frame["n_elements"].unique())
    cmap = plt.get_cmap("viridis", len(counts))
    points = ax.scatter(frame["z1"], frame["z2"], c=frame["n_elements"], s=7, cmap=cmap,
                        vmin=counts[0] - 0.5, vmax=counts[-1] + 0.5)
    fig.colorbar(points, ax=ax, ticks=counts, label="elements in the alloy")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if families:
        family_ax = axes[0][1]
        family_ax.scatter(frame["z1"], frame["z2"], s=5, color="0.82", label="data")
        markers = "o^s"
        for i, (name, z) in enumerate(families.items()):
            z = np.asarray(z)
            family_ax.scatter(z[:, 0], z[:, 1], s=16, marker=markers[i % 3], color=f"C{i + 2}",
                              edgecolor="white", linewidth=0.3, label=name)
        family_ax.set_xlabel("$z_1$")
        family_ax.legend(loc="upper left", bbox_to_anchor=(0, -0.14), ncols=2, fontsize=9, markerscale=1.5)
    return fig


def decoder_maps(maps, box=None, points: pd.DataFrame | None = None):
    """Classifier probability of decoded alloys over the latent plane, one panel per label.

    Parameters
    ----------
    maps : list of :class:`hea_dvae.latent.DecoderMap`
    box : ((float, float), (float, float)), optional
        A region to outline (e.g. the paper's Table 3 grid).
    points : DataFrame, optional
        ``z1``, ``z2`` of data alloys, drawn as small dots.
    """
    fig, axes = plt.subplots(1, len(maps), figsize=(5.2 * len(maps) + 1, 4.4), sharey=True, squeeze=False)
    image = None
    for ax, decoder_map in zip(axes[0], maps):
        extent = (decoder_map.z1[0], decoder_map.z1[-1], decoder_map.z2[0], decoder_map.z2[-1])
        image = ax.imshow(decoder_map.probability, origin="lower", extent=extent, cmap="RdBu",
                          vmin=0, vmax=1, aspect="auto")
        ax.contour(decoder_map.z1, decoder_map.z2, decoder_map.probability, levels=[0.5], colors="k",
                   linewidths=0.8)
        if points is not None:
            ax.scatter(points["z1"], points["z2"], s=2, color="0.25", alpha=0.35)
        if box is not None:
            _draw_box(ax, box, color="k", ls="-")
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_title(f"decoded with y = {decoder_map.y:g}")
        ax.set_xlabel("$z_1$")
        ax.grid(False)
    axes[0][0].set_ylabel("$z_2$")
    fig.colorbar(image, ax=list(axes[0]), label=r"$q(y=1 \mid e(\mathrm{decode}(z, y)))$")
    return fig


def _pretty_feature_names(explanation):
    import shap

    return shap.Explanation(
        values=np.asarray(explanation.values),
        base_values=np.asarray(explanation.base_values),
        data=np.asarray(explanation.data),
        feature_names=[FEATURE_LABELS.get(f, f) for f in explanation.feature_names],
    )


def shap_beeswarm(explanation, title: str | None = None):
    """The paper's Fig. 8a: Shapley values of every explained alloy, one row per feature.

    Features are ordered by mean |SHAP|; colour is the feature's value.
    """
    import shap

    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    shap.plots.beeswarm(_pretty_feature_names(explanation), max_display=len(explanation.feature_names),
                        ax=ax, show=False, plot_size=None, s=12)
    ax.set_xlabel("Shapley value (toward multi phase  |  toward single phase)", fontsize=9)
    ax.tick_params(labelsize=9)
    if title:
        ax.set_title(title)
    return fig


def shap_waterfalls(explanation, rows, titles):
    """Waterfalls of a few alloys: from the base value to the prediction, feature by feature.

    Parameters
    ----------
    explanation : shap.Explanation
        With ``values`` (n, 8) and ``base_values`` (n,).
    rows : list of int
        Row of each alloy to show.
    titles : list of str
        One panel title per alloy.
    """
    names = [FEATURE_LABELS.get(f, f) for f in explanation.feature_names]
    values = np.asarray(explanation.values)
    base = np.asarray(explanation.base_values).reshape(-1)
    data = np.asarray(explanation.data)
    fig, axes = plt.subplots(1, len(rows), figsize=(4.3 * len(rows), 3.8), squeeze=False)
    for ax, row, title in zip(axes[0], rows, titles):
        # Smallest contribution at the bottom, starting from the base value;
        # each bar starts where the one below ends, the top one ends at f(x).
        order = np.argsort(np.abs(values[row]), kind="stable")
        widths = values[row][order]
        lefts = base[row] + np.concatenate([[0.0], np.cumsum(widths)[:-1]])
        colors = [CLASS_COLORS[1] if w > 0 else CLASS_COLORS[0] for w in widths]
        ax.barh(np.arange(len(order)), widths, left=lefts, color=colors, height=0.7)
        ax.set_yticks(np.arange(len(order)),
                      [f"{names[j]} = {data[row, j]:.4g}" for j in order], fontsize=9)
        ax.axvline(base[row], color="0.4", lw=0.8, ls=":")
        prediction = base[row] + values[row].sum()
        ax.axvline(prediction, color="0.1", lw=0.8)
        ax.set_title(f"{title}\nbase {base[row]:.2f} → {prediction:.2f}", fontsize=10)
        ax.grid(axis="y", visible=False)
    output = explanation.output_names if isinstance(explanation.output_names, str) else "model output"
    for ax in axes[0]:
        ax.set_xlabel(output)
    return fig


def shap_dependence(explanation, features, labels=None):
    """Shapley value of a feature against the feature's value, one panel per feature.

    Parameters
    ----------
    explanation : shap.Explanation
    features : list of str
        Names in :data:`FEATURES`.
    labels : array-like (n,), optional
        Colour points by class.
    """
    names = list(explanation.feature_names)
    values, data = np.asarray(explanation.values), np.asarray(explanation.data)
    fig, axes = plt.subplots(1, len(features), figsize=(4.6 * len(features), 3.6), squeeze=False)
    for ax, feature in zip(axes[0], features):
        j = names.index(feature)
        if labels is None:
            ax.scatter(data[:, j], values[:, j], s=10, color="C0")
        else:
            labels = np.asarray(labels)
            for label in (0, 1):
                mask = labels == label
                ax.scatter(data[mask, j], values[mask, j], s=10, alpha=0.7, color=CLASS_COLORS[label],
                           label=CLASS_NAMES[label])
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_xlabel(feature_label(feature))
    axes[0][0].set_ylabel("Shapley value")
    if labels is not None:
        _legend_right(axes[0][-1])
    return fig


def shap_importance(groups: dict, order=None):
    """Mean |SHAP| of each feature for groups of models (mean ± std over a group's members).

    Parameters
    ----------
    groups : dict
        group name -> DataFrame (features × members) of mean |SHAP|, e.g.
        from :func:`hea_dvae.explain.importance_table`.
    order : list of str, optional
        Feature order from the top; default that of the first group's mean.
    """
    first = next(iter(groups.values()))
    if order is None:
        order = list(first.mean(axis=1).sort_values(ascending=False).index)
    fig, ax = plt.subplots(figsize=(7.4, 0.42 * len(order) + 1.4))
    step = 0.7 / len(groups)
    for i, (name, table) in enumerate(groups.items()):
        table = table.reindex(order)
        positions = np.arange(len(order)) - 0.35 + step * (i + 0.5)
        spread = table.std(axis=1, ddof=1) if table.shape[1] > 1 else None
        ax.barh(positions, table.mean(axis=1), height=step * 0.9, xerr=spread, color=f"C{i}",
                capsize=2, label=f"{name} ({table.shape[1]} model{'s' if table.shape[1] > 1 else ''})")
        if table.shape[1] > 1:
            for column in table.columns:
                ax.scatter(table[column], positions, s=6, color="0.15", zorder=3)
    ax.set_yticks(np.arange(len(order)), [FEATURE_LABELS.get(f, f) for f in order])
    ax.invert_yaxis()
    ax.set_xlabel("mean |Shapley value|")
    ax.grid(axis="y", visible=False)
    _legend_right(ax)
    return fig


def rules_versus_model(table: pd.DataFrame, omega_min: float = 1.1, delta_max: float = 6.6,
                       vec_band=(6.87, 8.0)):
    """The model's probability against the rules' quantities: Omega and delta (left), VEC (right).

    Parameters
    ----------
    table : DataFrame
        From :func:`hea_dvae.explain.rules_versus_model`: ``omega``,
        ``delta``, ``vec``, ``probability``, ``label``, ``single_phase``
        and ``model``.
    omega_min, delta_max : float
        The Yang-Zhang thresholds, drawn as lines.
    vec_band : (float, float)
        Guo's duplex band of VEC (FCC + BCC), shaded.
    """
    fig, (rule_ax, vec_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    # Omega spans orders of magnitude and is infinite where the enthalpy is zero.
    omega = np.clip(table["omega"].to_numpy(dtype=float), 1e-2, 1e3)
    differ = table["single_phase"].to_numpy(dtype=bool) != table["model"].to_numpy(dtype=bool)
    points = rule_ax.scatter(table["delta"], omega, c=table["probability"], cmap="RdBu", vmin=0, vmax=1,
                             s=18, edgecolor=np.where(differ, "k", "none"), linewidth=0.8)
    rule_ax.set_yscale("log")
    rule_ax.axhline(omega_min, color="0.3", ls="--", lw=0.8)
    rule_ax.axvline(delta_max, color="0.3", ls="--", lw=0.8)
    rule_ax.set_xlabel(feature_label("delta"))
    rule_ax.set_ylabel(r"$\Omega = T_m \Delta S_\mathrm{mix} / |\Delta H_\mathrm{mix}|$ (clipped to $10^{-2}$, $10^3$)")
    fig.colorbar(points, ax=rule_ax, label="model: p(single phase)")
    vec_ax.axvspan(*vec_band, color="0.9", label="FCC + BCC band")
    for label in (0, 1):
        chosen = table["label"] == label
        vec_ax.scatter(table.loc[chosen, "vec"], table.loc[chosen, "probability"], s=14, alpha=0.7,
                       color=CLASS_COLORS[label], label=CLASS_NAMES[label])
    vec_ax.axhline(0.5, color="0.3", ls=":", lw=0.8)
    vec_ax.set_xlabel("VEC")
    vec_ax.set_ylabel("model: p(single phase)")
    _legend_right(vec_ax)
    return fig


def screen_distributions(results: dict, threshold: float = 0.5):
    """Distribution of p(single phase) over a screened space, one panel per model.

    Parameters
    ----------
    results : dict
        model name -> :class:`hea_dvae.screen.ScreenResult`; one line per
        number of elements (alloys per bin, log scale).
    threshold : float
        Drawn as a dotted line.
    """
    fig, axes = plt.subplots(1, len(results), figsize=(4.8 * len(results), 3.4), squeeze=False, sharey=True)
    for ax, (name, result) in zip(axes[0], results.items()):
        by_size = result.histograms["n_elements"]
        width = 1 / len(by_size)
        for i, size in enumerate(by_size.columns):
            counts = by_size[size].to_numpy()
            ax.stairs(counts, np.append(by_size.index.to_numpy(), 1.0), color=f"C{i}",
                      label=f"{size} elements ({int(counts.sum()):,})", lw=1.5)
        ax.axvline(threshold, color="0.3", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_title(name)
        ax.set_xlabel(f"p(single phase), bins of {width:g}")
    axes[0][0].set_ylabel("alloys")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9)
    return fig


# --------------------------------------------------------------------------
# Screening: p(single phase) over a screened space (hea_dvae.screen)


def _family_colors(names) -> dict:
    """One colour per element family, grey for "mixed"."""
    colors = {}
    for i, name in enumerate(names):
        colors[name] = "0.55" if name == "mixed" else f"C{(i + 2) % 8}"
    return colors


def screen_group_distributions(result, by: str = "family", threshold: float = 0.5):
    """Distribution of p(single phase) within each group of a screened space.

    Parameters
    ----------
    result : hea_dvae.screen.ScreenResult
        A finished screen.
    by : {"family", "n_elements"}
        Group alloys by the element family holding more than half of their
        atoms (else "mixed"), or by their number of elements.
    threshold : float
        Drawn as a dotted line.

    Each line is the share of the group's alloys per bin of p (so groups of
    different sizes compare), on a log scale; groups without alloys are left out.
    """
    histogram = result.histograms[by]
    edges = np.append(histogram.index.to_numpy(), 1.0)
    totals = histogram.sum()
    colors = _family_colors(histogram.columns) if by == "family" else None
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, group in enumerate(histogram.columns):
        if totals[group] == 0:
            continue
        label = f"{group} elements" if by == "n_elements" else str(group)
        ax.stairs(histogram[group].to_numpy() / totals[group], edges, lw=1.5,
                  color=colors[group] if colors else f"C{i}", label=f"{label} ({int(totals[group]):,})")
    ax.axvline(threshold, color="0.3", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("p(single phase)")
    ax.set_ylabel("share of the group's alloys per bin")
    _legend_right(ax, title="family (alloys)" if by == "family" else "alloys")
    return fig


def screen_single_phase_share(result, threshold: float = 0.5):
    """Share of a screened space called single phase, by number of elements and by family.

    Bars give the share of each group with p(single phase) >= ``threshold``
    (a bin edge of the screen's histograms); the dashed line is the whole
    space's share.
    """
    overall = result.share_single_phase("all", threshold).iloc[0]
    panels = [("n_elements", "number of elements"), ("family", "element family (more than half the atoms)")]
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH + 1.5, 3.4), gridspec_kw={"width_ratios": [1, 2]},
                             sharey=True)
    for ax, (by, title) in zip(axes, panels):
        share = result.share_single_phase(by, threshold)
        counts = result.histograms[by].sum()
        share, counts = share[counts > 0], counts[counts > 0]
        colors = ([_family_colors(result.histograms[by].columns)[g] for g in share.index]
                  if by == "family" else "C0")
        bars = ax.bar([str(g) for g in share.index], share.to_numpy(), color=colors)
        ax.bar_label(bars, labels=[f"{s:.0%}" for s in share], fontsize=9)
        ax.axhline(overall, color="0.2", ls="--", lw=1)
        ax.set_xlabel(title)
        ax.grid(axis="x", visible=False)
        if by == "family":
            ax.tick_params(axis="x", labelsize=9, rotation=15)
    axes[0].set_ylabel(f"share with p(single phase) ≥ {threshold:g}")
    axes[0].set_ylim(0, min(1.0, max(axes[0].get_ylim()[1], overall) * 1.15))
    fig.suptitle(f"dashed line: the whole space, {overall:.1%} of {int(result.histogram.sum()):,} alloys",
                 fontsize=10)
    return fig


def screen_element_share(result, threshold: float = 0.5):
    """Share called single phase among the screened alloys that contain each element.

    Bars are sorted by share and coloured by element family; elements in no
    screened alloy are left out.
    """
    share = result.share_single_phase("element", threshold)
    counts = result.histograms["element"].sum()
    share = share[counts > 0].sort_values(ascending=False)
    family_of = {symbol: name for name, members in result.families.items() for symbol in members}
    colors = _family_colors([*result.families, "mixed"])
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH + 1.5, 3.4))
    ax.bar(share.index, share.to_numpy(), color=[colors[family_of[s]] for s in share.index])
    ax.axhline(result.share_single_phase("all", threshold).iloc[0], color="0.2", ls="--", lw=1,
               label="whole space")
    ax.set_ylabel(f"share with p(single phase) ≥ {threshold:g}")
    ax.set_xlabel("alloys containing the element")
    ax.tick_params(axis="x", labelsize=9)
    ax.grid(axis="x", visible=False)
    for name in result.families:
        ax.bar([0], [0], width=0, color=colors[name], label=name)
    _legend_right(ax)
    return fig


# --------------------------------------------------------------------------
# Data efficiency (book/03_data_efficiency)

#: Display names of the ablation's models (hea_dvae.ablation.MODELS).
ABLATION_LABELS = {
    "vae-expert": "SSVAE, expert prior",
    "vae-flat": "SSVAE, flat prior",
    "head": "classifier network alone",
    "random-forest": "random forest",
    "logistic-regression": "logistic regression",
    "rules": "empirical rules",
}


def data_efficiency(results: pd.DataFrame, metrics=("auc", "accuracy")):
    """Test score against labelled fraction: mean over seeds with a ± 1 std band, a line per model.

    ``results`` is the tidy table of :func:`hea_dvae.ablation.run_ablation`
    (``fraction, n_labelled, seed, model, metric, value``); one panel per
    metric, the fraction on a log axis.
    """
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    missing = [m for m in metrics if m not in set(results["metric"])]
    if missing:
        raise ValueError(f"metrics {missing} are not in the results; they hold {sorted(set(results['metric']))}")
    models = list(dict.fromkeys(results["model"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(PAGE_WIDTH, 3.8), sharex=True, squeeze=False,
                             layout="constrained")
    for ax, metric in zip(axes[0], metrics):
        chosen = results[results["metric"] == metric]
        summary = chosen.groupby(["model", "fraction"])["value"].agg(["mean", "std"])
        for i, model in enumerate(models):
            rows = summary.loc[model].sort_index()
            fractions = rows.index.to_numpy(float)
            mean, std = rows["mean"].to_numpy(float), rows["std"].fillna(0).to_numpy(float)
            style = dict(ls="--", marker="") if model == "rules" else dict(marker="o", ms=3.5)
            ax.plot(fractions, mean, color=f"C{i}", lw=1.4, label=ABLATION_LABELS.get(model, model), **style)
            ax.fill_between(fractions, mean - std, mean + std, color=f"C{i}", alpha=0.15, lw=0)
        ax.set_xscale("log")
        ax.set_xlabel("labelled share of the 1,160 training alloys")
        ax.set_ylabel(f"test {'ROC AUC' if metric == 'auc' else metric}")
        fractions = np.sort(chosen["fraction"].unique())
        ax.set_xticks(fractions, [f"{f:g}" for f in fractions])
        ax.minorticks_off()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=3, fontsize=9, frameon=False)
    return fig


def loop_curves(summary: pd.DataFrame, ylabel: str, titles: dict | None = None, reference: float | None = None,
                reference_label: str | None = None, limits: tuple[float, float] | None = None):
    """A metric of the design loop against round: a panel per model, a line per strategy with its band.

    ``summary`` is :func:`hea_dvae.loop.summary`'s table (index model,
    strategy, round; columns ``mean``, ``low``, ``high``: the mean over
    repeats and its 95 % interval, drawn as the band), panels and lines in
    its order. ``titles`` names the panels (model -> title); ``reference``
    draws a dotted horizontal line (e.g. the single-phase share of the pool:
    what random casting finds); ``limits`` clips the bands to the values the
    metric can take. Rounds without a value (round 0 of the alloys found)
    are left out.
    """
    from matplotlib.ticker import MaxNLocator

    titles = titles or {}
    models = list(dict.fromkeys(summary.index.get_level_values("model")))
    strategies = list(dict.fromkeys(summary.index.get_level_values("strategy")))
    colors = {strategy: f"C{i}" for i, strategy in enumerate(sorted(strategies))}
    fig, axes = plt.subplots(1, len(models), figsize=(PAGE_WIDTH, 3.3), sharex=True, sharey=True, squeeze=False,
                             layout="constrained")
    of_model, of_strategy = (summary.index.get_level_values(level) for level in ("model", "strategy"))
    for ax, model in zip(axes[0], models):
        for strategy in strategies:
            chosen = (of_model == model) & (of_strategy == strategy)
            if not chosen.any():
                continue
            rows = summary[chosen].droplevel(["model", "strategy"]).dropna(subset=["mean"]).sort_index()
            rounds = rows.index.to_numpy(float)
            low, high = rows["low"].fillna(rows["mean"]), rows["high"].fillna(rows["mean"])
            if limits is not None:
                low, high = low.clip(*limits), high.clip(*limits)
            ax.plot(rounds, rows["mean"], color=colors[strategy], marker="o", ms=3, lw=1.4, label=strategy)
            ax.fill_between(rounds, low, high, color=colors[strategy], alpha=0.15, lw=0)
        if reference is not None:
            ax.axhline(reference, color="0.4", ls=":", lw=1, label=reference_label)
        ax.set_title(titles.get(model, model), fontsize=10)
        ax.set_xlabel("round")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_ylabel(ylabel)
    seen: dict = {}  # a strategy run with one model only still gets its entry; the reference comes last
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label != reference_label:
                seen.setdefault(label, handle)
    if reference is not None and reference_label:
        seen[reference_label] = axes[0, 0].get_lines()[-1]
    fig.legend(list(seen.values()), list(seen.keys()), loc="outside upper center", ncol=len(seen), fontsize=9,
               frameon=False)
    return fig
