r"""The design loop, simulated on the data: propose, cast, learn, propose again.

A lab does not meet a model once. It casts a few alloys, measures them,
gives the results back to the model and asks again. This module plays that
loop on the dataset, whose labels stand in for the furnace:

1. **Start.** A small labelled set: ``initial_share`` of the *pool*
   (the paper split's labelled and unlabelled alloys, 1,160 on the full
   data), drawn stratified by label, afresh for each repeat
   (:func:`initial_labelled`). The other pool alloys are the candidates;
   their labels stay hidden.
2. **Train.** A model on the labelled alloys (:data:`MODELS`): the SSVAE,
   which also reads every candidate's composition and features without its
   label; the same classifier network trained alone; or a random forest.
   Each is an ensemble, so that it has a spread: a seed ensemble of
   ``members`` for the networks, the trees for the forest.
3. **Propose.** Score every candidate (mean probability :math:`p` of a
   single phase, spread :math:`s` of the members), value it by a strategy
   and take a diverse batch, with the functions ``hea-dvae design next``
   uses (:func:`hea_dvae.design.acquisition.acquisition_values` and
   :func:`~hea_dvae.design.acquisition.select_batch`: no two alloys closer
   than ``min_distance`` at.%, none of one element set).
4. **Cast.** Reveal the batch's true labels, add them to the labelled set,
   and go back to 2, for ``rounds`` rounds.

What is measured, after each round :math:`r`: the single-phase alloys found
per alloy cast so far (``found_per_cast``, the lab's yield) and the ROC AUC
of the model trained on what was known, on the paper's test alloys
(``auc``). The test alloys are never trained on, proposed or used to choose
anything; no candidate repeats the composition of a test or validation
alloy (those are left out of the pool, :func:`loop_data`), and an alloy
whose composition is already labelled is never proposed. The networks
choose their snapshot on the paper's validation alloys, as every SSVAE of
the book does (:mod:`hea_dvae.recipe`).

Every arm (repeat, model, strategy) of one repeat starts from the same
labelled set, and the networks of a repeat share their seeds, so arms are
compared repeat by repeat (:func:`paired_difference`).

How it runs
-----------
The networks of one round, every arm and member, are trained together in
two batched computations (:func:`hea_dvae.batched.fit_many`), the SSVAEs'
and the classifiers'; the classifier alone is the SSVAE recipe without
unlabelled alloys (as in :mod:`hea_dvae.ablation`: its parameters are
disjoint from the VAE's, so its only loss is the cross-entropy). The arms are dealt to ``workers`` worker
processes (:mod:`hea_dvae.workers`), each running its arms through every
round. A run's result does not depend on the runs beside it, so the results
do not depend on ``workers``. The results are cached under
``$HEA_DVAE_CACHE_DIR/loop``, keyed by the data, the settings and the
package's source code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from . import config as paths
from . import metrics
from .baselines import sklearn_baselines
from .batched import TRAINER, Run, fit_many
from .cache import source_digest
from .checks import integer, number
from .compositions import SAME_ALLOY_AT_PCT, composition_distance
from .data import as_arrays, split_with_table
from .design.acquisition import (
    DEFAULT_KAPPA,
    DEFAULT_MIN_DISTANCE,
    STRATEGIES,
    acquisition_values,
    select_batch,
)
from .elements import ELEMENTS
from .predictors import spread_of
from .recipe import TrainConfig
from .scores import roc_auc
from .workers import run as run_in_workers

#: The models a loop can learn with.
MODELS: tuple[str, ...] = ("ssvae", "classifier", "forest")

#: Their names in tables and figures.
MODEL_NAMES = {
    "ssvae": "SSVAE (with unlabelled alloys)",
    "classifier": "classifier network alone",
    "forest": "random forest",
}

#: Columns of :attr:`LoopResult.results`, one row per arm and round.
RESULT_COLUMNS = ("repeat", "model", "strategy", "round", "labelled", "cast", "found", "found_per_cast", "auc")


@dataclass(frozen=True)
class LoopConfig:
    """How each loop runs.

    Attributes
    ----------
    initial_share : float
        Labelled share of the pool at the start, in (0, 1), drawn stratified
        by label.
    batch : int
        Alloys cast per round.
    rounds : int
        Rounds of casting.
    members : int
        Seeds of the networks' ensembles (their spread is the uncertainty).
    trees : int
        Trees of the random forest (their spread is its uncertainty).
    train_config : TrainConfig
        The SSVAE's recipe (usually the default with fewer epochs).
    head_epochs : int
        Epochs of the classifier network trained alone (one or two Adam
        steps each: it sees only the labelled alloys).
    head_eval_every : int
        Its snapshot is chosen on the validation alloys every this many
        epochs.
    kappa : float
        Weight of the spread in the ``balanced`` strategy.
    min_distance : float
        Least distance between two alloys of a batch (at.%).
    same_element_set : bool
        Allow two alloys of one element set in a batch.
    min_elements : int
        Only alloys of at least this many elements are proposed (a lab
        after high-entropy alloys casts no binaries); every pool alloy
        still trains the models, and the starting set is drawn from all.
    """

    initial_share: float = 0.05
    batch: int = 8
    rounds: int = 10
    members: int = 3
    trees: int = 50
    train_config: TrainConfig = field(
        default_factory=lambda: TrainConfig.with_table("standard", epochs=20, eval_every=2))
    head_epochs: int = 50
    head_eval_every: int = 5
    kappa: float = DEFAULT_KAPPA
    min_distance: float = DEFAULT_MIN_DISTANCE
    same_element_set: bool = False
    min_elements: int = 1

    def __post_init__(self):
        number("initial_share", self.initial_share, 0, 1, low_open=True, high_open=True)
        for name in ("batch", "rounds", "members", "trees", "head_epochs", "head_eval_every", "min_elements"):
            integer(name, getattr(self, name), 1)
        number("kappa", self.kappa, 0)
        number("min_distance", self.min_distance, 0)
        if not isinstance(self.train_config, TrainConfig):
            raise TypeError(f"train_config must be a TrainConfig, got {type(self.train_config).__name__}")

    @property
    def table(self) -> str:
        """The element table of the features the networks read."""
        return self.train_config.model.table

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["train_config"] = self.train_config.to_dict()
        return out


@dataclass(frozen=True)
class LoopData:
    """The alloys a loop plays with.

    Attributes
    ----------
    pool : DataFrame
        The candidates with their true labels (revealed only when cast),
        sorted by their index in the dataset.
    validation, test : DataFrame
        The paper's validation alloys (the networks' snapshots are chosen on
        them) and the alloys scored after each round, never proposed or
        trained on: the paper's test alloys (:func:`loop_data`), or the
        held-out alloy systems of one grouped fold
        (:func:`grouped_loop_data`).
    table : str
        The element table of the feature columns.
    dropped : int
        Alloys of the split's labelled and unlabelled parts left out of the
        pool because their composition is that of a validation or test alloy.
    held_out : int
        Alloys of the pool left out as one grouped fold's systems
        (:func:`grouped_loop_data`; 0 otherwise): those scored and those
        left out because their system is also a validation or test
        alloy's.
    """

    pool: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    table: str
    dropped: int
    held_out: int = 0


def loop_data(split, table: str = "paper") -> LoopData:
    """The pool, validation and test alloys of ``split``, with the features of ``table``.

    The pool is ``split["labelled"]`` and ``split["unlabelled"]`` together
    (their labels are kept: the loop reveals them), without the alloys whose
    composition is within :data:`~hea_dvae.compositions.SAME_ALLOY_AT_PCT`
    of a validation or test alloy: casting one would reveal a known label.
    Every part is sorted by its index, so that the loop does not depend on
    the order the alloys come in.

    Raises
    ------
    ValueError
        A part is missing, or two pool alloys share an index.
    """
    missing = [part for part in ("labelled", "unlabelled", "validation", "test") if part not in split]
    if missing:
        raise ValueError(f"the split has no part(s) {missing}")
    split = split_with_table({part: split[part] for part in ("labelled", "unlabelled", "validation", "test")}, table)
    pool = pd.concat([split["labelled"], split["unlabelled"]])
    if not pool.index.is_unique:
        raise ValueError("two alloys of the labelled and unlabelled parts share an index; give each its own")
    known = pd.concat([split["validation"], split["test"]])[list(ELEMENTS)].to_numpy(float)
    x = pool[list(ELEMENTS)].to_numpy(float)
    repeats_known = (composition_distance(x, known).min(axis=1) <= SAME_ALLOY_AT_PCT) if len(known) else \
        np.zeros(len(pool), dtype=bool)
    pool = pool[~repeats_known].sort_index()
    return LoopData(pool, split["validation"].sort_index(), split["test"].sort_index(), table,
                    int(repeats_known.sum()))


def grouped_loop_data(split, table: str = "paper", folds: int = 5, seed: int = 0) -> list[LoopData]:
    """The loop's alloys cut into grouped folds: one :class:`LoopData` per fold, its systems held out.

    The pool of :func:`loop_data` is cut into ``folds`` folds that keep each
    alloy system (element set) whole and keep the label shares alike
    (:func:`hea_dvae.evaluation.cv_folds`, scheme ``"grouped"``). For fold
    :math:`k` its alloys leave the pool: they are never proposed, cast or
    read by any model, not even without their labels. The scored alloys
    (``test``) are those of them whose system is not that of a validation
    or test alloy either, so that no alloy system scored is in anything a
    model reads or chooses its snapshot on: what chapter 2 calls grouped
    folds. The paper's test alloys stay out of everything.

    Raises
    ------
    ValueError
        Fewer than 2 folds, more folds than alloy systems, or a bad split
        (as :func:`loop_data`).
    """
    from .evaluation import cv_folds, element_sets  # heavy (scikit-learn): imported where it folds

    whole = loop_data(split, table)
    known = set(element_sets(whole.validation)) | set(element_sets(whole.test))
    systems = element_sets(whole.pool).to_numpy()
    out = []
    for _, _, kept, held in cv_folds(whole.pool, "grouped", folds, seed=seed):
        scored = held[~np.isin(systems[held], list(known))]
        out.append(LoopData(whole.pool.iloc[np.sort(kept)], whole.validation, whole.pool.iloc[np.sort(scored)],
                            table, whole.dropped, len(held)))
    return out


def initial_labelled(labels, share: float, seed: int) -> np.ndarray:
    """Positions of the starting labelled set: ``share`` of the alloys (rounded down), stratified by label.

    Parameters
    ----------
    labels : array-like (n,)
        0/1 labels of the pool, in its order.
    share : float
        In (0, 1).
    seed : int
        Seed of the draw.

    Returns
    -------
    ndarray of int
        Sorted positions.
    """
    from sklearn.model_selection import train_test_split  # heavy: imported where it splits

    labels = np.asarray(labels).reshape(-1)
    number("share", share, 0, 1, low_open=True, high_open=True)
    chosen, _ = train_test_split(np.arange(len(labels)), train_size=share, stratify=labels, random_state=seed)
    return np.sort(chosen)


def _seed(*parts: int) -> int:
    """A seed below 2**31 derived from ``parts`` (independent streams for independent draws)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] >> 1)


def member_seed(seed: int, repeat: int, member: int) -> int:
    """Training seed of ensemble member ``member`` in ``repeat``: the same for every model and strategy."""
    return _seed(seed, repeat, member, 0)


def _draw_seed(seed: int, repeat: int, round_: int) -> int:
    """Seed of the ``random`` strategy's draw in a round (the same for every model)."""
    return _seed(seed, repeat, round_, 1)


# --------------------------------------------------------------------------
# One process: a list of arms, through every round


@dataclass
class _Arm:
    repeat: int
    model: str
    strategy: str
    labelled: list[int]          # pool positions, initial set then casts in order
    available: np.ndarray        # bool (n_pool,): may still be proposed
    initial: int = 0             # size of the starting set
    rows: list[dict] = field(default_factory=list)
    proposals: list[dict] = field(default_factory=list)

    def training_key(self, member: int) -> tuple:
        return (self.model, self.repeat, member, tuple(sorted(self.labelled)))


class _Arrays:
    """The loop's alloys as arrays, and each pool alloy's twins (pool alloys of the same composition)."""

    def __init__(self, data: LoopData):
        self.pool_x, self.pool_e, self.pool_y = as_arrays(data.pool)
        self.test_e, self.test_y = as_arrays(data.test)[1:]
        self.validation = as_arrays(data.validation)
        self.x = data.pool[list(ELEMENTS)].to_numpy(float)
        same = composition_distance(self.x, self.x) <= SAME_ALLOY_AT_PCT
        self.twins = [np.flatnonzero(row) for row in same]
        self.n = len(self.x)

    def part(self, positions) -> tuple:
        positions = np.sort(np.asarray(positions, dtype=int))
        return self.pool_x[positions], self.pool_e[positions], self.pool_y[positions]


def _neural_runs(arms: list[_Arm], arrays: _Arrays, config: LoopConfig, seed: int) -> dict[tuple, Run]:
    """The training runs the networks of ``arms`` need this round, one per distinct labelled set and member."""
    runs = {}
    for arm in arms:
        if arm.model == "forest":
            continue
        for member in range(config.members):
            key = arm.training_key(member)
            if key in runs:
                continue
            labelled = arrays.part(arm.labelled)
            if arm.model == "ssvae":
                rest = np.setdiff1d(np.arange(arrays.n), arm.labelled)
                unlabelled, train_config = arrays.part(rest)[:2], config.train_config
            else:
                unlabelled = None
                train_config = replace(config.train_config, epochs=config.head_epochs,
                                       eval_every=config.head_eval_every)
            runs[key] = Run(labelled, unlabelled, arrays.validation, train_config,
                            seed=member_seed(seed, arm.repeat, member))
    return runs


def _forest_members(arm: _Arm, arrays: _Arrays, config: LoopConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each tree's probability of a single phase on the pool and on the test alloys."""
    _, e, y = arrays.part(arm.labelled)
    forest = sklearn_baselines(member_seed(seed, arm.repeat, 0))["random_forest"]
    forest.set_params(n_estimators=config.trees).fit(e.astype(float), y.astype(int))
    single = list(forest.classes_).index(1) if 1 in forest.classes_ else None

    features = np.concatenate([arrays.pool_e, arrays.test_e]).astype(float)
    if single is None:
        members = np.zeros((config.trees, len(features)))
    else:
        members = np.stack([tree.predict_proba(features)[:, single] for tree in forest.estimators_])
    return members[:, :arrays.n], members[:, arrays.n:]


def _predictions(arms: list[_Arm], arrays: _Arrays, config: LoopConfig, seed: int) -> dict[tuple, tuple]:
    """Member probabilities on the pool and on the test alloys, by arm (repeat, model, strategy)."""
    runs = _neural_runs(arms, arrays, config, seed)
    trained = {}
    for model in ("ssvae", "classifier"):
        # One call per model: a batch pads every run's step to its largest, and
        # the SSVAE's steps (unlabelled alloys twice) are twice the classifier's.
        keys = [key for key in runs if key[0] == model]
        if keys:
            trained.update(zip(keys, fit_many([runs[key] for key in keys], progress=False)))
    out = {}
    forests: dict[tuple, tuple] = {}
    for arm in arms:
        name = (arm.repeat, arm.model, arm.strategy)
        if arm.model == "forest":
            key = arm.training_key(0)
            if key not in forests:
                forests[key] = _forest_members(arm, arrays, config, seed)
            out[name] = forests[key]
            continue
        models = [trained[arm.training_key(member)][0] for member in range(config.members)]
        out[name] = (np.stack([m.predict_proba(arrays.pool_e) for m in models]).astype(float),
                     np.stack([m.predict_proba(arrays.test_e) for m in models]).astype(float))
    return out


def _record_round(arm: _Arm, round_: int, arrays: _Arrays, test_members: np.ndarray) -> None:
    cast = arm.labelled[arm.initial:]
    found = int(arrays.pool_y[cast].sum()) if cast else 0
    arm.rows.append({
        "repeat": arm.repeat, "model": arm.model, "strategy": arm.strategy, "round": round_,
        "labelled": len(arm.labelled), "cast": len(cast), "found": found,
        "found_per_cast": found / len(cast) if len(cast) else float("nan"),
        "auc": roc_auc(arrays.test_y, test_members.mean(axis=0)),
    })


def _propose(arm: _Arm, round_: int, arrays: _Arrays, pool_members: np.ndarray, config: LoopConfig,
             seed: int) -> np.ndarray:
    """Positions of the batch cast in ``round_`` (cast after the model of the round before)."""
    candidates = np.flatnonzero(arm.available)
    if not len(candidates):
        return candidates
    p, spread = pool_members.mean(axis=0), spread_of(pool_members)
    values = acquisition_values(p[candidates], spread[candidates], arm.strategy, config.kappa,
                                seed=_draw_seed(seed, arm.repeat, round_))
    chosen = select_batch(arrays.x[candidates], values, config.batch, config.min_distance, config.same_element_set)
    positions = candidates[chosen]
    for rank, (position, value) in enumerate(zip(positions, values[chosen]), start=1):
        arm.proposals.append({"repeat": arm.repeat, "model": arm.model, "strategy": arm.strategy, "round": round_,
                              "rank": rank, "position": int(position), "p_single_phase": float(p[position]),
                              "spread": float(spread[position]), "acquisition": float(value),
                              "single_phase": int(arrays.pool_y[position])})
    return positions


def _reveal(arm: _Arm, positions: np.ndarray, arrays: _Arrays) -> None:
    """Cast the batch: its alloys (and any pool alloy of the same composition) are known from now on."""
    for position in positions:
        arm.labelled.append(int(position))
        arm.available[arrays.twins[position]] = False
        arm.available[position] = False


def _new_arm(repeat: int, model: str, strategy: str, arrays: _Arrays, config: LoopConfig, seed: int) -> _Arm:
    start = initial_labelled(arrays.pool_y, config.initial_share, _seed(seed, repeat, 2))
    arm = _Arm(repeat, model, strategy, [], (arrays.x > 0).sum(axis=1) >= config.min_elements)
    _reveal(arm, start, arrays)
    arm.initial = len(start)
    return arm


def run_arms(data: LoopData, config: LoopConfig, units: Sequence[tuple[int, str, str]], seed: int = 0
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Play the loop for each ``(repeat, model, strategy)`` of ``units`` in this process.

    The networks of every unit are trained together, round by round; the
    results do not depend on which units share a call. See :func:`simulate`
    for the returned tables.
    """
    arrays = _Arrays(data)
    arms = [_new_arm(repeat, model, strategy, arrays, config, seed) for repeat, model, strategy in units]
    threads = torch.get_num_threads()
    # One thread: these matrices are small, and a second thread waiting for a
    # core that another process holds slows every operation down many times.
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            for round_ in range(config.rounds + 1):
                predictions = _predictions(arms, arrays, config, seed)
                for arm in arms:
                    pool_members, test_members = predictions[(arm.repeat, arm.model, arm.strategy)]
                    _record_round(arm, round_, arrays, test_members)
                    if round_ < config.rounds:
                        _reveal(arm, _propose(arm, round_ + 1, arrays, pool_members, config, seed), arrays)
    finally:
        torch.set_num_threads(threads)
    results = pd.DataFrame([row for arm in arms for row in arm.rows], columns=list(RESULT_COLUMNS))
    proposals = pd.DataFrame([row for arm in arms for row in arm.proposals],
                             columns=["repeat", "model", "strategy", "round", "rank", "position", "p_single_phase",
                                      "spread", "acquisition", "single_phase"])
    return results, proposals


def _run_job(job) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`run_arms` of ``job = (data, config, units, seed)``: the task of a worker process."""
    return run_arms(*job)


# --------------------------------------------------------------------------
# The whole simulation


@dataclass(frozen=True)
class LoopResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    results : DataFrame
        One row per arm and round (:data:`RESULT_COLUMNS`): ``round`` 0 is
        the model of the starting set, before anything was cast;
        ``labelled`` the alloys it knew; ``cast`` and ``found`` the alloys
        cast and the single-phase ones among them in rounds 1 to ``round``;
        ``found_per_cast`` their ratio (NaN at round 0); ``auc`` the test
        ROC AUC of the model trained after round ``round``.
    proposals : DataFrame
        Every alloy cast: arm, ``round``, ``rank`` in its batch, ``position``
        in the pool, ``index`` (the dataset's) and ``formula``, the model's
        ``p_single_phase``, ``spread`` and ``acquisition`` value when it was
        chosen, and the revealed label ``single_phase``.
    seconds : float
        Wall time of the simulation (read from the cache: of the run that
        filled it).
    """

    results: pd.DataFrame
    proposals: pd.DataFrame
    seconds: float


def _cost(model: str, data: LoopData, config: LoopConfig) -> float:
    """Rough relative cost of one arm (alloy-epochs of its training), to deal arms to workers evenly."""
    if model == "ssvae":
        return 2.0 * len(data.pool) * config.train_config.epochs * config.members
    # Measured at 20 SSVAE epochs, 50 classifier epochs and 50 trees: a classifier
    # arm costs about a quarter of an SSVAE arm, a forest arm about a seventh.
    if model == "classifier":
        labelled = config.initial_share * len(data.pool) + config.batch * config.rounds / 2
        return 2.5 * labelled * config.head_epochs * config.members
    return 400.0 * config.trees


def _jobs(units: list[tuple[int, str, str]], data: LoopData, config: LoopConfig, workers: int) -> list[list]:
    """``units`` cut into at most ``workers`` runs of consecutive units of about equal cost."""
    costs = np.array([_cost(model, data, config) for _, model, _ in units])
    edges = np.cumsum(costs) / costs.sum() * workers
    parts = np.minimum((edges - 1e-9).astype(int), workers - 1)
    return [[unit for unit, part in zip(units, parts) if part == k] for k in range(workers)
            if (parts == k).any()]


def _simulate(data: LoopData, config: LoopConfig, units: tuple, seed: int, workers: int, key: dict) -> LoopResult:
    start = time.time()
    jobs = [(data, config, part, seed) for part in _jobs(list(units), data, config, workers)]
    if len(jobs) > 1:
        done = run_in_workers(_run_job, jobs, len(jobs))
    else:
        done = [_run_job(job) for job in jobs]
    results = pd.concat([r for r, _ in done], ignore_index=True)
    proposals = pd.concat([p for _, p in done], ignore_index=True)
    proposals.insert(proposals.columns.get_loc("position") + 1, "index",
                     data.pool.index.to_numpy()[proposals["position"].to_numpy(int)])
    proposals.insert(proposals.columns.get_loc("index") + 1, "formula",
                     data.pool["formula"].to_numpy()[proposals["position"].to_numpy(int)])
    order = ["repeat", "model", "strategy", "round"]
    results = results.sort_values(order, kind="stable", ignore_index=True)
    proposals = proposals.sort_values([*order, "rank"], kind="stable", ignore_index=True)
    return LoopResult(results, proposals, time.time() - start)


def simulate(data: LoopData, config: LoopConfig | None = None, repeats: int = 5, arms=None, seed: int = 0,
             workers: int = 1, cache: bool = True) -> LoopResult:
    """Play the design loop ``repeats`` times for every arm (model, strategy).

    Parameters
    ----------
    data : LoopData
        From :func:`loop_data`, with the features of ``config``'s table.
    config : LoopConfig, optional
        How each loop runs (default :class:`LoopConfig`).
    repeats : int
        Independent loops, each from its own starting set (shared by every
        arm of the repeat).
    arms : sequence of (model, strategy), optional
        Default: every model of :data:`MODELS` with every strategy of
        :data:`hea_dvae.design.acquisition.STRATEGIES`.
    seed : int
        Seeds the starting sets, the networks' seeds, the forests and the
        random strategy's draws.
    workers : int
        Worker processes (one per core); 1 runs here.
    cache : bool
        Read the results from ``$HEA_DVAE_CACHE_DIR/loop`` when this very
        simulation (same data, settings and source code) ran before, and
        store them there otherwise.

    Returns
    -------
    LoopResult

    Raises
    ------
    ValueError
        An unknown model or strategy, a repeat count or worker count below 1,
        or data whose table is not the networks'.
    """
    config = config or LoopConfig()
    integer("repeats", repeats, 1)
    integer("workers", workers, 1)
    integer("seed", seed, 0)
    if data.table != config.table:
        raise ValueError(f"the data's features use the {data.table!r} table but the networks read the "
                         f"{config.table!r} table: build the data with loop_data(split, {config.table!r})")
    arms = [(m, s) for m in MODELS for s in STRATEGIES] if arms is None else [tuple(arm) for arm in arms]
    for model, strategy in arms:
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if len(set(arms)) != len(arms):
        raise ValueError(f"an arm is listed twice: {arms}")
    units = tuple((repeat, model, strategy) for repeat in range(repeats) for model, strategy in arms)
    key = {"config": config.to_dict(), "trainer": TRAINER, "source": source_digest(),
           "version": paths.package_version()}
    if not cache:
        return _simulate(data, config, units, seed, workers, key)
    from joblib import Memory

    cached = Memory(paths.cache_dir() / "loop", verbose=0).cache(_simulate, ignore=["workers"])
    return cached(data, config, units, seed, workers, key)


def simulate_grouped(folds: Sequence[LoopData], config: LoopConfig | None = None, arms=None, seed: int = 0,
                     workers: int = 1, cache: bool = True) -> LoopResult:
    """Play the loop once on each grouped fold of :func:`grouped_loop_data`: its ``auc`` is on unseen systems.

    Fold :math:`k` is one repeat (``repeat`` = :math:`k` in the results),
    played by :func:`simulate` with seed ``seed + k``: its own starting
    set, drawn from that fold's pool, shared by every arm of the fold, so
    that arms are compared fold by fold (:func:`paired_difference`). The
    other parameters are those of :func:`simulate`.
    """
    if not folds:
        raise ValueError("folds is empty: give the LoopData of grouped_loop_data(split, table, folds)")
    runs = [simulate(data, config, repeats=1, arms=arms, seed=seed + k, workers=workers, cache=cache)
            for k, data in enumerate(folds)]
    parts = {}
    for name in ("results", "proposals"):
        frames = [getattr(run, name).assign(repeat=k) for k, run in enumerate(runs)]
        parts[name] = pd.concat(frames, ignore_index=True)
    return LoopResult(parts["results"], parts["proposals"], float(sum(run.seconds for run in runs)))


# --------------------------------------------------------------------------
# Summaries


def summary(results: pd.DataFrame, metric: str = "found_per_cast", level: float = 0.95) -> pd.DataFrame:
    """Mean of ``metric`` over repeats, by model, strategy and round, with its t interval.

    Returns
    -------
    DataFrame
        Index (model, strategy, round), models in the order of
        :data:`MODELS` and strategies in that of
        :data:`~hea_dvae.design.acquisition.STRATEGIES`; columns ``mean``, ``std``, ``n``,
        ``low``, ``high`` (Student-t interval of the mean over repeats,
        :func:`hea_dvae.metrics.mean_interval`).
    """
    grouped = results.groupby(["model", "strategy", "round"])[metric]
    table = grouped.agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    # Ordered categories: the table sorts (and indexes fast) in the order of MODELS and STRATEGIES.
    levels = [pd.Categorical(table.index.get_level_values(name), categories=[c for c in order if c in
                             set(table.index.get_level_values(name))], ordered=True)
              for name, order in (("model", MODELS), ("strategy", STRATEGIES))]
    table.index = pd.MultiIndex.from_arrays([*levels, table.index.get_level_values("round")], names=table.index.names)
    table = table.sort_index()
    bounds = [metrics.mean_interval(row["mean"], row["std"], int(row["n"]), level) for _, row in table.iterrows()]
    table["low"] = [b.low for b in bounds]
    table["high"] = [b.high for b in bounds]
    return table


def per_repeat(results: pd.DataFrame, model: str, strategy: str, metric: str, round_: int) -> pd.Series:
    """``metric`` of one arm after ``round_``, one value per repeat (index: repeat)."""
    chosen = results[(results["model"] == model) & (results["strategy"] == strategy) & (results["round"] == round_)]
    if chosen.empty:
        raise ValueError(f"no results for model {model!r}, strategy {strategy!r}, round {round_}")
    return chosen.set_index("repeat")[metric].sort_index()


def paired_difference(results: pd.DataFrame, a: tuple[str, str], b: tuple[str, str], metric: str, round_: int,
                      level: float = 0.95, round_b: int | None = None) -> metrics.PairedDifference:
    """``metric`` of arm ``a`` minus arm ``b`` (each ``(model, strategy)``) after ``round_``, paired by repeat.

    The arms of a repeat start from the same labelled set (and the networks
    from the same seeds), so the difference is taken repeat by repeat and
    its mean gets a Student-t interval over the repeats
    (:func:`hea_dvae.metrics.mean_interval`; NaN bounds with one repeat).
    With ``round_b``, ``b`` is read after that round instead: ``a == b``
    and ``round_b=0`` give what the casts of rounds 1 to ``round_`` gained.

    Returns
    -------
    PairedDifference
        ``difference``, ``low``, ``high``, ``runs`` (repeats), ``wins``
        (repeats where ``a`` is higher), ``ties`` and ``std`` (of the
        per-repeat differences).
    """
    round_b = round_ if round_b is None else round_b
    differences = (per_repeat(results, *a, metric, round_) - per_repeat(results, *b, metric, round_b)).dropna()
    std = float(differences.std(ddof=1)) if len(differences) > 1 else float("nan")
    interval = metrics.mean_interval(float(differences.mean()), std, len(differences), level)
    return metrics.PairedDifference(interval.estimate, interval.low, interval.high, runs=len(differences),
                                    wins=int((differences > 0).sum()), ties=int((differences == 0).sum()), std=std)


def ratio_of_means(results: pd.DataFrame, a: tuple[str, str], b: tuple[str, str], metric: str, round_: int) -> float:
    """Mean of ``metric`` over repeats for arm ``a`` divided by that of arm ``b``, after ``round_``."""
    return float(per_repeat(results, *a, metric, round_).mean() / per_repeat(results, *b, metric, round_).mean())
