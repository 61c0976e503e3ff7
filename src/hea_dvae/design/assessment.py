"""The evidence beside every candidate alloy, and the proposals of all routes ranked.

Every candidate gets the same :func:`evidence`: the predictor's mean and
spread, the empirical rules (:mod:`hea_dvae.rules`, on the element table
the rules were calibrated on), the nearest alloys of the dataset, and
:func:`data_flags` saying whether it lies outside the data or is already
known. :func:`rank_candidates` pools what several routes proposed and ranks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .. import rules
from ..compositions import SAME_ALLOY_AT_PCT, as_fractions, composition_distance, formula_on_grid
from ..cache import remember
from ..data import load_dataset
from ..elements import ELEMENTS
from ..features import featurize
from ..predictors import score
from .acquisition import DEFAULT_MIN_DISTANCE, select_batch
from .projection import admitted
from .recipes import recipe_columns
from .tables import describe, stamp

#: A candidate farther from every dataset alloy than this quantile of the
#: dataset's own nearest-neighbour distances is flagged as outside the data
#: (25 at.% on the 1,373 alloys: nine in ten lie closer to their neighbour).
OUTSIDE_QUANTILE = 0.9


#: Table of the features behind the empirical rules: the ``standard`` one, with
#: the metallic radii and Takeuchi–Inoue pair enthalpies the rules' thresholds
#: were calibrated on (δ ≤ 6.6 %, −15 ≤ ΔH_mix ≤ 5 kJ/mol, Ω ≥ 1.1) and s + d
#: VEC, whatever table the predictor's own features use.
RULES_TABLE = rules.DEFAULT_TABLE


@dataclass(frozen=True)
class Reference:
    """What the candidates are compared with: the dataset's alloys, their pairs and distances.

    Attributes
    ----------
    formulas : ndarray of str
    fractions : ndarray (m, 30)
    labels : ndarray (m,) of int
    pairs_seen : ndarray (30, 30) of bool
        Whether two elements occur together in at least one alloy.
    outside_at_pct : float
        A candidate farther than this (at.%) from every alloy is outside the
        data: the :data:`OUTSIDE_QUANTILE` quantile of each alloy's distance
        to its nearest other alloy (leave-one-out).
    sizes : tuple of int
        Fewest and most elements of an alloy of the data.
    """

    formulas: np.ndarray
    fractions: np.ndarray
    labels: np.ndarray
    pairs_seen: np.ndarray
    outside_at_pct: float
    sizes: tuple[int, int]


def outside_threshold(fractions) -> float:
    """The :data:`OUTSIDE_QUANTILE` quantile of each alloy's distance (at.%) to its nearest other alloy."""
    x = np.asarray(fractions, dtype=float)
    distances = composition_distance(x, x)
    np.fill_diagonal(distances, np.inf)
    # Duplicated compositions under two spellings would report distance 0.
    nearest = distances.min(axis=1)
    nearest = nearest[nearest > SAME_ALLOY_AT_PCT]
    return float(np.quantile(nearest, OUTSIDE_QUANTILE))


def reference_from(data: pd.DataFrame, outside_at_pct: float | None = None) -> Reference:
    """A :class:`Reference` built from a tidy dataset (formula, 30 fractions, label).

    ``outside_at_pct`` is :func:`outside_threshold` of the data unless given.
    """
    x = data[list(ELEMENTS)].to_numpy(dtype=float)
    present = (x > 0).astype(float)
    return Reference(
        formulas=data["formula"].to_numpy(dtype=str),
        fractions=x,
        labels=data["label"].to_numpy(dtype=int),
        pairs_seen=(present.T @ present) > 0,
        outside_at_pct=outside_threshold(x) if outside_at_pct is None else float(outside_at_pct),
        sizes=(int(present.sum(axis=1).min()), int(present.sum(axis=1).max())),
    )


@lru_cache(maxsize=1)
def dataset_reference() -> Reference:
    """The :class:`Reference` of the 1,373 alloys of :func:`hea_dvae.data.load_dataset` (cached)."""
    data = load_dataset()
    # All pairwise distances take a few tenths of a second: their threshold is kept on disk.
    stored = remember("dataset-outside-threshold",
                      lambda: {"outside_at_pct": outside_threshold(data[list(ELEMENTS)].to_numpy(dtype=float))})
    return reference_from(data, stored["outside_at_pct"])


def reference_with(alloys: pd.DataFrame) -> Reference:
    """:func:`dataset_reference` with more known alloys (e.g. your own results) beside the dataset's.

    ``alloys`` has ``formula``, the 30 fractions and ``label``. The outside
    threshold stays the dataset's, so that a candidate's ``outside_data``
    flag means the same with and without your alloys.
    """
    columns = ["formula", *ELEMENTS, "label"]
    data = pd.concat([load_dataset()[columns], alloys[columns]], ignore_index=True)
    return reference_from(data, dataset_reference().outside_at_pct)


def evidence(frame_or_fractions, predictor, reference: Reference | None = None, neighbours: int = 3) -> pd.DataFrame:
    """The evidence beside candidate alloys, one row per candidate.

    Parameters
    ----------
    frame_or_fractions : DataFrame, array-like (n, 30) or list of formulas
        Candidates: a frame with the 30 element columns (or a ``formula``
        column), fraction rows, or formulas.
    predictor : Ensemble
        Gives ``p_single_phase`` (mean over members) and ``spread`` (std).
    reference : Reference, optional
        The alloys to compare with; default :func:`dataset_reference`.
    neighbours : int
        Nearest alloys listed.

    Returns
    -------
    DataFrame, index of the input frame (else 0..n-1)
        ``p_single_phase``, ``spread``;
        the empirical rules on the features of :data:`RULES_TABLE`
        (``standard``: the radii and enthalpies the rules were calibrated on)
        (:func:`hea_dvae.rules.rules_verdict`, every column prefixed
        ``rules_``): ``rules_omega``, ``rules_delta``, ``rules_vec``,
        ``rules_delta_h_mix``, ``rules_delta_s_mix``, the verdicts
        ``rules_yang2012``, ``rules_zhang2008``, ``rules_guo2011``,
        ``rules_vec_phase`` and the overall ``rules_single_phase``;
        ``nearest`` (text: formula, label and distance of the nearest
        alloys), ``nearest_formula``, ``nearest_label``,
        ``distance_to_data`` (at.%, :func:`composition_distance`);
        ``unseen_pairs`` (element pairs that never occur together in the
        data) and ``n_unseen_pairs``; ``outside_data`` (farther than the
        reference's threshold, or any unseen pair); ``in_dataset`` (within
        :data:`SAME_ALLOY_AT_PCT` of a dataset alloy) and ``dataset_label``
        (its label, else missing).
    """
    reference = dataset_reference() if reference is None else reference
    x = as_fractions(frame_or_fractions)
    index = frame_or_fractions.index if isinstance(frame_or_fractions, pd.DataFrame) else pd.RangeIndex(len(x))
    p, spread = score(predictor, x)
    out = pd.DataFrame({"p_single_phase": p, "spread": spread}, index=index)
    if not len(x):
        return out
    verdict = rules.rules_verdict(featurize(x, table=RULES_TABLE))
    # Prefixed: the model's own features (of its table) may sit beside them.
    verdict = verdict.add_prefix("rules_")
    verdict.index = index
    out = out.join(verdict)
    flags = data_flags(x, reference, neighbours)
    flags.index = index
    out = out.join(flags)
    out.attrs["outside_at_pct"] = reference.outside_at_pct
    return out


def data_flags(fractions, reference: Reference | None = None, neighbours: int = 3) -> pd.DataFrame:
    """Where alloys stand with respect to the data a model was trained on, one row per alloy.

    Parameters
    ----------
    fractions : array-like (n, 30)
    reference : Reference, optional
        Default :func:`dataset_reference`.
    neighbours : int
        Nearest alloys listed in ``nearest``.

    Returns
    -------
    DataFrame (index 0..n-1)
        ``nearest`` (text: formula, label and distance of the nearest
        alloys), ``nearest_formula``, ``nearest_label``,
        ``distance_to_data`` (at.%, :func:`composition_distance`);
        ``unseen_pairs`` (element pairs that never occur together in the
        data) and ``n_unseen_pairs``; ``outside_data``: farther than the
        reference's threshold, any unseen pair, or a number of elements no
        alloy of the data has (a pure element: the data hold none);
        ``in_dataset`` (within :data:`SAME_ALLOY_AT_PCT` of a dataset alloy)
        and ``dataset_label`` (its label, else missing).
    """
    reference = dataset_reference() if reference is None else reference
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    out = pd.DataFrame(index=pd.RangeIndex(len(x)))
    if not len(x):
        return out
    distances = composition_distance(x, reference.fractions)
    order = np.argsort(distances, axis=1, kind="stable")[:, :neighbours]
    nearest_d = np.take_along_axis(distances, order, axis=1)
    names = {0: "multi", 1: "single"}
    out["nearest"] = [
        "; ".join(f"{reference.formulas[j]} ({names[reference.labels[j]]}, {d:.1f})" for j, d in zip(row, drow))
        for row, drow in zip(order, nearest_d)
    ]
    out["nearest_formula"] = reference.formulas[order[:, 0]]
    out["nearest_label"] = reference.labels[order[:, 0]]
    out["distance_to_data"] = nearest_d[:, 0]

    unseen = []
    for row in x:
        present = np.flatnonzero(row > 0)
        unseen.append([f"{ELEMENTS[i]}-{ELEMENTS[j]}" for k, i in enumerate(present) for j in present[k + 1:]
                       if not reference.pairs_seen[i, j]])
    out["unseen_pairs"] = [" ".join(pairs) for pairs in unseen]
    out["n_unseen_pairs"] = [len(pairs) for pairs in unseen]
    sizes = (x > 0).sum(axis=1)
    size_unseen = (sizes < reference.sizes[0]) | (sizes > reference.sizes[1])
    out["outside_data"] = (out["distance_to_data"] > reference.outside_at_pct) | (out["n_unseen_pairs"] > 0) \
        | size_unseen
    out["in_dataset"] = out["distance_to_data"] <= SAME_ALLOY_AT_PCT
    out["dataset_label"] = pd.array(np.where(out["in_dataset"], out["nearest_label"], 0), dtype="Int64")
    out.loc[~out["in_dataset"], "dataset_label"] = pd.NA
    return out


def with_evidence(frame: pd.DataFrame, predictor, batch_grams: float | None = None, **kwargs) -> pd.DataFrame:
    """``frame`` with :func:`evidence` (and, given a batch mass, :func:`recipe_columns`) joined.

    The frame's own ``p_single_phase`` and ``spread`` are kept when it has
    them (a screen ranks by its own scores); the 30 element columns move to
    the end; ``attrs`` are kept.
    """
    found = evidence(frame, predictor, **kwargs)
    found = found.drop(columns=[c for c in found.columns if c in frame.columns])
    elements = [c for c in frame.columns if c in ELEMENTS]
    kept = frame
    out = kept.drop(columns=elements).join(found)
    if batch_grams is not None:
        out = out.join(recipe_columns(frame, batch_grams))
    out = out.join(kept[elements])
    out.attrs = dict(frame.attrs)
    if batch_grams is not None:
        out.attrs.setdefault("parameters", {})["batch_grams"] = float(batch_grams)
    return out


def rank_candidates(
    candidates: dict,
    predictor,
    constraints=None,
    batch_grams: float | None = None,
    include_dataset: bool = False,
    inside_first: bool = True,
    top: int | None = None,
    reference: Reference | None = None,
    min_distance: float = DEFAULT_MIN_DISTANCE,
) -> pd.DataFrame:
    """Pool the alloys several routes proposed, score them with one predictor, rank them.

    Parameters
    ----------
    candidates : dict
        route name -> frame of alloys (the 30 element columns, or ``formula``).
    predictor : Ensemble
        Scores every alloy afresh (the routes may have used another model).
    constraints : Constraints or mapping, optional
        Keep only the alloys they admit.
    batch_grams : float, optional
        Add a recipe for this batch mass.
    include_dataset : bool
        Keep alloys already in the dataset (by default they are dropped:
        they are not proposals).
    inside_first : bool
        Rank the alloys that are not ``outside_data`` first: a probability
        far from any known alloy is an extrapolation, whatever its value.
    top : int, optional
        Keep the best ``top``.
    reference : Reference, optional
        For the evidence; default :func:`dataset_reference`.
    min_distance : float
        Diverse proposals: an alloy closer than this (at.%) to one ranked
        above it is left out (0 keeps them all).

    Returns
    -------
    DataFrame indexed by ``rank`` (from 1)
        ``formula``, ``routes`` (every route that proposed the alloy),
        ``p_single_phase``, ``spread``, the :func:`evidence` columns, the
        recipe, the 30 fractions; highest probability first (ties: smaller
        spread first), after the alloys inside the data if ``inside_first``.
    """
    pieces = []
    for route, frame in candidates.items():
        x = as_fractions(frame)
        formulas = frame["formula"].tolist() if "formula" in frame else [formula_on_grid(r, 0.001) for r in x]
        piece = pd.DataFrame(x, columns=list(ELEMENTS))
        piece.insert(0, "formula", formulas)
        piece.insert(1, "route", route)
        pieces.append(piece[np.isfinite(x).all(axis=1)])
    pooled = pd.concat(pieces, ignore_index=True)
    key = pooled[list(ELEMENTS)].round(9).apply(tuple, axis=1)
    routes = pooled.groupby(key, sort=False)["route"].agg(lambda r: ", ".join(dict.fromkeys(r)))
    pooled = pooled.loc[~key.duplicated()].copy()
    pooled["route"] = key[pooled.index].map(routes).to_numpy()
    pooled = pooled.rename(columns={"route": "routes"}).reset_index(drop=True)
    if constraints is not None:
        pooled = pooled[admitted(pooled[list(ELEMENTS)].to_numpy(), constraints)].reset_index(drop=True)
    ranked = with_evidence(pooled, predictor, batch_grams=batch_grams, reference=reference)
    if not include_dataset:
        ranked = ranked[~ranked["in_dataset"]]
    keys, ascending = ["p_single_phase", "spread"], [False, True]
    if inside_first:
        keys, ascending = ["outside_data", *keys], [True, *ascending]
    ranked = ranked.sort_values(keys, ascending=ascending, kind="stable")
    if min_distance > 0 and len(ranked):
        kept = select_batch(ranked[list(ELEMENTS)].to_numpy(), -np.arange(len(ranked), dtype=float),
                            n=len(ranked), min_distance=min_distance, same_element_set=True)
        ranked = ranked.iloc[np.sort(kept)]
    ranked = ranked.head(top) if top is not None else ranked
    ranked.index = pd.RangeIndex(1, len(ranked) + 1, name="rank")
    return stamp(ranked, predictor, route="proposals", routes=list(candidates), constraints=describe(constraints),
                 batch_grams=batch_grams, include_dataset=include_dataset, inside_first=inside_first, top=top,
                 min_distance=min_distance)


def independent_judges(seeds=range(5, 10), epochs: int | None = None) -> dict:
    """Models that took no part in a design's optimisation, to judge its end points.

    A design optimised against one ensemble is bound to score well by that
    ensemble; these judge it independently: an ensemble of the default
    recipe with other seeds (``seeds``, none of the default predictor's;
    ``epochs`` changes the recipe's, as a smoke profile does), the authors'
    released model, and a random forest on the labelled alloys' features
    (the default predictor's table, :data:`hea_dvae.zoo.DEFAULT_TABLE`).
    """
    from ..baselines import fitted_forest
    from ..data import paper_split, split_with_table
    from ..predictors import released_predictor
    from ..train import TrainConfig
    from ..zoo import DEFAULT_SEEDS, DEFAULT_TABLE, seed_ensemble

    seeds = list(seeds)
    overlap = sorted(set(seeds) & set(DEFAULT_SEEDS))
    if overlap:
        raise ValueError(f"seeds {overlap} are members of the default predictor: an independent judge needs others")
    split = split_with_table(paper_split(), DEFAULT_TABLE)
    config = TrainConfig.with_table(DEFAULT_TABLE, **({} if epochs is None else {"epochs": epochs}))
    held_out, _ = seed_ensemble(split, config, seeds, name=f"ours, seeds {seeds[0]}-{seeds[-1]}")
    return {held_out.name: held_out, "released (authors)": released_predictor(),
            "random forest": fitted_forest(split, DEFAULT_TABLE)}


def judged(frame: pd.DataFrame, judges: dict, target: float) -> pd.DataFrame:
    """Each design of ``frame`` (a ``formula`` column) scored by every judge: p and whether it reaches ``target``.

    Returns
    -------
    DataFrame
        ``frame``'s rows with ``p (<judge>)`` per judge and ``reached (<judge>)``.
    """
    out = frame.copy()
    fractions = as_fractions(list(frame["formula"]))
    for name, judge in judges.items():
        p, _ = score(judge, fractions)
        out[f"p ({name})"] = p
        out[f"reached ({name})"] = p >= target
    return out
