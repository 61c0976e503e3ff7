"""The simulated design loop: what it may propose, what it reveals, and what its results depend on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hea_dvae import evaluation, loop
from hea_dvae.compositions import SAME_ALLOY_AT_PCT, composition_distance
from hea_dvae.elements import ELEMENTS
from hea_dvae.recipe import TrainConfig
from synthetic import synthetic_split

FAST = loop.LoopConfig(initial_share=0.1, batch=4, rounds=4, members=2, trees=10,
                       train_config=TrainConfig(epochs=2, eval_every=1), head_epochs=3)
FOREST_ARMS = [("forest", strategy) for strategy in loop.STRATEGIES]


def _split(seed_offset: int = 0) -> dict:
    """A synthetic split with unique indices, one pool alloy that repeats a test alloy, one that
    repeats a validation alloy, and two pool alloys of one composition."""
    split = synthetic_split(labelled=60, unlabelled=40, validation=20, test=30)
    start = 0
    for part in ("labelled", "unlabelled", "validation", "test"):
        split[part] = split[part].set_axis(np.arange(start, start + len(split[part])))
        start += len(split[part])
    elements = list(ELEMENTS)
    split["labelled"].loc[split["labelled"].index[3], elements] = split["test"].iloc[5][elements].to_numpy()
    split["unlabelled"].loc[split["unlabelled"].index[7], elements] = split["validation"].iloc[2][elements].to_numpy()
    split["unlabelled"].loc[split["unlabelled"].index[0], elements] = split["labelled"].iloc[10][elements].to_numpy()
    return split


@pytest.fixture(scope="module")
def data() -> loop.LoopData:
    return loop.loop_data(_split())


@pytest.fixture(scope="module")
def forest_result(data) -> loop.LoopResult:
    return loop.simulate(data, FAST, repeats=2, arms=FOREST_ARMS, cache=False)


def test_the_pool_leaves_out_alloys_of_the_validation_and_test_sets(data):
    assert data.dropped == 2
    assert len(data.pool) == 98
    known = pd.concat([data.validation, data.test])[list(ELEMENTS)].to_numpy()
    assert composition_distance(data.pool[list(ELEMENTS)].to_numpy(), known).min() > SAME_ALLOY_AT_PCT
    assert data.pool.index.is_monotonic_increasing


def test_the_starting_set_is_stratified_and_the_same_for_every_arm(data, forest_result):
    labels = data.pool["label"].to_numpy()
    start = loop.initial_labelled(labels, 0.1, seed=3)
    assert len(start) == 9 and len(np.unique(start)) == 9
    assert abs(labels[start].mean() - labels.mean()) < 0.1
    first = forest_result.results[forest_result.results["round"] == 0]
    assert (first["labelled"] == 9).all() and (first["cast"] == 0).all()
    assert first["found_per_cast"].isna().all()


def test_the_loop_never_proposes_a_labelled_or_test_alloy(data, forest_result):
    x = data.pool[list(ELEMENTS)].to_numpy()
    known = pd.concat([data.validation, data.test])[list(ELEMENTS)].to_numpy()
    proposals = forest_result.proposals
    assert len(proposals)
    for (repeat, _, _), arm in proposals.groupby(["repeat", "model", "strategy"]):
        labelled = list(loop.initial_labelled(data.pool["label"], FAST.initial_share, loop._seed(0, repeat, 2)))
        for _, batch in arm.groupby("round", sort=True):
            positions = batch["position"].to_numpy()
            assert composition_distance(x[positions], x[labelled]).min() > SAME_ALLOY_AT_PCT
            assert composition_distance(x[positions], known).min() > SAME_ALLOY_AT_PCT
            labelled.extend(positions)
        assert len(set(labelled)) == len(labelled)


def test_a_batch_is_diverse(forest_result, data):
    x = data.pool[list(ELEMENTS)].to_numpy()
    for _, batch in forest_result.proposals.groupby(["repeat", "model", "strategy", "round"]):
        positions = batch["position"].to_numpy()
        distances = composition_distance(x[positions], x[positions])[np.triu_indices(len(positions), 1)]
        assert (distances >= FAST.min_distance).all()
        sets = [frozenset(np.flatnonzero(x[p] > 0)) for p in positions]
        assert len(set(sets)) == len(sets)


def test_only_alloys_of_enough_elements_are_proposed(data):
    config = replace(FAST, min_elements=4, rounds=3)
    proposals = loop.simulate(data, config, repeats=1, arms=FOREST_ARMS, cache=False).proposals
    elements = (data.pool[list(ELEMENTS)].to_numpy()[proposals["position"]] > 0).sum(axis=1)
    assert len(proposals) and (elements >= 4).all()


def test_a_revealed_label_is_the_true_one(data, forest_result):
    proposals = forest_result.proposals
    truth = data.pool.loc[proposals["index"], "label"].to_numpy()
    assert (proposals["single_phase"].to_numpy() == truth).all()
    assert (data.pool.index[proposals["position"]] == proposals["index"]).all()
    assert (data.pool.loc[proposals["index"], "formula"].to_numpy() == proposals["formula"].to_numpy()).all()
    results = forest_result.results.set_index(["repeat", "model", "strategy", "round"])
    for (repeat, model, strategy), arm in proposals.groupby(["repeat", "model", "strategy"]):
        for round_ in range(1, FAST.rounds + 1):
            cast = arm[arm["round"] <= round_]
            row = results.loc[(repeat, model, strategy, round_)]
            assert row["cast"] == len(cast) == FAST.batch * round_
            assert row["found"] == cast["single_phase"].sum()
            assert row["found_per_cast"] == pytest.approx(row["found"] / row["cast"])
            assert row["labelled"] == 9 + row["cast"]


def test_the_random_strategy_is_reproducible_and_seeded(data):
    arms = [("forest", "random"), ("classifier", "random")]
    config = replace(FAST, rounds=2)
    first = loop.simulate(data, config, repeats=2, arms=arms, seed=1, cache=False)
    again = loop.simulate(data, config, repeats=2, arms=arms, seed=1, cache=False)
    pd.testing.assert_frame_equal(first.results, again.results)
    pd.testing.assert_frame_equal(first.proposals, again.proposals)
    other = loop.simulate(data, config, repeats=2, arms=arms[:1], seed=2, cache=False)
    forest = first.proposals[first.proposals["model"] == "forest"]
    assert not np.array_equal(forest["index"].to_numpy(), other.proposals["index"].to_numpy())
    # The random draw does not read the model: every model casts the same alloys.
    by_model = {model: arm["index"].to_numpy() for model, arm in first.proposals.groupby("model")}
    assert (by_model["forest"] == by_model["classifier"]).all()


def _shuffled(split: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {part: frame.iloc[rng.permutation(len(frame))] for part, frame in split.items()}


@pytest.mark.slow
def test_results_do_not_depend_on_the_order_of_the_candidates():
    arms = [("ssvae", "balanced"), ("classifier", "uncertain"), *FOREST_ARMS]
    config = loop.LoopConfig(initial_share=0.1, batch=4, rounds=2, members=2, trees=10,
                             train_config=TrainConfig(epochs=2, eval_every=1), head_epochs=3)
    split = _split()
    ordered = loop.simulate(loop.loop_data(split), config, repeats=1, arms=arms, cache=False)
    shuffled = loop.simulate(loop.loop_data(_shuffled(split, 0)), config, repeats=1, arms=arms, cache=False)
    pd.testing.assert_frame_equal(ordered.results, shuffled.results)
    pd.testing.assert_frame_equal(ordered.proposals, shuffled.proposals)


def test_forest_results_do_not_depend_on_the_order_of_the_candidates():
    split = _split()
    ordered = loop.simulate(loop.loop_data(split), FAST, repeats=1, arms=FOREST_ARMS, cache=False)
    shuffled = loop.simulate(loop.loop_data(_shuffled(split, 1)), FAST, repeats=1, arms=FOREST_ARMS, cache=False)
    pd.testing.assert_frame_equal(ordered.results, shuffled.results)
    pd.testing.assert_frame_equal(ordered.proposals, shuffled.proposals)


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_workers(data):
    arms = [("ssvae", "greedy"), ("classifier", "balanced"), ("forest", "uncertain")]
    config = loop.LoopConfig(initial_share=0.1, batch=4, rounds=2, members=2, trees=10,
                             train_config=TrainConfig(epochs=2, eval_every=1), head_epochs=3)
    here = loop.simulate(data, config, repeats=2, arms=arms, cache=False)
    split = loop.simulate(data, config, repeats=2, arms=arms, workers=2, cache=False)
    pd.testing.assert_frame_equal(here.results, split.results)
    pd.testing.assert_frame_equal(here.proposals, split.proposals)


def test_the_cache_returns_the_same_simulation(data, tmp_path, monkeypatch):
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path))
    first = loop.simulate(data, FAST, repeats=1, arms=FOREST_ARMS[:2])
    assert (tmp_path / "loop").is_dir()
    again = loop.simulate(data, FAST, repeats=1, arms=FOREST_ARMS[:2])
    pd.testing.assert_frame_equal(first.results, again.results)
    assert again.seconds == first.seconds


def test_summaries_pair_the_arms_by_repeat(forest_result):
    results = forest_result.results
    same = loop.paired_difference(results, ("forest", "greedy"), ("forest", "greedy"), "auc", FAST.rounds)
    assert (same.difference, same.low, same.high, same.runs, same.wins, same.ties) == (0, 0, 0, 2, 0, 2)
    a, b = ("forest", "balanced"), ("forest", "random")
    difference = loop.paired_difference(results, a, b, "found_per_cast", FAST.rounds)
    expected = (loop.per_repeat(results, *a, "found_per_cast", FAST.rounds)
                - loop.per_repeat(results, *b, "found_per_cast", FAST.rounds))
    assert difference.difference == pytest.approx(expected.mean())
    assert difference.std == pytest.approx(expected.std(ddof=1))
    assert difference.low <= difference.difference <= difference.high
    assert difference.wins == (expected > 0).sum()
    table = loop.summary(results, "found_per_cast")
    row = table.loc[("forest", "balanced", FAST.rounds)]
    assert row["n"] == 2 and row["low"] <= row["mean"] <= row["high"]
    assert loop.ratio_of_means(results, a, a, "found_per_cast", FAST.rounds) == pytest.approx(1.0)
    gain = loop.paired_difference(results, a, a, "auc", FAST.rounds, round_b=0)
    expected = loop.per_repeat(results, *a, "auc", FAST.rounds) - loop.per_repeat(results, *a, "auc", 0)
    assert gain.difference == pytest.approx(expected.mean())


def test_bad_arguments_are_refused(data):
    with pytest.raises(ValueError, match="model must be one of"):
        loop.simulate(data, FAST, arms=[("svm", "greedy")], cache=False)
    with pytest.raises(ValueError, match="strategy must be one of"):
        loop.simulate(data, FAST, arms=[("forest", "best")], cache=False)
    with pytest.raises(ValueError, match="table"):
        loop.simulate(replace(data, table="corrected"), FAST, arms=FOREST_ARMS, cache=False)
    with pytest.raises(ValueError, match="initial_share"):
        loop.LoopConfig(initial_share=1.0)
    with pytest.raises(ValueError, match="index"):
        split = _split()
        split["unlabelled"] = split["unlabelled"].set_axis(split["labelled"].index[:40])
        loop.loop_data(split)


def test_grouped_folds_hold_out_whole_alloy_systems():
    split = _split()
    whole = loop.loop_data(split)
    folds = loop.grouped_loop_data(split, folds=3)
    assert len(folds) == 3
    sets = evaluation.element_sets
    known = set(sets(whole.validation)) | set(sets(whole.test))
    held_everywhere = []
    for fold in folds:
        held = whole.pool.index.difference(fold.pool.index)
        held_everywhere.extend(held)
        assert fold.held_out == len(held) > 0
        assert fold.pool.index.is_monotonic_increasing and fold.test.index.is_monotonic_increasing
        # the scored alloys are held-out pool alloys of systems no model reads or chooses its snapshot on
        assert set(fold.test.index) <= set(held)
        assert not set(sets(fold.test)) & (set(sets(fold.pool)) | known)
        # what is held out but not scored shares a system with a validation or test alloy
        assert set(sets(whole.pool.loc[held.difference(fold.test.index)])) <= known
        # whole systems: no held-out system is left in the pool
        assert not set(sets(whole.pool.loc[held])) & set(sets(fold.pool))
        assert fold.validation.equals(whole.validation) and fold.dropped == whole.dropped
    assert sorted(held_everywhere) == sorted(whole.pool.index)  # every pool alloy is held out once
    assert sum(len(fold.test) for fold in folds) > 0
    with pytest.raises(ValueError, match="n_folds"):
        loop.grouped_loop_data(split, folds=1)


def test_simulate_grouped_plays_each_fold_as_a_repeat():
    folds = loop.grouped_loop_data(_split(), folds=2)
    arms = [("forest", "balanced"), ("forest", "random")]
    config = replace(FAST, rounds=2)
    grouped = loop.simulate_grouped(folds, config, arms=arms, seed=4, cache=False)
    assert sorted(grouped.results["repeat"].unique()) == [0, 1]
    for k, fold in enumerate(folds):
        alone = loop.simulate(fold, config, repeats=1, arms=arms, seed=4 + k, cache=False)
        mine = grouped.results[grouped.results["repeat"] == k].drop(columns="repeat").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone.results.drop(columns="repeat"))
        cast = grouped.proposals[grouped.proposals["repeat"] == k]
        assert set(cast["index"]) <= set(fold.pool.index) and not set(cast["index"]) & set(fold.test.index)
    with pytest.raises(ValueError, match="folds is empty"):
        loop.simulate_grouped([], config, arms=arms)


def test_the_curves_draw_a_panel_per_model_and_a_line_per_strategy(forest_result):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hea_dvae.reporting import plots

    results = forest_result.results
    both = pd.concat([results, results[results["strategy"] == "greedy"].assign(model="classifier")])
    table = loop.summary(both, "found_per_cast")
    assert list(dict.fromkeys(table.index.get_level_values("model"))) == ["classifier", "forest"]
    fig = plots.loop_curves(table, "yield", titles=loop.MODEL_NAMES, reference=0.5, limits=(0, 1))
    assert [ax.get_title() for ax in fig.axes] == [loop.MODEL_NAMES["classifier"], loop.MODEL_NAMES["forest"]]
    assert len(fig.axes[1].get_lines()) == len(loop.STRATEGIES) + 1  # and the reference line
    for collection in fig.axes[1].collections:
        y = np.concatenate([path.vertices[:, 1] for path in collection.get_paths()])
        assert y.min() >= 0 and y.max() <= 1
    plt.close(fig)
