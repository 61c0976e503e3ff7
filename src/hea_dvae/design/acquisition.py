r"""Which alloys to make next: acquisition values, and a batch that is diverse.

A lab casts a few alloys per round. Which ones, out of the candidates a
predictor has scored (mean probability :math:`p` of a single phase over an
ensemble's members, and their spread :math:`s`)? Four strategies:

``greedy``
    The highest :math:`p`: exploit what the model believes.
``uncertain``
    The members disagree most (the highest :math:`s`; with one member, the
    :math:`p` nearest 0.5): learn where the model is unsure.
``balanced`` (the default)
    An upper confidence bound over the ensemble, :math:`p + \kappa s`
    (:math:`\kappa` = :data:`DEFAULT_KAPPA`): a likely single phase, or a
    plausible one the members disagree on. The rank-based acquisition of
    Rao et al. (Science 2022) for Invar alloys is of this kind.
``random``
    A seeded random order: the baseline a strategy must beat.

:func:`select_batch` then takes candidates in order of their value, keeping
one only if it is at least ``min_distance`` at.% from every one already
taken (:func:`hea_dvae.compositions.composition_distance`) and, unless
asked otherwise, of another element set: a batch of eight variations of one
alloy teaches the model (and the lab) little.
"""

from __future__ import annotations

import numpy as np

from ..checks import integer, number
from ..compositions import composition_distance

STRATEGIES = ("balanced", "greedy", "uncertain", "random")

#: Weight of the spread in the balanced strategy (one standard deviation of the members).
DEFAULT_KAPPA = 1.0

#: Two alloys of a batch are at least this far apart (at.% of material moved), by default:
#: at 5 at.% a batch filled with near-copies (Ni10Al35Ti35V20 beside Ni5Co5Al35Ti35V20),
#: which would teach a lab little more than one of them.
DEFAULT_MIN_DISTANCE = 10.0


def acquisition_values(p, spread, strategy: str = "balanced", kappa: float = DEFAULT_KAPPA,
                       seed: int = 0) -> np.ndarray:
    """The value of casting each candidate under ``strategy`` (higher first).

    Parameters
    ----------
    p, spread : array-like (n,)
        Mean probability of a single phase and the members' spread (NaN
        for a single model: it counts as no spread).
    strategy : {"balanced", "greedy", "uncertain", "random"}
    kappa : float
        Weight of the spread in ``"balanced"``.
    seed : int
        Seed of ``"random"``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    number("kappa", kappa, 0)
    integer("seed", seed, 0)
    p = np.asarray(p, dtype=float).reshape(-1)
    spread = np.asarray(spread, dtype=float).reshape(-1)
    if p.shape != spread.shape:
        raise ValueError(f"{len(p)} probabilities but {len(spread)} spreads")
    no_spread = np.isnan(spread).all()
    spread = np.nan_to_num(spread, nan=0.0)
    if strategy == "greedy":
        return p.copy()
    if strategy == "balanced":
        return p + kappa * spread
    if strategy == "uncertain":
        return -np.abs(p - 0.5) if no_spread else spread
    return np.random.default_rng(seed).random(len(p))


def select_batch(fractions, values, n: int, min_distance: float = DEFAULT_MIN_DISTANCE,
                 same_element_set: bool = False) -> np.ndarray:
    """Indices of a diverse batch: the most valuable candidates, far enough apart.

    Candidates are taken in order of ``values`` (ties: the one listed first);
    one is skipped when it lies closer than ``min_distance`` at.% to one
    already taken, or (unless ``same_element_set``) has the same set of
    elements as one already taken.

    Parameters
    ----------
    fractions : array-like (m, 30)
    values : array-like (m,)
    n : int
        Alloys wanted; fewer come back when the candidates run out.
    min_distance : float
        Least distance in at.% between two alloys of the batch.
    same_element_set : bool
        Allow two alloys of one element set.
    """
    integer("n", n, 1)
    number("min_distance", min_distance, 0)
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    values = np.asarray(values, dtype=float).reshape(-1)
    if len(values) != len(x):
        raise ValueError(f"{len(x)} candidates but {len(values)} values")
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    sets = [frozenset(np.flatnonzero(row > 0)) for row in x]
    taken: list[int] = []
    for index in order:
        if len(taken) == n:
            break
        if taken:
            if min_distance > 0 and composition_distance(x[index], x[taken]).min() < min_distance:
                continue
            if not same_element_set and any(sets[index] == sets[t] for t in taken):
                continue
        taken.append(int(index))
    return np.asarray(taken, dtype=int)
