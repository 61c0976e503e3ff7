"""Inverse design: recipes, rounding, constraints, the three routes and the evidence."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Composition

from hea_dvae import design, paper
from hea_dvae.compositions import as_fractions, composition_distance, formula_on_grid, round_as_authors
from hea_dvae.design.feasibility import admits
from hea_dvae.predictors import score
from hea_dvae.design.constraints import Constraints
from hea_dvae.features import ELEMENTS, FEATURES, composition_vector
from hea_dvae.model import SSVAE, SSVAEConfig
from hea_dvae.predictors import Ensemble, released_predictor

# The paper's numbers (Sec. 3.4 and Fig. 7), obtained with the released model.
PAPER_FLIP = list(paper.FLIP_PATH)
PAPER_LATENT = [(d.z, d.y, d.formula, d.p) for d in paper.LATENT_DESIGNS]


def _index(symbol: str) -> int:
    return ELEMENTS.index(symbol)


def random_ensemble(seed: int = 0, hidden=(16, 16)) -> Ensemble:
    """An untrained model: its decoder still returns compositions, its classifier some p."""
    torch.manual_seed(seed)
    return Ensemble([SSVAE(SSVAEConfig(hidden=hidden)).eval()], name=f"random {seed}")


def delta_ensemble() -> Ensemble:
    """A model whose p(single phase) rises as the size mismatch delta falls.

    One hidden unit: logit = 2 softplus(5 - delta) - 4 (delta in %), so
    p ~ 0.07 at delta = 5 % and p ~ 0.997 at delta = 0: every composition
    can be pushed up by shrinking delta.
    """
    torch.manual_seed(0)
    model = SSVAE(SSVAEConfig(hidden=(1,)))
    first, last = model.encoder_y.layers[0], model.encoder_y.layers[2]
    with torch.no_grad():
        first.weight.zero_()
        first.weight[0, FEATURES.index("delta")] = -1.0
        first.bias.fill_(5.0)
        last.weight.fill_(2.0)
        last.bias.fill_(-4.0)
    return Ensemble([model.eval()], name="delta rule")


def independent_check(x: np.ndarray, pool, max_elements, low, high, step, bounds=None) -> list[str]:
    """The constraints, checked without the Constraints class."""
    problems = []
    present = x > 1e-12
    symbols = set(np.array(ELEMENTS)[present])
    if abs(x.sum() - 1) > 1e-9:
        problems.append(f"sum {x.sum()}")
    if symbols - set(pool):
        problems.append(f"{symbols - set(pool)} outside the pool")
    if present.sum() > max_elements:
        problems.append(f"{present.sum()} elements")
    if (x[present] < low - 1e-9).any() or (x[present] > high + 1e-9).any():
        problems.append("fraction out of bounds")
    for symbol, (lo, hi) in (bounds or {}).items():
        value = x[_index(symbol)]
        if value > 0 and not lo - 1e-9 <= value <= hi + 1e-9:
            problems.append(f"{symbol} {value} out of its bounds")
    if np.abs(x / step - np.round(x / step)).max() > 1e-9:
        problems.append("off the grid")
    return problems


# --------------------------------------------------------------------------
# Recipe


def test_recipe_weighs_the_batch_exactly():
    table = design.recipe("Fe21Ni22Cr22Co35", batch_grams=50)
    assert table["element"].tolist() == ["Fe", "Ni", "Cr", "Co"]
    assert table["grams"].sum() == pytest.approx(50, abs=1e-9)
    np.testing.assert_allclose(table["at_pct"], [21, 22, 22, 35])
    # Mass fractions from pymatgen's own composition arithmetic.
    composition = Composition("Fe21Ni22Cr22Co35")
    expected = [100 * composition.get_wt_fraction(el) for el in table["element"]]
    np.testing.assert_allclose(table["wt_pct"], expected, rtol=1e-9)
    np.testing.assert_allclose(table["grams"], 0.5 * np.array(expected), atol=1e-3)


def test_recipe_columns_sum_to_the_batch_for_every_alloy():
    alloys = ["CoCrFeMnNi", "Al0.3CoCrFeNi", "NbMoTaW", "Li1Mg1"]
    frame = design.recipe_columns(alloys, batch_grams=37.5)
    grams = frame.filter(like="grams_")
    np.testing.assert_allclose(grams.sum(axis=1), 37.5, rtol=1e-12)
    # Heavy W outweighs light Nb in an equimolar alloy, in their mass ratio.
    assert frame.loc[2, "grams_W"] / frame.loc[2, "grams_Nb"] == pytest.approx(183.84 / 92.906, rel=1e-3)
    # The printed amounts, rounded to mg, still add up to the batch.
    for text in frame["recipe"]:
        printed = [float(part.split()[1]) for part in text.split(", ")]
        assert sum(printed) == pytest.approx(37.5, abs=1e-9)


@pytest.mark.parametrize("batch", [0, -5, float("nan")])
def test_recipe_refuses_a_nonsense_batch(batch):
    with pytest.raises(ValueError, match="batch"):
        design.recipe("CoCrFeNi", batch)


# --------------------------------------------------------------------------
# Compositions, rounding, distance


def test_paper_rounding_keeps_whole_percents_that_need_not_sum_to_100():
    x = np.zeros(30)
    x[[_index(s) for s in ("Fe", "Ni", "Cr", "Co", "Al")]] = [0.1714, 0.2213, 0.2287, 0.2535, 0.1201]
    x[_index("Cu")] = 1 - x.sum()  # 0.005: 0.004999... in float32, rounds to 0 at.%, never to a fraction
    amounts = round_as_authors(x)
    expected = np.zeros(30)
    expected[[_index(s) for s in ("Fe", "Ni", "Cr", "Co", "Al")]] = [17, 22, 23, 25, 12]
    np.testing.assert_allclose(100 * amounts, expected, atol=1e-9)
    assert formula_on_grid(amounts) == "Fe17Ni22Cr23Co25Al12"  # 99 at.%, as the paper prints it


def test_the_authors_rounding_truncates_a_float32_product_below_a_whole_number():
    # torch.round(0.53, decimals=2) * 100 is 52.999996 in float32, which int() truncates to 52.
    x = np.zeros(30)
    x[[0, 1]] = [0.53, 0.47]
    np.testing.assert_allclose(100 * round_as_authors(x)[:2], [52, 47], atol=1e-9)


def test_formula_from_amounts_writes_the_decimals_a_step_needs():
    x = composition_vector("Fe2Ni1Co1")
    assert formula_on_grid(x, step=0.01) == "Fe50Ni25Co25"
    x = np.zeros(30)
    x[[0, 1]] = [0.625, 0.375]
    assert formula_on_grid(x, step=0.005) == "Fe62.5Ni37.5"


def test_composition_distance_counts_the_material_moved():
    cantor, quaternary = composition_vector("CoCrFeMnNi"), composition_vector("CoCrFeNi")
    d = composition_distance(np.stack([cantor, quaternary]), np.stack([quaternary, composition_vector("W")]))
    # Mn (20 at.%) must go and be shared out among the other four: 20 at.% moved.
    assert d[0, 0] == pytest.approx(20)
    assert d[1, 0] == 0
    assert d[0, 1] == pytest.approx(100) and d[1, 1] == pytest.approx(100)


@pytest.mark.needs_data
@pytest.mark.parametrize(
    "spec, pool, max_elements, low, high, step",
    [
        (dict(elements="Fe Ni Co Cr Mn Al Cu", max_elements=4, min_fraction=0.1, max_fraction=0.4, step=0.05),
         "Fe Ni Co Cr Mn Al Cu", 4, 0.1, 0.4, 0.05),
        (dict(n_elements=[5], min_fraction=0.05, max_fraction=0.35, bounds={"Al": [0.05, 0.15]}, step=0.05),
         " ".join(ELEMENTS), 5, 0.05, 0.35, 0.05),
        (dict(required=["Ni"], forbidden=["Fe", "Co"], max_elements=3),
         " ".join(s for s in ELEMENTS if s not in ("Fe", "Co")), 3, 0.01, 1.0, 0.01),
    ],
)
def test_projection_lands_inside_the_constraints(spec, pool, max_elements, low, high, step):
    constraints = Constraints.from_mapping(spec)
    rng = np.random.default_rng(1)
    x = rng.dirichlet(np.full(30, 0.3), size=300)
    projected = design.project(x, constraints)
    assert design.admitted(projected, constraints).all()
    for row in projected:
        assert independent_check(row, pool.split(), max_elements, low, high, step, spec.get("bounds")) == []
    if "n_elements" in spec:
        assert ((projected > 0).sum(axis=1) == 5).all()
    if "required" in spec:
        assert (projected[:, _index("Ni")] > 0).all()


def test_projection_of_an_admitted_alloy_leaves_it_alone():
    constraints = Constraints(elements=("Fe", "Ni", "Co", "Cr"), step=0.05)
    x = composition_vector("Fe30Ni25Co25Cr20")
    np.testing.assert_allclose(design.project(x, constraints)[0], x, atol=1e-12)


# --------------------------------------------------------------------------
# Route 1: latent decoding


@pytest.mark.needs_data
def test_latent_decoding_gives_compositions_that_the_formula_states():
    predictor = random_ensemble()
    z = np.random.default_rng(0).normal(size=(40, 2)) * 2
    frame = design.decode_latent(predictor, z, np.linspace(0, 1, 40))
    x = frame[list(ELEMENTS)].to_numpy()
    assert (x >= 0).all()
    np.testing.assert_allclose(x.sum(axis=1), 1, atol=1e-12)
    # The formula is the alloy: parsing it gives the fractions back.
    np.testing.assert_allclose(np.stack([composition_vector(f) for f in frame["formula"]]), x, atol=1e-12)
    p, spread = score(predictor, x)
    np.testing.assert_allclose(frame["p_single_phase"], p)
    assert frame.attrs["model_identity"] == predictor.identity
    assert frame.attrs["parameters"]["route"] == "latent"


@pytest.mark.needs_data
def test_latent_decoding_within_constraints():
    constraints = Constraints(elements="Fe Ni Co Cr Mn Al Ti V", n_elements=[4], min_fraction=0.1, step=0.05)
    frame = design.decode_latent(random_ensemble(1), np.random.default_rng(1).normal(size=(25, 2)), 0.9,
                                 constraints=constraints)
    x = frame[list(ELEMENTS)].to_numpy()
    assert admits(constraints, x).all()
    assert ((x > 0).sum(axis=1) == 4).all()


def test_latent_decoding_refuses_a_label_outside_0_1():
    with pytest.raises(ValueError, match="1.5"):
        design.decode_latent(random_ensemble(), [0.0, 0.0], 1.5)


@pytest.mark.needs_data
def test_latent_decoding_reproduces_the_paper_with_the_released_model():
    released = released_predictor()
    for z, y, formula, p in PAPER_LATENT:
        row = design.decode_latent(released, z, y).iloc[0]
        assert row["formula"] == formula
        assert row["p_single_phase"] == pytest.approx(p, abs=0.005)
    # The paper prints z = (0.8, -0.5) for Fe2Co81Ta14Pt2: a sign slip.
    slip = paper.LATENT_DESIGNS[2]
    assert design.decode_latent(released, slip.printed_z, slip.y).iloc[0]["formula"] != slip.formula


# --------------------------------------------------------------------------
# Route 2: the label-flip loop


@pytest.mark.needs_data
def test_label_flip_reproduces_the_paper_trajectory():
    result = design.invert_flip(paper.FLIP_SEED, released_predictor(), target=paper.FLIP_TARGET)
    path = result.trajectory
    assert path["formula"].tolist() == [formula for formula, _ in PAPER_FLIP]
    assert path["p_single_phase"].round(2).tolist() == [p for _, p in PAPER_FLIP]
    final = result.final.iloc[0]
    assert final["success"] and final["steps"] == 3 and final["n_elements"] == 4


@pytest.mark.needs_data
def test_label_flip_with_a_hard_label_is_another_path():
    path = design.invert_flip(PAPER_FLIP[0][0], released_predictor(), target=0.6, label="hard").trajectory
    assert path["formula"].tolist()[:4] != [formula for formula, _ in PAPER_FLIP]


@pytest.mark.needs_data
def test_label_flip_stays_inside_the_constraints():
    constraints = Constraints(elements="Fe Ni Co Cr Mn Al Cu Ti", max_elements=5, min_fraction=0.05, step=0.01)
    result = design.invert_flip(["AlCoCrFeNi", "CoCrFeNiTi"], random_ensemble(2), target=0.99,
                                max_steps=4, constraints=constraints)
    x = result.trajectory[list(ELEMENTS)].to_numpy()
    assert admits(constraints, x).all()
    assert result.final["admitted"].all()


# --------------------------------------------------------------------------
# Route 3: gradient inversion


@pytest.mark.needs_data
@pytest.mark.slow
def test_gradient_inversion_raises_p_and_respects_every_constraint():
    predictor = delta_ensemble()
    pool = ("Fe", "Ni", "Co", "Cr", "Al", "Ti", "Cu")
    constraints = Constraints(elements=pool, forbidden=("Cu",), max_elements=4, min_fraction=0.1,
                              max_fraction=0.4, step=0.05)
    seeds = ["AlCoCrFeNi", "Al2CrFeNiTi", "AlCuNiTi"]
    start, _ = score(predictor, as_fractions(seeds))
    result = design.invert_gradient(seeds, predictor, target=0.8, constraints=constraints, progress=False)
    final = result.final
    x = final[list(ELEMENTS)].to_numpy()
    assert (final["p_single_phase"].to_numpy() > start + 0.3).all()
    assert final["success"].all() and final["admitted"].all()
    for row in x:
        assert independent_check(row, ("Fe", "Ni", "Co", "Cr", "Al", "Ti"), 4, 0.1, 0.4, 0.05) == []
    # Re-scored after rounding, not the optimiser's last value.
    np.testing.assert_allclose(final["p_single_phase"], score(predictor, x)[0])
    path = result.trajectory
    assert set(path["phase"]) == {1, 2}
    assert path.groupby("seed")["step"].max().eq(result.final["steps"].iloc[0]).all()


@pytest.mark.needs_data
def test_gradient_inversion_moves_less_when_moving_costs_more():
    predictor = delta_ensemble()
    constraints = Constraints(elements="Fe Ni Co Cr Al", step=0.01)
    cheap = design.invert_gradient("AlCoCrFeNi", predictor, target=0.6, constraints=constraints,
                                   distance_weight=0.0, progress=False).final.iloc[0]
    dear = design.invert_gradient("AlCoCrFeNi", predictor, target=0.6, constraints=constraints,
                                  distance_weight=3.0, progress=False).final.iloc[0]
    assert dear["distance"] < cheap["distance"]


@pytest.mark.parametrize("target", [0, 1, 1.5, -0.1])
def test_inversion_refuses_a_target_outside_0_1(target):
    with pytest.raises(ValueError, match="target"):
        design.invert_flip("CoCrFeNi", random_ensemble(), target=target)


@pytest.mark.needs_data
@pytest.mark.slow
def test_compare_inversions_lists_both_methods_for_every_seed():
    seeds = ["AlCoCrFeNi", "CoCrFeNiTi"]
    table = design.compare_inversions(seeds, delta_ensemble(), target=0.8,
                                      constraints=Constraints(max_elements=5, step=0.01),
                                      flip={"max_steps": 3}, gradient={"progress": False})
    assert sorted(zip(table["method"], table["seed"])) == sorted((m, s) for m in ("flip", "gradient") for s in seeds)
    summary = design.summarize_inversions(table)
    assert summary.loc["gradient", "success_rate"] == table[table["method"] == "gradient"]["success"].mean()


# --------------------------------------------------------------------------
# Evidence


def _toy_reference() -> design.Reference:
    data = pd.DataFrame(
        np.stack([composition_vector(f) for f in ("CoCrFeNi", "CoCrFeMnNi", "NbMoTaW", "FeNi")]),
        columns=list(ELEMENTS),
    )
    data.insert(0, "formula", ["CoCrFeNi", "CoCrFeMnNi", "NbMoTaW", "FeNi"])
    data["label"] = [1, 1, 1, 0]
    return design.reference_from(data)


@pytest.mark.needs_data
def test_evidence_finds_neighbours_unseen_pairs_and_dataset_alloys():
    reference = _toy_reference()
    candidates = ["Co25Cr25Fe25Ni25", "CoCrFeNiW", "Fe60Ni40"]
    found = design.evidence(candidates, random_ensemble(), reference=reference)
    assert found["in_dataset"].tolist() == [True, False, False]
    assert found["dataset_label"].iloc[0] == 1 and pd.isna(found["dataset_label"].iloc[1])
    assert found["nearest_formula"].tolist() == ["CoCrFeNi", "CoCrFeNi", "FeNi"]
    assert found["distance_to_data"].tolist() == pytest.approx([0, 20, 10])
    # W never meets Fe, Ni, Co or Cr in this reference; Fe and Ni do meet.
    assert found.loc[1, "unseen_pairs"].split() == ["Fe-W", "Ni-W", "Cr-W", "Co-W"]
    assert found.loc[2, "n_unseen_pairs"] == 0
    assert found["outside_data"].tolist() == [False, True, False]
    for column in ("rules_omega", "rules_delta", "rules_vec", "rules_yang2012", "rules_single_phase", "spread"):
        assert column in found


@pytest.mark.needs_data
def test_evidence_rules_are_read_on_the_table_they_were_calibrated_on():
    from hea_dvae import priors
    from hea_dvae.features import featurize

    found = design.evidence(["CoCrFeMnNi", "AlCoCrFeNi"], random_ensemble(), reference=_toy_reference())
    verdict = priors.rules_verdict(featurize(as_fractions(["CoCrFeMnNi", "AlCoCrFeNi"]), "standard"))
    np.testing.assert_allclose(found["rules_vec"], verdict["vec"])
    np.testing.assert_allclose(found["rules_delta"], verdict["delta"])
    assert found["rules_single_phase"].tolist() == verdict["single_phase"].tolist()
    # The Cantor alloy as the literature gives it (metallic radii, Takeuchi-Inoue pair
    # enthalpies), not the paper table's 1.78 % and -6.54 kJ/mol.
    assert found.loc[0, "rules_delta"] == pytest.approx(3.27, abs=0.005)
    assert found.loc[0, "rules_delta_h_mix"] == pytest.approx(-4.16, abs=0.005)


@pytest.mark.needs_data
def test_evidence_against_the_dataset_flags_the_cantor_alloy_as_known():
    found = design.evidence(["CoCrFeMnNi", "Li50W50"], random_ensemble())
    assert found.loc[0, "in_dataset"] and found.loc[0, "dataset_label"] == 1
    assert found.loc[1, "outside_data"]


@pytest.mark.needs_data
def test_rank_candidates_pools_routes_and_ranks_new_alloys_inside_the_data_first():
    predictor = delta_ensemble()
    candidates = {
        "screen": pd.DataFrame({"formula": ["CoCrFeNi", "Fe60Ni40", "Fe45Ni55"]}),
        "gradient": pd.DataFrame({"formula": ["Ni55Fe45", "Fe40Co20Ni40", "W50Li50"]}),
    }
    ranked = design.rank_candidates(candidates, predictor, batch_grams=10, reference=_toy_reference())
    # CoCrFeNi is in the reference (not a proposal); Fe45Ni55 was proposed twice.
    assert sorted(ranked["formula"]) == ["Fe40Co20Ni40", "Fe45Ni55", "Fe60Ni40", "W50Li50"]
    assert ranked.set_index("formula").loc["Fe45Ni55", "routes"] == "screen, gradient"
    assert ranked.index.tolist() == [1, 2, 3, 4]
    assert ranked["formula"].iloc[-1] == "W50Li50"  # outside the data: last whatever its p
    inside = ranked[~ranked["outside_data"]]
    assert (np.diff(inside["p_single_phase"].to_numpy()) <= 0).all()
    np.testing.assert_allclose(inside["p_single_phase"], score(predictor, as_fractions(inside))[0])
    np.testing.assert_allclose(ranked.filter(like="grams_").sum(axis=1), 10)


@pytest.mark.needs_data
def test_proposals_are_diverse_unless_asked_otherwise():
    # Two alloys 1 at.% apart are one proposal, not two (chapter 6 once ranked such a pair).
    predictor = delta_ensemble()
    candidates = {"gradient": pd.DataFrame({"formula": ["Fe45Ni55", "Fe46Ni54", "Fe70Ni30"]})}
    diverse = design.rank_candidates(candidates, predictor, reference=_toy_reference())
    assert len(diverse) == 2 and "Fe70Ni30" in set(diverse["formula"])
    assert len({"Fe45Ni55", "Fe46Ni54"} & set(diverse["formula"])) == 1
    every = design.rank_candidates(candidates, predictor, reference=_toy_reference(), min_distance=0)
    assert len(every) == 3


@pytest.mark.needs_data
def test_designs_are_judged_by_every_judge_against_the_target():
    from hea_dvae.baselines import FeatureClassifier

    class Constant:  # a scikit-learn-like classifier: p = 0.8 for every alloy
        def predict_proba(self, e):
            return np.tile([0.2, 0.8], (len(e), 1))

    ends = pd.DataFrame({"formula": ["CoCrFeMnNi", "Fe60Ni40"]})
    judges = {"delta": delta_ensemble(), "constant": FeatureClassifier(Constant(), "corrected", "constant")}
    found = design.judged(ends, judges, target=0.7)
    np.testing.assert_allclose(found["p (delta)"], score(judges["delta"], as_fractions(ends))[0])
    assert found["p (constant)"].tolist() == [0.8, 0.8] and found["reached (constant)"].all()
    assert np.isnan(judges["constant"].predict_spread(np.zeros((2, 8)))).all()  # one model: no spread


def test_an_independent_judge_never_shares_a_seed_with_the_default_predictor():
    with pytest.raises(ValueError, match="members of the default predictor"):
        design.independent_judges(seeds=[3, 7])


# --------------------------------------------------------------------------
# Provenance and files


@pytest.mark.needs_data
def test_results_carry_the_model_and_the_parameters_into_csv(tmp_path):
    predictor = random_ensemble()
    frame = design.decode_latent(predictor, [0.5, -0.5], 0.9)
    path = tmp_path / "latent.csv"
    design.write_csv(frame, path)
    lines = path.read_text().splitlines()
    assert lines[0] == f"# model: {predictor.name}"
    assert lines[1] == f"# model_identity: {predictor.identity}"
    assert any(line.startswith("# route: latent") for line in lines)
    back = pd.read_csv(path, comment="#")
    assert back["formula"].tolist() == frame["formula"].tolist()
    stream = io.StringIO()
    design.write_csv(frame, stream, columns=["formula", "p_single_phase"])
    assert stream.getvalue().splitlines()[len(design.provenance_lines(frame))] == "formula,p_single_phase"


def test_write_csv_leaves_nothing_behind_on_error(tmp_path):
    frame = pd.DataFrame({"formula": ["CoCrFeNi"], "p_single_phase": [0.5]})
    with pytest.raises(KeyError):
        design.write_csv(frame, tmp_path / "out.csv", columns=["formula", "no_such_column"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.needs_data
def test_summarize_by_member_runs_each_member_alone():
    members = [random_ensemble(0).members[0], delta_ensemble().members[0]]
    table = design.summarize_by_member(["AlCoCrFeNi"], Ensemble(members), target=0.8,
                                       constraints=Constraints(max_elements=5, step=0.01),
                                       flip={"max_steps": 2}, gradient={"progress": False, "steps": 50})
    assert table.index.names == ["member", "method"]
    assert sorted(table.index) == [(0, "flip"), (0, "gradient"), (1, "flip"), (1, "gradient")]
    alone = design.summarize_inversions(design.compare_inversions(
        ["AlCoCrFeNi"], delta_ensemble(), target=0.8, constraints=Constraints(max_elements=5, step=0.01),
        flip={"max_steps": 2}, gradient={"progress": False, "steps": 50}))
    pd.testing.assert_frame_equal(table.loc[1], alone)


def test_no_public_name_of_the_design_package_is_also_one_of_its_modules():
    # A submodule, once imported, would shadow the lazily loaded function of the same name.
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(design.__path__)}
    assert not modules & set(design.__all__)
    assert set(design.__all__) == set(design._LAZY)
