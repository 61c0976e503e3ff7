"""The screening engine: enumeration, sparse features, scores, determinism, resumption, Dask.

Most tests use a synthetic element table and a small random SSVAE, so they need
no data; the ones marked ``needs_data`` use the real tables and released model.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from hea_dvae.design.feasibility import admits
from hea_dvae.design.screen import kernels, runners, scorer as scorer_module
from hea_dvae.design.constraints import ConstraintError, Constraints
from hea_dvae.elements import ELEMENTS, FEATURES, ElementTable
from hea_dvae.features import featurize
from hea_dvae.files import OutputError
from hea_dvae.model import SSVAE, SSVAEConfig
from hea_dvae.predictors import Ensemble
from hea_dvae.design.screen import (
    FAMILIES,
    FAMILY_NAMES,
    Scorer,
    ScreenStateError,
    count_element_sets,
    count_space,
    iter_compositions,
    paper_space,
    screen,
    sparse_features,
)

IDX = {symbol: i for i, symbol in enumerate(ELEMENTS)}


def synthetic_table(seed: int = 0) -> ElementTable:
    """Element properties on the real tables' scales, and a symmetric enthalpy matrix."""
    rng = np.random.default_rng(seed)
    n = len(ELEMENTS)
    properties = {
        "k": rng.uniform(40, 320, n), "vm": rng.uniform(6, 16, n), "tm": rng.uniform(600, 3600, n),
        "vac": rng.integers(1, 12, n).astype(float), "ar": rng.uniform(120, 175, n), "chi": rng.uniform(0.9, 2.5, n),
    }
    enthalpy = np.triu(rng.integers(-40, 15, (n, n)).astype(float), 1)
    return ElementTable("synthetic", properties, enthalpy + enthalpy.T)


TABLE = synthetic_table()


def random_model(seed: int, hidden=(16, 16), zero_output: bool = False) -> SSVAE:
    torch.manual_seed(seed)
    model = SSVAE(SSVAEConfig(hidden=hidden))
    rng = np.random.default_rng(seed)
    x = np.zeros((200, len(ELEMENTS)))
    for row in x:
        chosen = rng.choice(len(ELEMENTS), size=5, replace=False)
        row[chosen] = rng.dirichlet(np.ones(5))
    e = featurize(x, TABLE)
    model.set_scaler(e.mean(axis=0), e.std(axis=0))
    if zero_output:
        with torch.no_grad():
            model.encoder_y.layers[-1].weight.zero_()
            model.encoder_y.layers[-1].bias.zero_()
    return model.eval()


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.from_models([random_model(1), random_model(2)], temperature=1.5, table=TABLE)


#: 20,040 alloys: 3 and 4 of 10 elements, 10-60 at.% in 10 at.% steps.
SMALL = Constraints(elements="Fe Ni Co Cr Mn Al Cu Ti V Mo", n_elements=(3, 4), min_fraction=0.1,
                    max_fraction=0.6, step=0.1)


def brute_force(constraints: Constraints) -> set[tuple]:
    """Every admitted alloy as a tuple of (symbol, units), by trying every unit vector per element set."""
    total = constraints.grid_units()
    lower, upper = constraints.fraction_bounds()
    found = set()
    pool = constraints.pool()
    for k in constraints.sizes():
        for elements in itertools.combinations(pool, k):
            if not set(constraints.required) <= set(elements):
                continue
            ranges = [range(max(1, round(lower[IDX[s]] * total)), round(upper[IDX[s]] * total) + 1) for s in elements]
            for units in itertools.product(*ranges):
                if sum(units) == total:
                    found.add(tuple(zip(elements, units)))
    return found


def as_tuples(x: np.ndarray, total: int) -> list[tuple]:
    units = np.rint(x * total).astype(int)
    return [tuple((ELEMENTS[i], int(row[i])) for i in np.flatnonzero(row)) for row in units]


# -- enumeration and counts --------------------------------------------------------


def test_equimolar_paper_space_count():
    assert count_space(paper_space()) == math.comb(30, 4) + math.comb(30, 5) == 169_911
    assert count_space(paper_space(), by_size=True) == {4: 27_405, 5: 142_506}
    sizes = [len(x) for x in iter_compositions(paper_space(), batch_size=50_000)]
    assert sum(sizes) == 169_911 and max(sizes) <= 50_000


def test_issue_space_count_in_closed_form():
    issue = Constraints(n_elements=5, min_fraction=0.05, max_fraction=0.8, step=0.05)
    assert count_space(issue) == math.comb(30, 5) * math.comb(19, 4) == 552_353_256
    assert count_element_sets(issue) == math.comb(30, 5)


def test_grid_enumeration_equals_brute_force():
    constraints = Constraints(elements="Fe Ni Co Cr Al Ti", required="Ni", n_elements=(2, 3), step=0.1,
                              min_fraction=0.1, max_fraction=0.7, bounds={"Al": (0.1, 0.2)})
    expected = brute_force(constraints)
    listed = [t for x in iter_compositions(constraints, batch_size=17) for t in as_tuples(x, 10)]
    assert len(listed) == len(set(listed)) == len(expected) == count_space(constraints)
    assert set(listed) == expected
    # The order does not depend on the batch size.
    assert listed == [t for x in iter_compositions(constraints, batch_size=10_000) for t in as_tuples(x, 10)]


def test_small_space_count_three_ways():
    expected = brute_force(SMALL)
    # Closed form by hand: sets times bounded compositions (inclusion-exclusion).
    by_hand = math.comb(10, 3) * (math.comb(9, 2) - 3 * 3) + math.comb(10, 4) * (math.comb(9, 3) - 4)
    assert len(expected) == by_hand == count_space(SMALL) == 20_040


def test_equimolar_with_element_bounds():
    # Fe between 30 and 50 at.%: equimolar alloys with Fe only have 2 or 3 elements.
    constraints = Constraints(elements="Fe Ni Co Cr Mn Al Cu Ti", n_elements=(2, 3, 4), bounds={"Fe": (0.3, 0.5)})
    expected = math.comb(8, 2) + math.comb(8, 3) + math.comb(7, 4)
    x = np.concatenate(list(iter_compositions(constraints, batch_size=10)))
    assert len(x) == count_space(constraints) == expected
    assert admits(constraints, x).all()
    assert not ((x[:, IDX["Fe"]] > 0) & ((x > 0).sum(axis=1) == 4)).any()


def test_element_set_larger_than_a_batch():
    # Each element set has C(49, 3) = 18,424 compositions on the 2 at.% grid,
    # far more than a batch: sets are split across batches, never held whole.
    constraints = Constraints(elements="Fe Ni Co Cr Al", required="Fe Ni Co", n_elements=4, step=0.02)
    batches = list(iter_compositions(constraints, batch_size=1000))
    assert max(len(b) for b in batches) <= 1000
    x = np.concatenate(batches)
    assert len(x) == 2 * math.comb(49, 3) == count_space(constraints)
    listed = as_tuples(x, 50)
    assert len(set(listed)) == len(listed) and admits(constraints, x).all()
    # Lexicographic within each set, elements in ELEMENTS order (Fe Ni Cr Co), the first slowest.
    units = np.rint(x * 50).astype(int)
    first_set = units[: math.comb(49, 3)][:, [IDX[s] for s in ("Fe", "Ni", "Cr", "Co")]]
    assert (np.diff(first_set[:, 0]) >= 0).all()
    assert [tuple(r) for r in first_set] == sorted(tuple(r) for r in first_set)


# -- features and scores ----------------------------------------------------------------


def random_sets(rng, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    elements = np.stack([np.sort(rng.choice(len(ELEMENTS), size=k, replace=False)) for _ in range(n)])
    return elements, rng.dirichlet(np.ones(k), size=n)


def dense(elements, fractions) -> np.ndarray:
    x = np.zeros((len(elements), len(ELEMENTS)))
    np.put_along_axis(x, elements, fractions, axis=1)
    return x


def assert_features_close(sparse, reference):
    # Relative to the value, or to the column's scale where the value is near 0
    # (a pure element has no mismatch or mixing enthalpy at all).
    scale = np.maximum(np.abs(reference), 1e-3 * np.abs(reference).max(axis=0))
    scale[scale == 0] = 1
    assert np.max(np.abs(sparse - reference) / scale) < 1e-12


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_sparse_features_equal_featurize(k):
    rng = np.random.default_rng(k)
    elements, fractions = random_sets(rng, 300, k)
    assert_features_close(sparse_features(elements, fractions, TABLE), featurize(dense(elements, fractions), TABLE))


def test_sparse_features_broadcast_sets_against_a_grid():
    rng = np.random.default_rng(0)
    elements, _ = random_sets(rng, 7, 4)
    grid = rng.dirichlet(np.ones(4), size=11)
    sparse = sparse_features(elements[:, None, :], grid[None, :, :], TABLE)
    assert sparse.shape == (7, 11, 8)
    x = dense(np.repeat(elements, 11, axis=0), np.tile(grid, (7, 1)))
    assert_features_close(sparse.reshape(-1, 8), featurize(x, TABLE))


@pytest.mark.needs_data
@pytest.mark.parametrize("table", ["paper", "corrected", "standard"])
def test_sparse_features_equal_featurize_real_tables(table):
    rng = np.random.default_rng(1)
    for k in (2, 4, 5, 6):
        elements, fractions = random_sets(rng, 200, k)
        assert_features_close(sparse_features(elements, fractions, table), featurize(dense(elements, fractions), table))


def test_softplus_kernel_is_softplus():
    rng = np.random.default_rng(0)
    special = [0.0, -0.0, 1e-30, -1e-30, 20, 87, 88.7, 89, 1e4, -20, -87, -88, -104, -1e4]
    x = np.concatenate([np.linspace(-150, 150, 30_001), rng.normal(0, 5, 10_000), special])
    pre = np.resize(x, (len(x) // 7 + 1) * 7).astype(np.float32).reshape(-1, 7)
    with np.errstate(over="ignore"):  # exp overflows to inf above 88.7, as in torch
        growth = np.exp(np.maximum(pre, -87)).astype(np.float32)  # the scorer clamps before exp
    out = np.ones((len(pre), 8), dtype=np.float32)
    kernels.softplus_compiled(pre, growth, out)
    exact = np.logaddexp(0, pre.astype(float))
    got = out[:, :7].astype(float)
    assert (out[:, 7] == 1).all()  # the bias column is left alone
    assert np.all(np.abs(got - exact) <= 2e-7 * np.maximum(1, exact))
    # Relative accuracy where softplus is tiny, down to where exp(-87) takes over.
    small = (pre > -86) & (pre < 0)
    assert np.all(np.abs(got - exact)[small] <= 5e-7 * exact[small])
    assert np.all(got[pre < -87] < 2e-38)
    # Its numpy twin, used for small arrays, gives the same bits.
    twin = np.ones_like(out)
    scorer_module.softplus_numpy(pre, growth, twin)
    np.testing.assert_array_equal(twin, out)


def test_softplus_kernel_refuses_arrays_it_cannot_read():
    pre = np.zeros((4, 3), np.float32)
    growth, out = np.ones_like(pre), np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="pre must be a 2-D float32"):
        kernels.softplus_compiled(pre.astype(float), growth, out)
    with pytest.raises(ValueError, match="out must be a 2-D float32"):
        kernels.softplus_compiled(pre, growth, np.ones((8, 4), np.float32)[::2, ::2])
    with pytest.raises(ValueError, match="shapes"):
        kernels.softplus_compiled(pre, growth, np.ones((4, 2), np.float32))
    # Rows of a larger buffer, as the scorer passes them: the same bits as the numpy twin.
    wide = np.random.default_rng(2).normal(0, 30, (6, 9)).astype(np.float32)
    with np.errstate(over="ignore"):
        wide_growth = np.exp(wide)
    got, twin = np.ones((6, 10), np.float32), np.ones((6, 10), np.float32)
    kernels.softplus_compiled(wide[1:5, :7], wide_growth[1:5, :7], got[1:5])
    scorer_module.softplus_numpy(wide[1:5, :7], wide_growth[1:5, :7], twin[1:5])
    np.testing.assert_array_equal(got, twin)


def test_numpy_and_compiled_softplus_score_alike(scorer):
    # Small arrays take the numpy softplus, large ones the compiled kernel: the same bits.
    rng = np.random.default_rng(4)
    elements, fractions = random_sets(rng, 1000, 4)
    e = featurize(dense(elements, fractions), TABLE)
    compiled = scorer.member_logits(e, chunk=500, compiled=True)
    np.testing.assert_array_equal(scorer.member_logits(e, chunk=500), compiled)


def test_scorer_equals_the_models(scorer):
    models = [random_model(1), random_model(2)]
    rng = np.random.default_rng(3)
    elements, fractions = random_sets(rng, 500, 5)
    e = featurize(dense(elements, fractions), TABLE)
    with torch.no_grad():
        logits = torch.stack([m.classify_logits(torch.tensor(e, dtype=torch.float32)) for m in models]).double()
    members = torch.sigmoid(logits / 1.5).numpy()
    np.testing.assert_allclose(scorer.member_probabilities(e, chunk=64), members, atol=2e-6)
    np.testing.assert_allclose(scorer.predict_proba(e), members.mean(axis=0), atol=2e-6)
    np.testing.assert_allclose(scorer.predict_spread(e), members.std(axis=0), atol=2e-6)
    assert members.std(axis=0).max() > 0.01  # the two members disagree: the spread is tested


def test_scorer_from_an_ensemble_and_one_identity_for_the_same_models(scorer):
    ensemble = Ensemble([random_model(1), random_model(2)], temperature=1.5, name="two random members")
    built = Scorer.from_predictor(ensemble, table=TABLE)
    assert built.identity == scorer.identity and built.name == "two random members"
    assert Scorer.from_predictor([random_model(1)], table=TABLE).identity != scorer.identity
    assert Scorer.from_predictor(ensemble, temperature=1.0, table=TABLE).identity != scorer.identity
    # Read with their own table, the same models are the same predictor whatever its kind.
    assert Scorer.from_predictor(ensemble).identity == ensemble.identity
    one = random_model(1)
    assert Scorer.from_predictor(one).identity == Ensemble([one]).identity == one.identity
    assert Scorer.from_predictor(ensemble).member(1).identity == ensemble.member(1).identity
    with pytest.raises(TypeError):
        Scorer.from_predictor("model.pt")


# -- the screen ------------------------------------------------------------------------


def run(scorer, constraints=SMALL, **kwargs):
    kwargs.setdefault("top", 25)
    kwargs.setdefault("batch_size", 1024)
    kwargs.setdefault("chunk", 64)
    kwargs.setdefault("progress", False)
    return screen(scorer, constraints, **kwargs)


@pytest.fixture(scope="module")
def reference(scorer):
    return run(scorer)


def assert_same_result(a, b):
    pd.testing.assert_frame_equal(a.top, b.top, check_exact=True)
    for name in a.histograms:
        pd.testing.assert_frame_equal(a.histograms[name], b.histograms[name], check_exact=True)
    for key in ("alloys", "alloys_above_0.5", "alloys_above_0.9", "complete", "alloys_by_n_elements"):
        assert a.summary[key] == b.summary[key]


def test_screen_ranks_the_whole_space(scorer, reference):
    x = np.concatenate(list(iter_compositions(SMALL)))
    p = scorer.predict_proba(featurize(x, TABLE))
    top = reference.top
    assert len(top) == 25 and list(top.index) == list(range(1, 26))
    assert (np.diff(top["p_single_phase"].to_numpy()) <= 0).all()
    # The screen's top 25 are the brute-force top 25 (up to float32 rounding of near-ties).
    order = np.argsort(-p, kind="stable")
    np.testing.assert_allclose(top["p_single_phase"].to_numpy(), p[order[:25]], atol=1e-6)
    best = set(as_tuples(x[p >= p[order[24]] - 1e-6], 10))
    assert set(as_tuples(top[list(ELEMENTS)].to_numpy(), 10)) <= best
    # Columns: formula, scores, size, the 8 features (equal to featurize), the 30 fractions.
    assert list(top.columns[:4]) == ["formula", "p_single_phase", "spread", "n_elements"]
    assert list(top.columns[4:12]) == list(FEATURES) and list(top.columns[12:]) == list(ELEMENTS)
    np.testing.assert_allclose(top[list(FEATURES)].to_numpy(), featurize(top[list(ELEMENTS)].to_numpy(), TABLE),
                               rtol=1e-12)
    np.testing.assert_allclose(top["spread"], scorer.predict_spread(top[list(FEATURES)].to_numpy()), atol=2e-6)
    assert top["formula"].iloc[0].count("0") >= 3  # at.% on the 10 % grid, e.g. Fe30Ni10Ti60
    # Summary and histograms agree with the brute-force scores.
    summary = reference.summary
    assert summary["alloys"] == summary["space"] == len(x) == 20_040 and summary["complete"]
    assert abs(summary["alloys_above_0.5"] - (p > 0.5).sum()) <= 2
    assert summary["share_above_0.5"] == summary["alloys_above_0.5"] / len(x)
    assert reference.histogram.sum() == len(x)
    assert abs(reference.histogram.iloc[50:].sum() - (p >= 0.5).sum()) <= 2
    assert reference.histograms["n_elements"].sum().to_dict() == count_space(SMALL, by_size=True)
    assert reference.describe().startswith("Screened 20,040 alloys of 330 element sets")


def test_histograms_by_element_and_family(reference):
    by_element = reference.histograms["element"].sum()
    for symbol in ("Fe", "Al", "Mo"):
        assert by_element[symbol] == count_space(SMALL.updated({"required": symbol}))
    assert by_element["Pt"] == 0
    x = np.concatenate(list(iter_compositions(SMALL)))
    shares = np.stack([x[:, [IDX[s] for s in members]].sum(axis=1) for members in FAMILIES.values()], axis=1)
    dominant = np.where(shares.max(axis=1) > 0.5 + 1e-9, shares.argmax(axis=1), len(FAMILIES))
    expected = {name: int((dominant == i).sum()) for i, name in enumerate(FAMILY_NAMES)}
    assert reference.histograms["family"].sum().to_dict() == expected
    share = reference.share_single_phase("n_elements")
    assert set(share.index) == {3, 4} and ((share >= 0) & (share <= 1)).all()


def test_ties_keep_the_enumeration_order():
    flat = Scorer.from_models([random_model(5, zero_output=True)], table=TABLE)
    result = run(flat, top=40, batch_size=128)
    first = np.concatenate(list(iter_compositions(SMALL, batch_size=128)))[:40]
    assert (result.top["p_single_phase"] == 0.5).all()
    np.testing.assert_array_equal(result.top[list(ELEMENTS)].to_numpy(), first)


@pytest.mark.parametrize("batch_size", [64, 320, 50_000])
def test_batch_size_does_not_change_the_result(scorer, reference, batch_size):
    result = run(scorer, batch_size=batch_size)
    assert result.summary["largest_batch"] <= batch_size
    assert_same_result(result, reference)


def test_threads_and_processes_give_the_same_result(scorer, reference):
    threads = run(scorer, workers=2, backend="threads", batch_size=512)
    assert threads.summary["backend"] == "threads"
    assert_same_result(threads, reference)
    processes = run(scorer, workers=2, backend="processes", batch_size=2048)
    assert processes.summary["backend"] == "processes"
    assert_same_result(processes, reference)


def test_dask_local_cluster_gives_the_same_result(scorer, reference):
    pytest.importorskip("distributed")
    result = run(scorer, workers=2, backend="dask", batch_size=2048)
    assert result.summary["backend"] == "dask"
    assert_same_result(result, reference)


def test_stopped_screen_resumes_to_the_same_result(scorer, reference, tmp_path):
    state = tmp_path / "screen.state"
    partial = run(scorer, state_file=state, max_batches=3)
    assert not partial.summary["complete"] and partial.summary["alloys"] == 3 * 1024
    assert state.is_file()
    resumed = run(scorer, state_file=state)
    assert resumed.summary["complete"] and resumed.summary["batches"] == math.ceil(20_040 / 1024)
    assert_same_result(resumed, reference)
    # A finished state answers without screening again.
    again = run(scorer, state_file=state, max_batches=0)
    assert_same_result(again, reference)
    assert list(tmp_path.iterdir()) == [state]  # no temporary file left


def test_interrupted_screen_resumes_to_the_same_result(scorer, reference, tmp_path, monkeypatch):
    state = tmp_path / "screen.state"
    original, calls = runners._run_batch, []

    def failing(batch, *args):
        calls.append(batch.index)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return original(batch, *args)

    monkeypatch.setattr(runners, "_run_batch", failing)
    with pytest.raises(KeyboardInterrupt):
        run(scorer, state_file=state, checkpoint_seconds=1e9)
    monkeypatch.setattr(runners, "_run_batch", original)
    resumed = run(scorer, state_file=state, max_batches=100)
    assert resumed.summary["batches"] == math.ceil(20_040 / 1024)
    assert_same_result(resumed, reference)
    assert list(tmp_path.iterdir()) == [state]


def test_state_of_another_screen_is_refused(scorer, tmp_path):
    state = tmp_path / "screen.state"
    run(scorer, state_file=state, max_batches=1)
    with pytest.raises(ScreenStateError, match="constraints"):
        run(scorer, SMALL.updated({"max_fraction": 0.7}), state_file=state)
    other_model = Scorer.from_models([random_model(9)], table=TABLE)
    with pytest.raises(ScreenStateError, match="scorer"):
        run(other_model, state_file=state)
    with pytest.raises(ScreenStateError, match="batch_size: file 1024, now 2048"):
        run(scorer, state_file=state, batch_size=2048)
    (tmp_path / "junk.state").write_text("not a state")
    with pytest.raises(ScreenStateError, match="not a screen state file"):
        run(scorer, state_file=tmp_path / "junk.state")


def test_memory_is_bounded_by_the_batch_on_a_huge_space(scorer):
    issue = Constraints(n_elements=5, min_fraction=0.05, max_fraction=0.8, step=0.05)
    result = run(scorer, issue, batch_size=4096, chunk=512, max_batches=3)
    assert result.summary["space"] == 552_353_256
    assert result.summary["alloys"] == 3 * 4096 and not result.summary["complete"]
    assert result.summary["largest_batch"] == 4096
    assert admits(issue, result.top[list(ELEMENTS)].to_numpy()).all()


def test_annotate_adds_columns(scorer):
    result = run(scorer, annotate=lambda top: top.assign(note=top["formula"].str.len()))
    assert (result.top["note"] == result.top["formula"].str.len()).all()
    with pytest.raises(ValueError, match="one row per top alloy"):
        run(scorer, annotate=lambda top: top.head(3))


def test_bad_requests_raise_and_leave_no_file(scorer, tmp_path):
    state = tmp_path / "screen.state"
    with pytest.raises(ConstraintError, match="no equimolar alloy"):
        run(scorer, Constraints(required="Fe", n_elements=5, bounds={"Fe": (0.3, 0.5)}), state_file=state)
    (tmp_path / "space.yaml").write_text("n_elements: 4\nelement: [Fe, Ni]\n")
    with pytest.raises(ConstraintError, match="unknown key"):
        run(scorer, tmp_path / "space.yaml", state_file=state)
    with pytest.raises(ConstraintError, match="not among the 30"):
        run(scorer, {"elements": "Fe Ni Co Uu", "n_elements": 3}, state_file=state)
    with pytest.raises(ConstraintError, match="larger than the pool"):
        run(scorer, {"elements": "Fe Ni Co", "n_elements": 4}, state_file=state)
    with pytest.raises(ValueError, match="top must be a positive integer"):
        run(scorer, top=0, state_file=state)
    with pytest.raises(ValueError, match="backend"):
        run(scorer, backend="gpu", state_file=state)
    assert list(tmp_path.iterdir()) == [tmp_path / "space.yaml"]


def test_csv_is_written_atomically(reference, tmp_path):
    path = reference.to_csv(tmp_path / "top.csv")
    assert pd.read_csv(path, index_col="rank")["formula"].tolist() == reference.top["formula"].tolist()
    with pytest.raises(OutputError, match="missing"):
        reference.to_csv(tmp_path / "missing" / "top.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["top.csv"]


@pytest.mark.needs_data
def test_released_model_on_the_paper_space():
    from hea_dvae.model import load_released_model

    model = load_released_model()
    result = screen(model, top=20, progress=False)
    assert result.summary["alloys"] == 169_911
    assert result.summary["alloys_by_n_elements"] == {4: 27_405, 5: 142_506}
    x = result.top[list(ELEMENTS)].to_numpy()
    assert set(np.unique(x[x > 0]).round(12)) <= {0.25, 0.2}
    np.testing.assert_allclose(result.top["p_single_phase"], model.predict_proba(featurize(x, "paper")), atol=1e-6)
    assert result.top["spread"].isna().all()  # one model: no spread


def test_screening_figures_show_the_histograms(reference):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hea_dvae.reporting import plots

    families = plots.screen_group_distributions(reference, by="family")
    present = reference.histograms["family"].sum()
    assert len(families.axes[0].patches) == (present > 0).sum()
    sizes = plots.screen_group_distributions(reference, by="n_elements")
    shares = [patch.get_data()[0] for patch in sizes.axes[0].patches]
    np.testing.assert_allclose([s.sum() for s in shares], 1)  # each line is a share of its group
    share = plots.screen_single_phase_share(reference)
    heights = [bar.get_height() for bar in share.axes[0].patches]
    np.testing.assert_allclose(heights, reference.share_single_phase("n_elements").to_numpy())
    elements = plots.screen_element_share(reference)
    bars = [bar for bar in elements.axes[0].patches if bar.get_width() > 0]
    assert len(bars) == 10  # the ten elements of the small space
    heights = [bar.get_height() for bar in bars]
    assert heights == sorted(heights, reverse=True)
    np.testing.assert_allclose(max(heights), reference.share_single_phase("element").max())
    for figure in (families, sizes, share, elements):
        plt.close(figure)


def test_each_members_share_equals_a_screen_of_that_member_alone(scorer, reference):
    for index in range(scorer.n_members):
        alone = run(scorer.member(index))
        assert reference.summary["member_shares_above_0.5"][index] == alone.summary["share_above_0.5"]
        assert reference.summary["member_shares_above_0.9"][index] == alone.summary["share_above_0.9"]
        for by in ("n_elements", "family"):
            expected = alone.share_single_phase(by)
            got = reference.member_shares(by).loc[index, expected.index]
            np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
