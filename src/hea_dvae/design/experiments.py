r"""Which alloys to make next: a diverse batch from a constrained space, chosen by an acquisition.

:func:`next_experiments` scores every alloy of a constrained space (the
screen's enumeration, :func:`~hea_dvae.design.screen.iter_compositions`)
with a predictor (mean probability :math:`p` of a single phase and the
spread :math:`s` of its members), values each by a strategy
(:func:`~hea_dvae.design.acquisition.acquisition_values`: ``balanced``
:math:`p + \kappa s` by default, ``greedy``, ``uncertain`` or ``random``),
leaves out the alloys already known (the dataset, and your own results when
given), and takes the most valuable ones that are far enough apart
(:func:`~hea_dvae.design.acquisition.select_batch`: no two closer than
``min_distance`` at.%, no two of one element set unless
``same_element_set``).

The space may hold hundreds of millions of alloys, so it is streamed batch
by batch and only a pool of the most valuable candidates is kept: the
``pool`` best, and at most ``per_set`` of each element set when a batch may
hold one alloy per set. The batch chosen from the pool is the one
:func:`select_batch` would choose from the whole space: when the pool could
hide an alloy that would have been chosen (fewer than ``n`` alloys found
while candidates were dropped, or an element set all of whose kept
candidates were refused while it had more), the space is scored again with
a pool :data:`GROWTH` times larger.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..checks import integer
from ..compositions import SAME_ALLOY_AT_PCT, composition_distance, formula_from_vector
from ..elements import ELEMENTS, FEATURES
from ..predictors import spread_of
from .acquisition import DEFAULT_KAPPA, DEFAULT_MIN_DISTANCE, acquisition_values, select_batch
from .assessment import Reference, dataset_reference
from .constraints import ConstraintError, as_constraints
from .screen import COMPILED_FROM, Scorer, count_space, iter_compositions
from .screen.space import DEFAULT_BATCH_SIZE
from .tables import describe, stamp

#: Candidates kept per alloy wanted, at first.
POOL_PER_ALLOY = 64
#: Candidates of one element set kept, at first, when a batch holds one alloy per set.
PER_SET = 4
#: How much larger the pool gets when it was too small to be sure of the batch.
GROWTH = 16
#: Largest pool; past it, the batch is what the pool gave (with a note in ``attrs``).
MAX_POOL = 1_000_000

#: Powers of two that turn an alloy's element set into one integer.
_SET_BITS = np.left_shift(np.int64(1), np.arange(len(ELEMENTS), dtype=np.int64))


def _set_keys(x: np.ndarray) -> np.ndarray:
    return (x > 0).astype(np.int64) @ _SET_BITS


def _order(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions by value (highest first), ties by the space's order: the order select_batch takes."""
    return np.lexsort((ids, -np.nan_to_num(values, nan=-np.inf)))


def _best(keys, values, ids, pool: int, per_set: int | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Positions of the ``pool`` best after at most ``per_set`` per element set, in value order.

    Also the keys of the sets that lost candidates to ``per_set``, and
    whether the ``pool`` cut dropped any.
    """
    order = _order(values, ids)
    capped = np.zeros(0, dtype=np.int64)
    if per_set is not None and len(order):
        sorted_keys = keys[order]
        within = pd.Series(sorted_keys).groupby(sorted_keys, sort=False).cumcount().to_numpy()
        capped = np.unique(sorted_keys[within >= per_set])
        order = order[within < per_set]
    return order[:pool], capped, len(order) > pool


class _Pool:
    """The most valuable candidates seen so far, none of them a known alloy."""

    def __init__(self, size: int, per_set: int | None, known: np.ndarray):
        self.size, self.per_set, self.known = size, per_set, known
        self.x = np.zeros((0, len(ELEMENTS)))
        self.p, self.spread, self.values = np.zeros(0), np.zeros(0), np.zeros(0)
        self.ids, self.keys = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        self.capped: set[int] = set()
        self.dropped = False
        self.known_skipped = 0

    def add(self, x, p, spread, values, ids) -> None:
        """Offer a batch of candidates (``ids`` after every id offered before)."""
        if len(self.values) >= self.size:
            # A full pool takes only what beats its last: anything else would
            # follow at least `size` candidates however the cap falls.
            better = np.nan_to_num(values, nan=-np.inf) > self.values[-1]
            self.dropped |= not better.all()
            x, p, spread, values, ids = (a[better] for a in (x, p, spread, values, ids))
            if not len(ids):
                return
        keys = _set_keys(x)
        alive = np.ones(len(x), dtype=bool)
        checked = np.zeros(len(x), dtype=bool)
        # Known alloys are removed before the cuts (they must not take a
        # set's places); only candidates that reach the pool are checked.
        while True:
            live = np.flatnonzero(alive)
            kept, capped, dropped = _best(keys[live], values[live], ids[live], self.size, self.per_set)
            kept = live[kept]
            new = kept[~checked[kept]]
            checked[new] = True
            known = self._is_known(x[new])
            if not known.any():
                break
            alive[new[known]] = False
            self.known_skipped += int(known.sum())
        self.capped.update(capped.tolist())
        self.dropped |= dropped
        self._merge(x[kept], p[kept], spread[kept], values[kept], ids[kept], keys[kept])

    def _is_known(self, x) -> np.ndarray:
        if not len(x) or not len(self.known):
            return np.zeros(len(x), dtype=bool)
        return composition_distance(x, self.known).min(axis=1) <= SAME_ALLOY_AT_PCT

    def _merge(self, x, p, spread, values, ids, keys) -> None:
        joined = [np.concatenate(pair) for pair in ((self.x, x), (self.p, p), (self.spread, spread),
                                                     (self.values, values), (self.ids, ids), (self.keys, keys))]
        kept, capped, dropped = _best(joined[5], joined[3], joined[4], self.size, self.per_set)
        self.capped.update(capped.tolist())
        self.dropped |= dropped
        self.x, self.p, self.spread, self.values, self.ids, self.keys = (a[kept] for a in joined)

    def sure(self, chosen: np.ndarray, n: int) -> bool:
        """Whether the whole space would give the same batch as the pool did."""
        if len(chosen) < n:
            return not (self.dropped or self.capped)
        if self.per_set is None or not self.capped:
            return True
        # A set that lost candidates to the cap could still have given one,
        # if none of it was chosen and all its kept candidates came before
        # the last one chosen (each was refused, the next might not be).
        # The pool is in the order select_batch takes it: positions are turns.
        last = int(chosen.max())
        chosen_sets = set(self.keys[chosen].tolist())
        for key in self.capped - chosen_sets:
            positions = np.flatnonzero(self.keys == key)
            if len(positions) >= self.per_set and positions.max() < last:
                return False
        return True


def _why(strategy: str, p: float, spread: float, value: float, kappa: float) -> str:
    """Why an alloy was chosen, in a few words."""
    one_model = np.isnan(spread)
    if strategy == "greedy":
        return f"highest p: {p:.2f}"
    if strategy == "uncertain":
        if one_model:
            return f"most uncertain: p {p:.2f}, near 0.5 (one model, no spread)"
        return f"most uncertain: members disagree by {spread:.2f} (p {p:.2f})"
    if strategy == "balanced":
        if one_model:
            return f"balanced: p {p:.2f} (one model, no spread: as greedy)"
        return f"balanced: p {p:.2f} ± {spread:.2f} (p + {kappa:g} spread = {value:.2f})"
    return f"random draw (baseline): p {p:.2f}"


def next_experiments(
    predictor,
    constraints,
    n: int = 8,
    strategy: str = "balanced",
    min_distance: float = DEFAULT_MIN_DISTANCE,
    same_element_set: bool = False,
    kappa: float = DEFAULT_KAPPA,
    seed: int = 0,
    reference: Reference | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> pd.DataFrame:
    """A diverse batch of alloys to make next, from every alloy the constraints admit.

    Parameters
    ----------
    predictor : Predictor
        Scores the alloys (an Ensemble, one SSVAE, the screen's Scorer); its
        members' spread is the uncertainty (NaN with one member: then
        ``balanced`` is ``greedy`` and ``uncertain`` takes p nearest 0.5).
    constraints : Constraints, mapping or path
        The space (as :func:`hea_dvae.design.screen.screen` reads it).
    n : int
        Alloys wanted; fewer come back when the space runs out of alloys
        that keep the rules (``attrs["parameters"]["found"]`` says how many).
    strategy : {"balanced", "greedy", "uncertain", "random"}
        See :mod:`hea_dvae.design.acquisition`; ``balanced`` (the default)
        is :math:`p + \\kappa s`: a likely single phase, or a plausible one
        the members disagree on, so that every alloy cast either is a find
        or teaches the model where it is least sure.
    min_distance : float
        Least distance between two alloys of the batch (at.%, see
        :func:`hea_dvae.compositions.composition_distance`).
    same_element_set : bool
        Allow two alloys of one element set.
    kappa : float
        Weight of the spread in ``balanced``.
    seed : int
        Seed of ``random`` (with the space's order and ``batch_size``).
    reference : Reference, optional
        The known alloys, never proposed: default the dataset's
        (:func:`dataset_reference`); :func:`reference_with` adds your own.
    batch_size : int
        Alloys scored at once.

    Returns
    -------
    DataFrame
        One row per alloy, in the order chosen: ``rank`` (from 1),
        ``formula`` (at.%), ``p_single_phase``, ``spread``, ``acquisition``
        (the strategy's value), ``why``, ``n_elements``, the 8 features and
        the 30 fractions. ``attrs`` holds the model and the parameters
        (:func:`hea_dvae.design.stamp`), with ``alloys`` (the size of the
        space), ``known_skipped`` (known alloys met among the best) and
        ``found``.

    Raises
    ------
    ValueError
        Bad parameters, or a space without any alloy (ConstraintError).
    """
    n = integer("n", n, 1)
    # Checks strategy, kappa and seed before any work.
    acquisition_values(np.zeros(0), np.zeros(0), strategy, kappa, seed)
    select_batch(np.zeros((0, len(ELEMENTS))), np.zeros(0), n, min_distance, same_element_set)
    integer("batch_size", batch_size, 1)
    scorer = Scorer.from_predictor(predictor)
    constraints = as_constraints(constraints)
    alloys = count_space(constraints)
    if alloys == 0:
        raise ConstraintError(f"no alloy in this space ({constraints.describe()}): no equimolar alloy fits the "
                              "bounds; give a step to search a composition grid")
    reference = dataset_reference() if reference is None else reference

    # The compiled softplus (same bits) pays for its compilation on large spaces, as in the screen.
    compiled = alloys * scorer.n_members >= COMPILED_FROM
    size, per_set = POOL_PER_ALLOY * n, (None if same_element_set else PER_SET)
    while True:
        pool = _Pool(size, per_set, reference.fractions)
        start = 0
        for number, x in enumerate(iter_compositions(constraints, batch_size)):
            members = scorer.member_probabilities(scorer.featurize(x), compiled=compiled)
            p, spread = members.mean(axis=0), spread_of(members)
            batch_seed = int(np.random.SeedSequence([seed, number]).generate_state(1)[0])
            values = acquisition_values(p, spread, strategy, kappa, batch_seed)
            pool.add(x, p, spread, values, start + np.arange(len(x), dtype=np.int64))
            start += len(x)
        chosen = select_batch(pool.x, pool.values, n, min_distance, same_element_set)
        sure = pool.sure(chosen, n)
        if sure or size >= MAX_POOL or (size >= alloys and (per_set is None or per_set >= alloys)):
            break
        size = min(size * GROWTH, MAX_POOL)
        per_set = None if per_set is None else per_set * GROWTH

    x = pool.x[chosen]
    frame = pd.DataFrame({
        "rank": np.arange(1, len(chosen) + 1),
        "formula": [formula_from_vector(row) for row in x],
        "p_single_phase": pool.p[chosen],
        "spread": pool.spread[chosen],
        "acquisition": pool.values[chosen],
        "why": [_why(strategy, *values, kappa) for values in zip(pool.p[chosen], pool.spread[chosen],
                                                                   pool.values[chosen])],
        "n_elements": (x > 0).sum(axis=1),
    })
    frame = pd.concat([frame, pd.DataFrame(np.asarray(scorer.featurize(x)).reshape(-1, len(FEATURES)),
                                           columns=list(FEATURES)),
                       pd.DataFrame(x, columns=list(ELEMENTS))], axis=1)
    return stamp(frame, predictor, route="next", strategy=strategy, n=n, min_distance=float(min_distance),
                 same_element_set=bool(same_element_set), kappa=float(kappa) if strategy == "balanced" else None,
                 seed=int(seed) if strategy == "random" else None, constraints=describe(constraints),
                 alloys=int(alloys), known=int(len(reference.fractions)), known_skipped=pool.known_skipped,
                 found=int(len(chosen)), exact=bool(sure))
