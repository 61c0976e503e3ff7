r"""Reading the latent space of a trained SSVAE: reconstruction, geometry, probes, decoder maps.

Every function takes a trained :class:`hea_dvae.model.SSVAE` (one model:
latent spaces of different seeds are not aligned, so they are compared
through numbers computed on each, never point by point) and returns plain
arrays or frames. Nothing here loads or trains a model.

Three groups:

Reconstruction as the authors measured it (paper Fig. 4 and Table 1)
    :func:`reconstruct_as_authors` follows ``reconstruct.py`` of the authors'
    repository step by step, including its rounding to whole at.%
    (:func:`truncate_percent`, :func:`round_percent`), so that the released
    model gives their per-alloy file back (:func:`load_authors_reconstruction`).
Geometry of the posterior means (Figs. 5 and 6)
    :func:`latent_frame`, :func:`share_in_box`, :func:`opposite_label_pairs`,
    :func:`family_alloys` and :func:`place_alloys`; and two measurements of
    disentanglement, :func:`probe_auc` (can the label be predicted from
    ``z``?) and :func:`mutual_information` (how much does ``z`` say about,
    e.g., the number of elements?).
The decoder as a map (Table 3)
    :func:`grid_designs` decodes a grid of ``z`` with a chosen label and
    re-scores each alloy with the classifier; :func:`probability_map` does
    it over the whole plane and :func:`consistency_rate` summarises it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
import torch
from scipy.special import digamma
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KDTree, NearestNeighbors

from . import checks, paper
from .features import ELEMENTS, FEATURES, featurize
from .metrics import roc_auc
from .upstream import fetch

#: Element families of the paper's Fig. 6: equimolar alloys drawn from each.
FAMILIES: dict[str, tuple[str, ...]] = {
    "refractory": ("Ti", "V", "Cr", "Zr", "Nb", "Mo", "Ta", "Hf", "W"),
    "noble": ("Ag", "Cu", "Pd", "Au", "Pt", "Ru", "Rh", "Ir", "Os"),
    "magnetic / late transition": ("Fe", "Co", "Ni", "Ru", "Rh", "Ir"),
}


def latent_columns(z_dim: int) -> list[str]:
    """``["z1", "z2", ...]`` for a latent space of ``z_dim`` dimensions."""
    return [f"z{i + 1}" for i in range(z_dim)]


# --------------------------------------------------------------------------
# The authors' rounding to whole atomic percent


def truncate_percent(fractions) -> np.ndarray:
    """Whole at.% of compositions, truncated, as the authors wrote a formula.

    Their ``calculate_compositions`` turns a composition into a formula with
    ``int(100 * fraction)``: amounts are truncated, not rounded (1/3 becomes
    33), so the written formula may sum to less than 100.

    Parameters
    ----------
    fractions : array-like (n, 30) or (30,)
        Atomic fractions (float64 arithmetic, as theirs).

    Returns
    -------
    numpy.ndarray of int
        Same shape.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if (fractions < 0).any():
        raise ValueError("fractions must be non-negative")
    # int() truncates toward zero; trunc is the same for non-negative values.
    return np.trunc(100.0 * fractions).astype(int)


def round_percent(fractions) -> np.ndarray:
    """Whole at.% of decoded compositions, as the authors rounded them.

    Their ``reconstruct.py`` and ``interpolate.py`` compute
    ``int(torch.round(p, decimals=2) * 100)`` in float32: round to two
    decimals, scale, truncate. The float32 product is usually the whole
    number, but a value that lands a hair below it is truncated one lower;
    this function does the same arithmetic so that it gives their formulas.

    Parameters
    ----------
    fractions : array-like or Tensor (n, 30) or (30,)
        Decoded composition probabilities.

    Returns
    -------
    numpy.ndarray of int
        Same shape; the row sums are near, not exactly, 100.
    """
    p = torch.from_numpy(np.array(fractions, dtype=np.float32))
    if (p < 0).any():
        raise ValueError("fractions must be non-negative")
    scaled = (torch.round(p, decimals=2) * 100).numpy()
    return np.trunc(scaled).astype(int)


def percent_formula(percent) -> str:
    """Formula of whole at.% in :data:`ELEMENTS` order, e.g. ``Fe19Ni21Cr15Co21Al15Mo9``.

    Elements with 0 are left out, as in the authors' strings.
    """
    percent = np.asarray(percent).reshape(-1)
    if percent.shape[0] != len(ELEMENTS):
        raise ValueError(f"need {len(ELEMENTS)} amounts, got {percent.shape[0]}")
    return "".join(f"{symbol}{int(amount)}" for symbol, amount in zip(ELEMENTS, percent) if amount > 0)


def _renormalise(percent) -> np.ndarray:
    percent = np.asarray(percent, dtype=np.float64)
    totals = percent.sum(axis=-1, keepdims=True)
    if (totals <= 0).any():
        raise ValueError("a rounded composition has no element left")
    return percent / totals


# --------------------------------------------------------------------------
# Encoding and classifying with one model


def _as_float32(values) -> torch.Tensor:
    return torch.as_tensor(np.array(values, dtype=np.float32))


@torch.no_grad()
def probabilities(model, features) -> np.ndarray:
    """q(y=1|e) of raw features, shape (n,), in float32 as the networks compute it."""
    e = _as_float32(np.asarray(features)).reshape(-1, len(FEATURES))
    return torch.sigmoid(model.classify_logits(e)).numpy().astype(np.float64)


def composition_probabilities(model, fractions) -> np.ndarray:
    """q(y=1|e(x)) of compositions, with the features of the model's element table."""
    fractions = np.asarray(fractions, dtype=np.float64).reshape(-1, len(ELEMENTS))
    return probabilities(model, featurize(fractions, table=model.config.table))


@torch.no_grad()
def encode_means(model, fractions, labels) -> np.ndarray:
    """Means of q(z|x,y), shape (n, z_dim).

    ``labels`` is a scalar or one value per alloy: 0/1, or a probability
    (the authors encoded new alloys with their predicted probability).
    """
    was_training = model.training
    model.eval()
    try:
        fractions = np.asarray(fractions, dtype=np.float32).reshape(-1, len(ELEMENTS))
        labels = np.asarray(labels, dtype=np.float32)
        mean, _ = model.encode(fractions, labels)
        return mean.numpy().astype(np.float64)
    finally:
        model.train(was_training)


def place_alloys(model, fractions) -> tuple[np.ndarray, np.ndarray]:
    """Latent means and probabilities of alloys without a label.

    As the authors' ``calculate_z``: the classifier's probability q(y=1|e(x))
    stands in for the label when encoding.

    Returns
    -------
    z : numpy.ndarray (n, z_dim)
    probability : numpy.ndarray (n,)
    """
    probability = composition_probabilities(model, fractions)
    return encode_means(model, fractions, probability), probability


# --------------------------------------------------------------------------
# Reconstruction (paper Fig. 4, Table 1)


def reconstruct_as_authors(model, frame: pd.DataFrame, decode_with="predicted") -> pd.DataFrame:
    """Encode, decode and re-encode alloys exactly as the authors' ``reconstruct.py``.

    For each alloy with composition ``x``, label ``y`` and features ``e``:

    1. ``z = mean q(z | x, y)`` with the true label;
    2. ``p = q(y=1 | e)`` from the frame's features;
    3. ``x_hat = decode(z, p)`` (or with the true label, or a fixed value:
       ``decode_with``), rounded to whole at.% by :func:`round_percent`,
       written as a formula and renormalised;
    4. ``p_hat = q(y=1 | e(x_hat))`` and ``z_hat = mean q(z | x_hat, p_hat)``
       (the reconstructed alloy has no label: its probability stands in).

    The errors are theirs: the composition error is the mean absolute
    difference in at.% over all 30 elements between ``x_hat`` and ``x``
    *as written by* :func:`truncate_percent` and renormalised; the
    probability error is ``|round(p, 2) - round(p_hat, 2)|``; the latent
    error is the mean over dimensions of ``|round(z, 3) - round(z_hat, 3)|``.

    Parameters
    ----------
    model : SSVAE
        Its ``config.table`` names the element table used for the features of
        the reconstructed alloys; the frame's feature columns must use the
        same table.
    frame : DataFrame
        ``formula``, the 30 fractions, the 8 features and ``label``.
    decode_with : {"predicted", "true"} or float
        Label fed to the decoder: the classifier's probability (the authors'
        protocol), the true label, or a fixed number in [0, 1].

    Returns
    -------
    DataFrame
        One row per alloy, in the frame's order: ``formula``,
        ``normalized_alloy``, ``reconstructed_alloy``, ``n_elements``,
        ``label``, ``probability``, ``probability_reconstructed``, ``z1``...,
        ``z1_reconstructed``..., ``composition_error`` (at.%),
        ``probability_error``, ``latent_error``.
    """
    fractions = frame[list(ELEMENTS)].to_numpy(dtype=np.float64)
    labels = frame["label"].to_numpy(dtype=np.float64)
    probability = probabilities(model, frame[list(FEATURES)].to_numpy(dtype=np.float64))
    if isinstance(decode_with, str):
        if decode_with not in ("predicted", "true"):
            raise ValueError(f"decode_with must be 'predicted', 'true' or a number, got {decode_with!r}")
        decoder_label = probability if decode_with == "predicted" else labels
    else:
        value = float(decode_with)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"decode_with must lie in [0, 1], got {value}")
        decoder_label = np.full(len(frame), value)

    z = encode_means(model, fractions, labels)
    with torch.no_grad():
        decoded = model.decode(_as_float32(z), _as_float32(decoder_label)).numpy()
    percent = round_percent(decoded)
    reconstructed = _renormalise(percent)
    probability_hat = composition_probabilities(model, reconstructed)
    z_hat = encode_means(model, reconstructed, probability_hat)

    written = truncate_percent(fractions)
    true_written = _renormalise(written)
    composition_error = np.abs(100 * true_written - 100 * reconstructed).mean(axis=1)
    # Python's round(), as theirs, on the float32 probabilities.
    p_round = np.array([round(float(np.float32(v)), 2) for v in probability])
    p_hat_round = np.array([round(float(np.float32(v)), 2) for v in probability_hat])
    z_round = np.round(z.astype(np.float32), 3).astype(np.float64)
    z_hat_round = np.round(z_hat.astype(np.float32), 3).astype(np.float64)

    columns = latent_columns(z.shape[1])
    out = pd.DataFrame(
        {
            "formula": frame["formula"].to_numpy(),
            "normalized_alloy": [percent_formula(row) for row in written],
            "reconstructed_alloy": [percent_formula(row) for row in percent],
            "n_elements": (fractions > 0).sum(axis=1),
            "label": frame["label"].to_numpy(),
            "probability": probability,
            "probability_reconstructed": probability_hat,
        },
        index=frame.index,
    )
    for j, name in enumerate(columns):
        out[name] = z[:, j]
    for j, name in enumerate(columns):
        out[f"{name}_reconstructed"] = z_hat[:, j]
    out["composition_error"] = composition_error
    out["probability_error"] = np.abs(p_round - p_hat_round)
    out["latent_error"] = np.abs(z_round - z_hat_round).mean(axis=1)
    return out


def reconstruction_summary(table: pd.DataFrame) -> pd.Series:
    """The paper's three reconstruction numbers from :func:`reconstruct_as_authors`.

    Returns mean and maximum composition error (at.%), mean probability
    error, mean latent error, and the number of alloys.
    """
    return pd.Series(
        {
            "composition_error_mean": float(table["composition_error"].mean()),
            "composition_error_max": float(table["composition_error"].max()),
            "probability_error_mean": float(table["probability_error"].mean()),
            "latent_error_mean": float(table["latent_error"].mean()),
            "alloys": int(len(table)),
        }
    )


def table_one(predicted: pd.DataFrame, true_label: pd.DataFrame, rows=paper.TABLE_1) -> pd.DataFrame:
    """The paper's Table 1 beside two reconstructions of the same test alloys.

    Parameters
    ----------
    predicted, true_label : DataFrame
        :func:`reconstruct_as_authors` of the test alloys with
        ``decode_with="predicted"`` and ``"true"``.
    rows : sequence of (written alloy, reconstructed alloy, probability)
        The paper's rows (:data:`hea_dvae.paper.TABLE_1`).

    Returns
    -------
    DataFrame
        One row per test alloy whose written formula is in the paper's table
        (a formula can belong to several alloys): ``formula``, ``label``,
        ``written``, ``paper``, ``decoded_with_p``, ``decoded_with_label``,
        ``p_paper``, ``p`` (q(y=1|e(x)) of the test alloy),
        ``p_reconstruction`` (of the alloy decoded with p), and ``reproduced_by``
        (``"p"``, ``"label"``, ``"both"`` or ``"neither"``).
    """
    by_label = true_label.set_index("formula")["reconstructed_alloy"]
    out = []
    for written, printed, p_paper in rows:
        for _, row in predicted[predicted["normalized_alloy"] == written].iterrows():
            with_p, with_label = row["reconstructed_alloy"], by_label[row["formula"]]
            reproduced = {(True, True): "both", (True, False): "p", (False, True): "label"}.get(
                (with_p == printed, with_label == printed), "neither"
            )
            out.append(
                {
                    "formula": row["formula"],
                    "label": row["label"],
                    "written": written,
                    "paper": printed,
                    "decoded_with_p": with_p,
                    "decoded_with_label": with_label,
                    "p_paper": p_paper,
                    "p": row["probability"],
                    "p_reconstruction": row["probability_reconstructed"],
                    "reproduced_by": reproduced,
                }
            )
    return pd.DataFrame(out)


def load_authors_reconstruction() -> pd.DataFrame:
    """The authors' per-alloy reconstruction of the test set (their released model).

    Read from the pinned upstream file ``test_data_reconstruction_analysis.csv``
    (written by their ``reconstruct.py``) and renamed to the columns of
    :func:`reconstruct_as_authors`: ``formula``, ``normalized_alloy``,
    ``reconstructed_alloy``, ``probability`` and ``probability_reconstructed``
    (both rounded to 0.01, as they stored them), ``composition_error``,
    ``probability_error``, ``latent_error``.
    """
    raw = pd.read_csv(fetch("test_data_reconstruction_analysis.csv"))
    return pd.DataFrame(
        {
            "formula": raw["Alloys"],
            "normalized_alloy": raw["normalized_alloy"],
            "reconstructed_alloy": raw["reconstructed_alloy"],
            "probability": raw["y"].astype(float),
            "probability_reconstructed": raw["reconstructed_y"].astype(float),
            "composition_error": raw["comp_diff_mae"].astype(float),
            "probability_error": raw["y_diff"].astype(float),
            "latent_error": raw["z_diff_mae"].astype(float),
        }
    )


def compare_with_authors(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """Alloy-by-alloy agreement of two reconstruction tables, matched by formula.

    Returns one row per alloy found in both: whether the written and the
    reconstructed formulas are identical, and the absolute differences of
    the three errors.
    """
    merged = ours.merge(theirs, on="formula", suffixes=("", "_authors"), validate="one_to_one")
    return pd.DataFrame(
        {
            "formula": merged["formula"],
            "same_normalized_alloy": merged["normalized_alloy"] == merged["normalized_alloy_authors"],
            "same_reconstructed_alloy": merged["reconstructed_alloy"] == merged["reconstructed_alloy_authors"],
            "reconstructed_alloy": merged["reconstructed_alloy"],
            "reconstructed_alloy_authors": merged["reconstructed_alloy_authors"],
            **{
                f"{name}_difference": (merged[name] - merged[f"{name}_authors"]).abs()
                for name in ("composition_error", "probability_error", "latent_error")
            },
        }
    )


# --------------------------------------------------------------------------
# Geometry of the latent space (paper Figs. 5 and 6)


def latent_frame(model, parts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Posterior means (encoded with the true label) of the alloys of several split parts.

    Parameters
    ----------
    parts : mapping
        part name -> frame (``formula``, 30 fractions, 8 features, ``label``).

    Returns
    -------
    DataFrame
        ``formula``, ``part``, ``label``, ``n_elements``, ``probability``
        (q(y=1|e)) and ``z1``, ``z2``, ...
    """
    frames = []
    for name, frame in parts.items():
        fractions = frame[list(ELEMENTS)].to_numpy(dtype=np.float64)
        z = encode_means(model, fractions, frame["label"].to_numpy(dtype=np.float64))
        out = pd.DataFrame(
            {
                "formula": frame["formula"].to_numpy(),
                "part": name,
                "label": frame["label"].to_numpy(),
                "n_elements": (fractions > 0).sum(axis=1),
                "probability": probabilities(model, frame[list(FEATURES)].to_numpy(dtype=np.float64)),
            }
        )
        out[latent_columns(z.shape[1])] = z
        frames.append(out)
    return pd.concat(frames, ignore_index=True)


def share_in_box(z, box=paper.BOX) -> float:
    """Share of latent points inside a box, given as one (low, high) pair per dimension."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != len(box):
        raise ValueError(f"z has shape {z.shape}; the box has {len(box)} dimensions")
    inside = np.ones(len(z), dtype=bool)
    for j, (low, high) in enumerate(box):
        if not low < high:
            raise ValueError(f"box limits must increase, got ({low}, {high}) for dimension {j + 1}")
        inside &= (z[:, j] >= low) & (z[:, j] <= high)
    return float(inside.mean())


def opposite_label_pairs(z, labels, names, max_distance: float = 0.05) -> pd.DataFrame:
    """Pairs of alloys with opposite labels whose posterior means nearly coincide.

    Parameters
    ----------
    z : array-like (n, z_dim)
    labels : array-like (n,)
        0 or 1.
    names : array-like (n,)
        Alloy names (formulas).
    max_distance : float
        Largest Euclidean distance in latent units.

    Returns
    -------
    DataFrame
        ``single_phase``, ``multi_phase`` (the names), ``distance``, sorted by
        distance.
    """
    z = np.asarray(z, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    names = np.asarray(names).reshape(-1)
    if not (len(z) == len(labels) == len(names)):
        raise ValueError("z, labels and names must have one row per alloy")
    if max_distance <= 0:
        raise ValueError(f"max_distance must be positive, got {max_distance}")
    single, multi = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    distance = np.linalg.norm(z[single, None, :] - z[None, multi, :], axis=-1)
    i, j = np.nonzero(distance <= max_distance)
    out = pd.DataFrame(
        {"single_phase": names[single[i]], "multi_phase": names[multi[j]], "distance": distance[i, j]}
    )
    return out.sort_values(["distance", "single_phase", "multi_phase"], ignore_index=True)


def family_alloys(families: Mapping[str, tuple[str, ...]] = FAMILIES, size: int = 4) -> pd.DataFrame:
    """Every equimolar alloy of ``size`` elements drawn from each element family.

    Returns
    -------
    DataFrame
        ``family``, ``formula`` (e.g. ``NbMoTaW``) and the 30 fractions.
    """
    rows = []
    for family, members in families.items():
        unknown = [s for s in members if s not in ELEMENTS]
        if unknown:
            raise ValueError(f"family {family!r}: {unknown} not among the 30 elements")
        if not 1 <= size <= len(members):
            raise ValueError(f"size must be between 1 and {len(members)} for family {family!r}, got {size}")
        for chosen in itertools.combinations(members, size):
            fractions = np.zeros(len(ELEMENTS))
            fractions[[ELEMENTS.index(s) for s in chosen]] = 1.0 / size
            rows.append({"family": family, "formula": "".join(chosen), **dict(zip(ELEMENTS, fractions))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# Measuring disentanglement


def _knn_share(train_x: np.ndarray, train_y: np.ndarray, query: np.ndarray, neighbours: int,
               decimals: int = 9) -> np.ndarray:
    """Share of label 1 among each query's ``neighbours`` nearest training points (Euclidean).

    The same on every CPU: duplicate compositions make many neighbours
    equally distant, and which of them a library's search keeps depends on
    the rounding of its distance arithmetic (vector kernels differ between
    CPUs). Here distances are rounded to ``decimals`` and ties are broken by
    training order (a stable sort), so the choice is the machine's no more.
    """
    out = np.empty(len(query))
    for begin in range(0, len(query), 256):
        block = query[begin:begin + 256]
        distance = np.sqrt(((block[:, None, :] - train_x[None, :, :]) ** 2).sum(axis=-1)).round(decimals)
        nearest = np.argsort(distance, axis=1, kind="stable")[:, :neighbours]
        out[begin:begin + 256] = train_y[nearest].mean(axis=1)
    return out


def probe_auc(inputs, labels, folds: int = 5, neighbours: int = 15, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a k-nearest-neighbour probe predicting ``labels`` from ``inputs``.

    A probe near 0.5 on the latent means says the label cannot be read off
    ``z``; near 1, that it can. The same probe on the compositions gives the
    reference: how much the label is written in ``x`` itself. k-NN makes no
    assumption on the shape of the class regions; the AUC is that of the
    pooled out-of-fold probabilities of stratified, shuffled folds.

    Parameters
    ----------
    inputs : array-like (n, d)
    labels : array-like (n,)
        0 or 1, both present at least ``folds`` times.
    folds, neighbours, seed : int
        Number of folds, of neighbours, and the seed of the fold shuffle.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1).astype(int)
    if inputs.ndim != 2 or len(inputs) != len(labels):
        raise ValueError(f"inputs must be (n, d) with n = {len(labels)} labels, got {inputs.shape}")
    counts = np.bincount(labels, minlength=2)
    if len(counts) > 2 or counts.min() < folds:
        raise ValueError(f"labels must be 0/1 with at least {folds} of each, got counts {counts.tolist()}")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out_of_fold = np.empty(len(labels))
    for train, test in cv.split(inputs, labels):
        out_of_fold[test] = _knn_share(inputs[train], labels[train], inputs[test], neighbours)
    return roc_auc(labels, out_of_fold)


def mutual_information(z, target, neighbours: int = 3) -> float:
    """Mutual information (nats) between a continuous vector ``z`` and a discrete ``target``.

    The nearest-neighbour estimator of Ross (2014) (the one scikit-learn's
    ``mutual_info_classif`` uses for one feature), applied to all dimensions
    of ``z`` jointly, after scaling each to unit standard deviation:
    ``psi(N) + <psi(k)> - <psi(N_c)> - <psi(m)>``, where for each point the
    radius is that of its k-th neighbour of the same class and ``m`` counts
    all points within it. Points alone in their class are left out. Clipped
    at 0 (the estimate can dip slightly below).
    """
    z = np.asarray(z, dtype=np.float64)
    z = z.reshape(len(z), -1)
    target = np.asarray(target).reshape(-1)
    if len(z) != len(target):
        raise ValueError(f"z has {len(z)} rows but target has {len(target)}")
    scale = z.std(axis=0)
    z = z / np.where(scale > 0, scale, 1.0)
    n = len(z)
    radius = np.zeros(n)
    k_used = np.zeros(n, dtype=int)
    class_size = np.zeros(n, dtype=int)
    for value in np.unique(target):
        members = np.flatnonzero(target == value)
        class_size[members] = len(members)
        if len(members) < 2:
            continue
        k = min(neighbours, len(members) - 1)
        distances, _ = NearestNeighbors(n_neighbors=k).fit(z[members]).kneighbors()
        radius[members] = np.nextafter(distances[:, -1], 0)
        k_used[members] = k
    keep = class_size > 1
    if keep.sum() < 2:
        raise ValueError("every class has a single member: mutual information is undefined")
    z, radius = z[keep], radius[keep]
    within = KDTree(z).query_radius(z, radius, count_only=True)
    estimate = (
        digamma(keep.sum())
        + digamma(k_used[keep]).mean()
        - digamma(class_size[keep]).mean()
        - digamma(within).mean()
    )
    return float(max(estimate, 0.0))


# --------------------------------------------------------------------------
# The decoder as a map (paper Table 3)


@torch.no_grad()
def decode_grid(model, z1_values, z2_values, y) -> tuple[np.ndarray, np.ndarray]:
    """Decode every point of a grid of a two-dimensional latent space with label ``y``.

    Points are ordered as the authors' ``interpolate.py`` scans them: ``z1``
    outer, ``z2`` inner.

    Returns
    -------
    z : numpy.ndarray (n, 2)
    fractions : numpy.ndarray (n, 30)
        Decoded compositions (float64, non-negative, rows summing to 1).
    """
    if model.config.z_dim != 2:
        raise ValueError(f"grid decoding needs a 2-D latent space, the model has z_dim={model.config.z_dim}")
    y = float(y)
    if not 0.0 <= y <= 1.0:
        raise ValueError(f"y must lie in [0, 1], got {y}")
    z = np.array(list(itertools.product(np.asarray(z1_values, float), np.asarray(z2_values, float))))
    if len(z) == 0:
        raise ValueError("the grid is empty")
    was_training = model.training
    model.eval()
    try:
        decoded = model.decode(_as_float32(z), y).numpy().astype(np.float64)
    finally:
        model.train(was_training)
    # float32 softmax rows sum to 1 within ~1e-7; make them exact compositions.
    return z, decoded / decoded.sum(axis=1, keepdims=True)


def grid_designs(model, z1_range, z2_range, n_points: int = 5, labels=(1, 0)) -> pd.DataFrame:
    """The authors' latent scan: decode a grid with each label, round, and re-score.

    Each grid point is decoded with each label in ``labels``, rounded to
    whole at.% as the authors did (:func:`round_percent`), renormalised and
    scored by the model's classifier on the features of the rounded alloy.

    Parameters
    ----------
    z1_range, z2_range : (float, float)
        Limits of the grid (``numpy.linspace`` with ``n_points`` each).
    n_points : int
        Points per axis.
    labels : sequence of float
        Labels to decode with.

    Returns
    -------
    DataFrame
        ``z1``, ``z2``, ``y``, ``formula``, ``largest`` (at.% of the main
        element), ``probability`` and ``consistent`` (the classifier agrees
        with ``y``: ``probability > 0.5`` exactly when ``y`` is 1).
    """
    if n_points < 1:
        raise ValueError(f"n_points must be at least 1, got {n_points}")
    frames = []
    for y in labels:
        z, decoded = decode_grid(model, np.linspace(*z1_range, n_points), np.linspace(*z2_range, n_points), y)
        percent = round_percent(decoded)
        probability = composition_probabilities(model, _renormalise(percent))
        frames.append(
            pd.DataFrame(
                {
                    "z1": z[:, 0],
                    "z2": z[:, 1],
                    "y": float(y),
                    "formula": [percent_formula(row) for row in percent],
                    "largest": percent.max(axis=1),
                    "probability": probability,
                    "consistent": (probability > 0.5) == (float(y) > 0.5),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def design_at(designs: pd.DataFrame, z1: float, z2: float, y: float) -> pd.Series:
    """The row of :func:`grid_designs` decoded with label ``y`` nearest to ``(z1, z2)``."""
    chosen = designs[designs["y"] == float(y)]
    if chosen.empty:
        raise ValueError(f"no design decoded with y = {y}")
    distance = (chosen["z1"] - z1) ** 2 + (chosen["z2"] - z2) ** 2
    return chosen.loc[distance.idxmin()]


@dataclass
class DecoderMap:
    """q(y=1 | e(decode(z, y))) over a square grid of a 2-D latent space.

    Attributes
    ----------
    z1, z2 : numpy.ndarray
        Grid coordinates (1-D).
    y : float
        Label the decoder was given.
    probability : numpy.ndarray (len(z2), len(z1))
        Classifier probability of the decoded (unrounded) composition; rows
        follow ``z2``, columns ``z1`` (image order).
    """

    z1: np.ndarray
    z2: np.ndarray
    y: float
    probability: np.ndarray


def probability_map(model, y, limit: float = 3.0, n_points: int = 61) -> DecoderMap:
    """Decode the square ``[-limit, limit]^2`` with label ``y`` and score every composition."""
    if limit <= 0 or n_points < 2:
        raise ValueError(f"need limit > 0 and n_points >= 2, got {limit}, {n_points}")
    axis = np.linspace(-limit, limit, n_points)
    z, decoded = decode_grid(model, axis, axis, y)
    probability = composition_probabilities(model, decoded)
    # decode_grid runs z1 outer, z2 inner: reshape to (z1, z2), then transpose to image order.
    return DecoderMap(axis, axis.copy(), float(y), probability.reshape(n_points, n_points).T)


def consistency_rate(decoder_map: DecoderMap, weight: str = "prior") -> float:
    """Share of the map where the classifier agrees with the label the decoder was given.

    ``weight="prior"`` weights each grid point by the prior density
    N(z; 0, I), so the rate is that of latent vectors drawn from the prior
    (within the map); ``"uniform"`` weights all grid points alike.
    """
    if weight not in ("prior", "uniform"):
        raise ValueError(f"weight must be 'prior' or 'uniform', got {weight!r}")
    agree = (decoder_map.probability > 0.5) == (decoder_map.y > 0.5)
    if weight == "uniform":
        return float(agree.mean())
    z1, z2 = np.meshgrid(decoder_map.z1, decoder_map.z2)
    density = np.exp(-0.5 * (z1**2 + z2**2))
    return float((density * agree).sum() / density.sum())


# --------------------------------------------------------------------------
# All of it, for one model


@dataclass(frozen=True)
class LatentSettings:
    """Choices of the latent-space measurements (the parameters of a chapter).

    Attributes
    ----------
    box : ((float, float), (float, float))
        Box whose share of posterior means is counted (the paper's Fig. 5).
    pair_distance : float
        Latent distance below which two alloys of opposite labels form a pair.
    probe_neighbours, probe_folds : int
        k of the k-NN probe and its cross-validation folds.
    grid_z1, grid_z2 : (float, float)
        Limits of the decoded grid (the paper's Table 3), ``grid_points`` per axis.
    map_limit : float
        The whole-plane map covers ``[-map_limit, map_limit]^2``, ``map_points`` per axis.
    """

    box: tuple = paper.BOX
    pair_distance: float = 0.05
    probe_neighbours: int = 15
    probe_folds: int = 5
    grid_z1: tuple = paper.TABLE_3_GRID[0]
    grid_z2: tuple = paper.TABLE_3_GRID[1]
    grid_points: int = paper.TABLE_3_GRID[2]
    map_limit: float = 3.0
    map_points: int = 61

    def __post_init__(self):
        box = tuple(tuple(float(v) for v in pair) for pair in self.box)
        if len(box) != 2 or any(len(pair) != 2 or not pair[0] < pair[1] for pair in box):
            raise ValueError(f"box must be two increasing (low, high) pairs, got {self.box!r}")
        object.__setattr__(self, "box", box)
        for name in ("grid_z1", "grid_z2"):
            limits = tuple(float(v) for v in getattr(self, name))
            if len(limits) != 2 or not limits[0] <= limits[1]:
                raise ValueError(f"{name} must be (low, high) with low <= high, got {getattr(self, name)!r}")
            object.__setattr__(self, name, limits)
        if not self.pair_distance > 0:
            raise ValueError(f"pair_distance must be positive, got {self.pair_distance!r}")
        for name, smallest in (("probe_neighbours", 1), ("probe_folds", 2), ("grid_points", 1), ("map_points", 2)):
            checks.integer(name, getattr(self, name), minimum=smallest)
        if not self.map_limit > 0:
            raise ValueError(f"map_limit must be positive, got {self.map_limit!r}")


#: Parts of a split whose posterior means the paper draws (1,077 alloys on the paper split).
LATENT_PARTS = ("labelled", "validation", "test")


def latent_summary(model, split: Mapping[str, pd.DataFrame], settings: LatentSettings | None = None) -> pd.Series:
    """Every latent-space number of this module for one model, on one split.

    Parameters
    ----------
    model : SSVAE
        With a 2-D latent space.
    split : mapping
        ``labelled``, ``validation``, ``test`` frames whose features use the
        model's element table.
    settings : LatentSettings, optional

    Returns
    -------
    pandas.Series
        Reconstruction of the test alloys (:func:`reconstruction_summary`:
        ``composition_error_mean``, ``composition_error_max``,
        ``probability_error_mean``, ``latent_error_mean``); on the labelled,
        validation and test alloys together: ``share_in_box``,
        ``opposite_pairs`` (count), ``probe_auc_z``, ``mi_elements`` and
        ``mi_label`` (nats); from the decoder: ``grid_consistent_1`` and
        ``grid_consistent_0`` (shares of the grid), ``plane_consistent_1``
        and ``plane_consistent_0`` (prior-weighted, :func:`consistency_rate`).
    """
    settings = settings or LatentSettings()
    reconstruction = reconstruction_summary(reconstruct_as_authors(model, split["test"])).drop("alloys")
    points = latent_frame(model, {name: split[name] for name in LATENT_PARTS})
    z = points[latent_columns(model.config.z_dim)].to_numpy()
    designs = grid_designs(model, settings.grid_z1, settings.grid_z2, settings.grid_points)
    grid = designs.groupby("y")["consistent"].mean()
    plane = {
        y: consistency_rate(probability_map(model, y, settings.map_limit, settings.map_points)) for y in (1, 0)
    }
    return pd.concat(
        [
            reconstruction,
            pd.Series(
                {
                    "share_in_box": share_in_box(z, settings.box),
                    "opposite_pairs": len(
                        opposite_label_pairs(z, points["label"], points["formula"], settings.pair_distance)
                    ),
                    "probe_auc_z": probe_auc(z, points["label"], settings.probe_folds, settings.probe_neighbours),
                    "mi_elements": mutual_information(z, points["n_elements"]),
                    "mi_label": mutual_information(z, points["label"]),
                    "grid_consistent_1": float(grid.get(1.0, np.nan)),
                    "grid_consistent_0": float(grid.get(0.0, np.nan)),
                    "plane_consistent_1": plane[1],
                    "plane_consistent_0": plane[0],
                }
            ),
        ]
    )


#: The label given to the encoder in each probe control of :func:`probe_controls`.
PROBE_ENCODINGS = ("true label", "predicted label", "y = 1 for all", "y = 0 for all", "marginal over y")


def probe_controls(model, split: Mapping[str, pd.DataFrame], settings: LatentSettings | None = None) -> pd.Series:
    """The probe's AUC when ``z`` is encoded without the true label: does the label leak through ``y`` or ``x``?

    The encoder q(z|x,y) takes the label as an input, so a probe that reads
    the label off ``z`` encoded with the *true* label may only be reading
    that input back. The controls encode the same alloys (the
    :data:`LATENT_PARTS` of ``split``) with the classifier's predicted label,
    with each fixed label, and marginalised over ``y`` (the mean of the two
    posterior means weighted by q(y|e)); if the probe still reads the label
    off these, the label is in ``z`` through the composition itself.

    Returns
    -------
    pandas.Series
        Probe ROC AUC for each of :data:`PROBE_ENCODINGS`.
    """
    settings = settings or LatentSettings()
    alloys = pd.concat([split[name] for name in LATENT_PARTS])
    fractions = alloys[list(ELEMENTS)].to_numpy(dtype=np.float64)
    labels = alloys["label"].to_numpy()
    p = probabilities(model, alloys[list(FEATURES)].to_numpy(dtype=np.float64))
    z1, z0 = encode_means(model, fractions, 1.0), encode_means(model, fractions, 0.0)
    encodings = {
        "true label": encode_means(model, fractions, labels.astype(np.float64)),
        "predicted label": encode_means(model, fractions, (p > 0.5).astype(np.float64)),
        "y = 1 for all": z1,
        "y = 0 for all": z0,
        "marginal over y": p[:, None] * z1 + (1 - p[:, None]) * z0,
    }
    return pd.Series({name: probe_auc(z, labels, settings.probe_folds, settings.probe_neighbours)
                      for name, z in encodings.items()}, name="probe AUC, label from z")


def entropy(values) -> float:
    """Entropy (nats) of the empirical distribution of discrete values: the ceiling of a mutual information."""
    counts = np.unique(np.asarray(values), return_counts=True)[1]
    shares = counts / counts.sum()
    return float(-(shares * np.log(shares)).sum())


def disentanglement(summary: pd.Series, split: Mapping[str, pd.DataFrame],
                    settings: LatentSettings | None = None) -> pd.Series:
    """How much of the label one model's latent means carry, beside what the data carry.

    Reads the model's probe and mutual informations from its
    :func:`latent_summary` (nothing is encoded again) and computes their
    references on the same alloys (the :data:`LATENT_PARTS` of ``split``):
    the same probe reading the label off the compositions ``x``, and the
    entropies that bound each mutual information.

    Parameters
    ----------
    summary : pandas.Series
        :func:`latent_summary` of the model on ``split``.
    split : mapping
        ``labelled``, ``validation``, ``test`` frames.
    settings : LatentSettings, optional
        The probe's folds and neighbours (as for the summary).

    Returns
    -------
    pandas.Series
        ``probe AUC, label from z``, ``probe AUC, label from x``,
        ``I(z; number of elements), nats``, ``H(number of elements), nats``,
        ``I(z; label), nats``, ``H(label), nats``.
    """
    settings = settings or LatentSettings()
    alloys = pd.concat([split[name] for name in LATENT_PARTS])
    fractions = alloys[list(ELEMENTS)].to_numpy(dtype=np.float64)
    labels = alloys["label"].to_numpy()
    return pd.Series(
        {
            "probe AUC, label from z": summary["probe_auc_z"],
            "probe AUC, label from x": probe_auc(fractions, labels, settings.probe_folds, settings.probe_neighbours),
            "I(z; number of elements), nats": summary["mi_elements"],
            "H(number of elements), nats": entropy((fractions > 0).sum(axis=1)),
            "I(z; label), nats": summary["mi_label"],
            "H(label), nats": entropy(labels),
        }
    )
