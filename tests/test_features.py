"""Formulas, element tables and the 8 features, checked against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from hea_dvae import data
from hea_dvae.features import (
    ELEMENTS,
    FEATURES,
    composition_vector,
    contains_any,
    feature_agreement,
    featurize,
    find_duplicate_compositions,
    formula_from_vector,
    get_table,
    table_differences,
)

R = 8.314  # J/(mol K), the authors' value
IDX = {symbol: i for i, symbol in enumerate(ELEMENTS)}

#: The nine elements whose upstream VEC is too high: the 5d metals count
#: their 4f^14 shell, tin its filled 4d^10 shell.
FOUR_F = ("Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Sn")
VEC_EXCESS = {**{s: 14 for s in FOUR_F}, "Sn": 10}

#: s + d valence electrons (group number, minus 10 for groups 13-18), by hand.
STANDARD_VEC = {
    "Li": 1, "Mg": 2, "Al": 3, "Si": 4, "Sc": 3, "Ti": 4, "V": 5, "Cr": 6,
    "Mn": 7, "Fe": 8, "Co": 9, "Ni": 10, "Cu": 11, "Zn": 12, "Zr": 4, "Nb": 5,
    "Mo": 6, "Ru": 8, "Rh": 9, "Pd": 10, "Ag": 11, "Sn": 4, "Hf": 4, "Ta": 5,
    "W": 6, "Re": 7, "Os": 8, "Ir": 9, "Pt": 10, "Au": 11,
}  # fmt: skip

#: Upstream (paper) table entries used in the hand calculations below:
#: symbol -> (k GPa, vm cm3/mol, tm K, vac, ar pm, chi).
PAPER = {
    "Co": (179, 6.70, 1768.15, 9, 135, 1.88),
    "Cr": (160, 7.23, 2180.15, 6, 140, 1.66),
    "Fe": (169, 7.10, 1811.15, 8, 140, 1.83),
    "Mn": (118, 7.39, 1519.15, 7, 140, 1.55),
    "Ni": (179, 6.60, 1728.15, 10, 135, 1.91),
    "Al": (76, 10.00, 933.47, 3, 125, 1.61),
}


def vector(**amounts) -> np.ndarray:
    x = np.zeros(len(ELEMENTS))
    for symbol, amount in amounts.items():
        x[IDX[symbol]] = amount
    return x / x.sum()


# --------------------------------------------------------------------------
# Formulas


@pytest.mark.parametrize(
    "formula, expected",
    [
        ("CoCrFeMnNi", {"Co": 0.2, "Cr": 0.2, "Fe": 0.2, "Mn": 0.2, "Ni": 0.2}),
        ("Al0.5CoCrFeNi", {"Al": 0.5 / 4.5, "Co": 1 / 4.5, "Cr": 1 / 4.5, "Fe": 1 / 4.5, "Ni": 1 / 4.5}),
        ("AlCoCrFeNi2.1", {"Al": 1 / 6.1, "Co": 1 / 6.1, "Cr": 1 / 6.1, "Fe": 1 / 6.1, "Ni": 2.1 / 6.1}),
        ("Ti25Zr25Nb25Ta25", {"Ti": 0.25, "Zr": 0.25, "Nb": 0.25, "Ta": 0.25}),
        # 90 formula units of CoCrFeNi (360 atoms) and 10 Al: 370 atoms.
        ("(CoCrFeNi)90Al10", {"Al": 10 / 370, "Co": 90 / 370, "Cr": 90 / 370, "Fe": 90 / 370, "Ni": 90 / 370}),
        ("Fe", {"Fe": 1.0}),
    ],
)
def test_composition_vector(formula, expected):
    x = composition_vector(formula)
    assert x.shape == (30,)
    np.testing.assert_allclose(x, vector(**expected), rtol=0, atol=1e-15)
    assert {ELEMENTS[i] for i in np.flatnonzero(x)} == set(expected)


@pytest.mark.parametrize(
    "formula, words",
    [
        ("Xx", r"unknown element symbol 'Xx'"),
        ("Fe2O3", r"O not among the 30 supported elements \(Fe Ni Cr Co Al .* Li Sc\)"),
        ("", "empty formula"),
        ("   ", "empty formula"),
        ("Al0CoCrFeNi", "zero amount for Al"),
        ("Al-1CoCr", r"'Al-1CoCr': unexpected character '-' at position 3"),
        ("FeNi!", r"cannot parse formula 'FeNi!'"),
    ],
)
def test_composition_vector_errors_name_the_problem(formula, words):
    with pytest.raises(ValueError, match=words):
        composition_vector(formula)


def test_composition_vector_needs_a_string():
    with pytest.raises(TypeError, match="string"):
        composition_vector(["Fe", "Ni"])


def test_formula_from_vector_in_atomic_percent():
    assert formula_from_vector(vector(Co=1, Cr=1, Fe=1, Mn=1, Ni=1)) == "Fe20Ni20Cr20Co20Mn20"
    # 1/3 and 2/3: 33.3 and 66.7 at.% to one decimal; an element under 0.5 at.% is dropped.
    assert formula_from_vector(vector(Al=1, Ni=2)) == "Ni66.7Al33.3"
    assert formula_from_vector(vector(Fe=0.996, Ni=0.004)) == "Fe99.6"


@pytest.mark.parametrize("digits", [0, 1, 2, 3])
def test_whole_amounts_keep_their_trailing_zeros_at_every_precision(digits):
    # "20".rstrip("0") is "2": with digits=0 a whole amount once lost its zero
    # (chapter 2's reconstruction table printed Co2 for Co20, summing to 81).
    assert formula_from_vector(vector(Co=1, Cr=1, Fe=1, Mn=1, Ni=1), digits=digits) == "Fe20Ni20Cr20Co20Mn20"
    assert formula_from_vector(vector(Fe=0.5, Ni=0.3, Co=0.2), digits=digits) == "Fe50Ni30Co20"
    assert formula_from_vector(vector(Fe=0.9, Ni=0.1), digits=digits) == "Fe90Ni10"


# --------------------------------------------------------------------------
# Hand-worked features with the paper table


@pytest.mark.needs_data
def test_paper_table_holds_the_values_used_by_hand():
    elements, _ = data.read_upstream_tables()
    for symbol, (k, vm, tm, vac, ar, chi) in PAPER.items():
        assert elements[symbol] == {"k": k, "vm": vm, "tm": tm, "vac": vac, "ar": ar, "chi": chi}


@pytest.mark.needs_data
def test_cantor_alloy_by_hand():
    _, enthalpies = data.read_upstream_tables()
    symbols = ["Co", "Cr", "Fe", "Mn", "Ni"]
    h_pairs = [enthalpies[f"{a},{b}"] for i, a in enumerate(symbols) for b in symbols[i + 1:]]
    assert len(h_pairs) == 10
    # Co-Cr -6.8, Co-Fe -1.4, Co-Mn -8.2, Co-Ni 0, Cr-Fe -2.8, Cr-Mn 2.8,
    # Cr-Ni -9.5, Fe-Mn 0, Fe-Ni -2.7, Mn-Ni -12.3: sum -40.9.
    assert sum(h_pairs) == pytest.approx(-40.9, abs=1e-12)

    e = featurize(composition_vector("CoCrFeMnNi"))
    got = dict(zip(FEATURES, e))
    assert got["k"] == pytest.approx((179 + 160 + 169 + 118 + 179) / 5)  # 161
    assert got["vm"] == pytest.approx((6.70 + 7.23 + 7.10 + 7.39 + 6.60) / 5)  # 7.004
    assert got["tm"] == pytest.approx(1801.35)  # (1768.15+2180.15+1811.15+1519.15+1728.15)/5
    assert got["vac"] == pytest.approx(8.0)  # (9+6+8+7+10)/5
    # r_bar = (2*135 + 3*140)/5 = 138; sum c(1-r/r_bar)^2 = 0.2*(2*3^2 + 3*2^2)/138^2
    assert got["delta"] == pytest.approx(100 * math.sqrt(6) / 138)  # 1.775 %
    # chi_bar = 8.83/5 = 1.766; deviations .114 -.106 .064 -.216 .144
    chi_dev = [0.114, -0.106, 0.064, -0.216, 0.144]
    assert got["delta_chi"] == pytest.approx(math.sqrt(0.2 * sum(d * d for d in chi_dev)))
    assert got["delta_s_mix"] == pytest.approx(R * math.log(5), abs=1e-5)  # 13.38
    assert got["delta_s_mix"] == pytest.approx(13.3808, abs=1e-4)
    assert got["delta_h_mix"] == pytest.approx(4 * 0.2 * 0.2 * -40.9)  # -6.544 kJ/mol


@pytest.mark.needs_data
def test_equiatomic_nial_by_hand():
    _, enthalpies = data.read_upstream_tables()
    e = dict(zip(FEATURES, featurize(composition_vector("NiAl"))))
    assert e["k"] == pytest.approx((76 + 179) / 2)
    assert e["vm"] == pytest.approx((10.0 + 6.6) / 2)
    assert e["tm"] == pytest.approx((933.47 + 1728.15) / 2)
    assert e["vac"] == pytest.approx((3 + 10) / 2)
    assert e["delta"] == pytest.approx(100 * 5 / 130)  # r_bar 130, both 5 pm off
    assert e["delta_chi"] == pytest.approx((1.91 - 1.61) / 2)
    assert e["delta_s_mix"] == pytest.approx(R * math.log(2), abs=1e-5)
    assert e["delta_h_mix"] == pytest.approx(enthalpies["Al,Ni"])  # 4 * 0.5 * 0.5 = 1
    assert e["delta_h_mix"] == pytest.approx(-47.7)


@pytest.mark.needs_data
def test_pure_element_has_no_mixing():
    e = dict(zip(FEATURES, featurize(composition_vector("Fe"))))
    assert e["tm"] == pytest.approx(1811.15)
    assert e["delta"] == pytest.approx(0, abs=1e-10)
    assert e["delta_chi"] == pytest.approx(0, abs=1e-12)
    assert e["delta_s_mix"] == pytest.approx(0, abs=1e-5)
    assert e["delta_h_mix"] == 0


# --------------------------------------------------------------------------
# numpy and torch, shapes and gradients


def random_compositions(n: int, seed: int) -> np.ndarray:
    """Dirichlet compositions of 2 to 8 random elements (zeros elsewhere)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, len(ELEMENTS)))
    for row in x:
        chosen = rng.choice(len(ELEMENTS), size=rng.integers(2, 9), replace=False)
        row[chosen] = rng.dirichlet(np.ones(len(chosen)))
    return x


@pytest.mark.needs_data
def test_numpy_and_torch_agree():
    x = random_compositions(200, seed=1)
    e_np = featurize(x)
    e_torch = featurize(torch.tensor(x, dtype=torch.float64))
    assert isinstance(e_np, np.ndarray) and e_np.shape == (200, 8)
    assert isinstance(e_torch, torch.Tensor) and e_torch.dtype == torch.float64
    np.testing.assert_allclose(e_torch.numpy(), e_np, rtol=1e-12, atol=1e-12)


@pytest.mark.needs_data
def test_torch_keeps_float32():
    x = torch.tensor(random_compositions(4, seed=2), dtype=torch.float32)
    e = featurize(x)
    assert e.dtype == torch.float32 and e.shape == (4, 8)
    np.testing.assert_allclose(e.numpy(), featurize(x.double().numpy()), rtol=1e-4)


@pytest.mark.needs_data
def test_torch_gradients_match_finite_differences_on_sparse_compositions():
    # Perturb only the elements present: a zero fraction nudged below zero
    # leaves the domain of the logarithm.
    x = torch.tensor(random_compositions(2, seed=3), dtype=torch.float64)
    present = x > 0
    values = x[present].clone().requires_grad_(True)

    def features_of(v):
        full = torch.zeros_like(x).masked_scatter(present, v)
        return featurize(full, validate=False)  # finite differences leave the simplex

    assert torch.autograd.gradcheck(features_of, (values,), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.needs_data
def test_torch_gradients_match_finite_differences_with_all_elements():
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.dirichlet(np.full(30, 2.0), size=2), dtype=torch.float64)
    assert x.min() > 1e-4  # far from the edge of the logarithm's domain
    x.requires_grad_(True)
    # fast_mode compares a random directional derivative: 60 inputs would
    # otherwise take 120 evaluations.
    assert torch.autograd.gradcheck(
        lambda v: featurize(v, validate=False), (x,), eps=1e-7, atol=1e-5, rtol=1e-4, fast_mode=True
    )


@pytest.mark.needs_data
def test_single_vector_and_batch_agree():
    x = random_compositions(3, seed=5)
    batch = featurize(x)
    single = featurize(x[1])
    assert single.shape == (8,)
    np.testing.assert_allclose(single, batch[1], rtol=1e-14)
    single_torch = featurize(torch.tensor(x[1]))
    assert single_torch.shape == (8,)
    np.testing.assert_allclose(single_torch.numpy(), batch[1], rtol=1e-12)
    # Plain lists work, and integer tensors are promoted to float.
    np.testing.assert_allclose(featurize(list(x[1])), batch[1], rtol=1e-14)
    pure = torch.zeros(30, dtype=torch.int64)
    pure[IDX["Fe"]] = 1
    assert featurize(pure)[FEATURES.index("tm")].item() == pytest.approx(1811.15)


@pytest.mark.needs_data
@pytest.mark.parametrize("shape", [(29,), (4, 31), (2, 8)])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_wrong_width_is_refused(shape, backend):
    x = np.full(shape, 1 / shape[-1])
    x = torch.tensor(x) if backend == "torch" else x
    with pytest.raises(ValueError, match=rf"30 columns.*got shape \({shape[0]},"):
        featurize(x)


# --------------------------------------------------------------------------
# Tables


@pytest.mark.needs_data
def test_paper_table_reproduces_the_published_features():
    agreement = feature_agreement(data.load_dataset())
    assert list(agreement.index) == list(FEATURES)
    bad = agreement[agreement["max_rel_diff"] > 1e-5]
    assert bad.empty, f"features not reproduced:\n{bad}"


@pytest.mark.needs_data
def test_feature_agreement_detects_a_change():
    # The check above can fail: nudge one published value and see it reported.
    dataset = data.load_dataset()
    row = dataset.index[dataset["formula"] == dataset["formula"].iloc[10]][0]
    dataset.loc[row, "tm"] *= 1.001
    agreement = feature_agreement(dataset)
    assert agreement.loc["tm", "max_rel_diff"] == pytest.approx(0.001 / 1.001, rel=1e-6)
    assert agreement.loc["tm", "worst_alloy"] == dataset.loc[row, "formula"]


@pytest.mark.needs_data
def test_corrected_table_values():
    corrected = get_table("corrected").frame()
    paper = get_table("paper").frame()
    assert corrected["vac"].to_dict() == STANDARD_VEC
    for symbol in ELEMENTS:
        offset = VEC_EXCESS.get(symbol, 0)
        assert paper.loc[symbol, "vac"] == STANDARD_VEC[symbol] + offset, symbol
    assert corrected.loc["Sn", "tm"] == pytest.approx(505, abs=1)  # tin melts at 231.9 °C
    assert paper.loc["Sn", "tm"] == pytest.approx(395.71)
    # The enthalpies are not touched.
    np.testing.assert_array_equal(get_table("corrected").enthalpy, get_table("paper").enthalpy)


@pytest.mark.needs_data
def test_table_differences_lists_the_nine_vac_corrections():
    diff = table_differences()
    assert list(diff.columns) == ["element", "property", "paper", "corrected", "relative"]
    vac = diff[diff["property"] == "vac"].set_index("element")
    assert set(vac.index) == set(FOUR_F)
    assert (vac["paper"] - vac["corrected"]).to_dict() == VEC_EXCESS
    assert vac.loc["W", "relative"] == pytest.approx((6 - 20) / 20)
    tm_sn = diff[(diff["element"] == "Sn") & (diff["property"] == "tm")]
    assert len(tm_sn) == 1
    assert (diff["relative"].abs().diff().dropna() <= 0).all()  # largest first


@pytest.mark.needs_data
def test_corrected_vac_changes_exactly_the_alloys_with_4f_elements():
    dataset = data.load_dataset()
    x = dataset[list(ELEMENTS)].to_numpy()
    col = FEATURES.index("vac")
    changed = np.abs(featurize(x, "corrected")[:, col] - featurize(x, "paper")[:, col]) > 1e-9
    holds_4f = contains_any(dataset, FOUR_F).to_numpy()
    assert holds_4f.sum() == 409
    np.testing.assert_array_equal(changed, holds_4f)
    # VEC drops by each element's excess times its fraction.
    drop = featurize(x, "paper")[:, col] - featurize(x, "corrected")[:, col]
    excess = sum(VEC_EXCESS[s] * dataset[s].to_numpy() for s in FOUR_F)
    np.testing.assert_allclose(drop, excess, rtol=1e-12, atol=1e-12)


def test_unknown_table_names_the_choices():
    with pytest.raises(ValueError, match=r"'nope'.*\('paper', 'corrected', 'standard'\)"):
        get_table("nope")


# --------------------------------------------------------------------------
# Duplicate compositions


def test_find_duplicate_compositions_on_a_small_frame():
    formulas = ["Al0.5Co1", "FeNi", "Al0.5Co", "CrMn", "Fe1Ni1"]
    labels = [0, 1, 1, 0, 1]
    frame = pd.DataFrame([composition_vector(f) for f in formulas], columns=list(ELEMENTS))
    frame.insert(0, "formula", formulas)
    frame["label"] = labels
    frame.loc[2, "Al"] += 1e-9  # a rounding difference in the file must not hide the pair
    split = {"labelled": frame.iloc[[0, 1, 3, 4]], "test": frame.iloc[[2]]}
    found = find_duplicate_compositions(frame, split)
    expected = pd.DataFrame(
        {
            "group": [0, 0, 1, 1],
            "formula": ["Al0.5Co", "Al0.5Co1", "Fe1Ni1", "FeNi"],
            "label": [1, 0, 1, 1],
            "part": ["test", "labelled", "labelled", "labelled"],
            "labels_conflict": [True, True, False, False],
            "crosses_split": [True, True, False, False],
        }
    )
    pd.testing.assert_frame_equal(found, expected, check_dtype=False)

    without_split = find_duplicate_compositions(frame)
    assert list(without_split.columns) == ["group", "formula", "label", "labels_conflict"]
    assert len(without_split) == 4


def test_find_duplicate_compositions_without_duplicates_is_empty():
    formulas = ["FeNi", "Fe3Ni", "CoCr"]
    frame = pd.DataFrame([composition_vector(f) for f in formulas], columns=list(ELEMENTS))
    frame.insert(0, "formula", formulas)
    frame["label"] = [1, 0, 1]
    assert find_duplicate_compositions(frame).empty


@pytest.mark.needs_data
def test_find_duplicate_compositions_on_the_real_data():
    dataset = data.load_dataset()
    found = find_duplicate_compositions(dataset, data.paper_split(dataset))
    pair = found[found["formula"].isin(["Al0.5Co1Cr1Cu0.5Fe1Ni1", "Al0.5CoCrCu0.5FeNi"])]
    assert len(pair) == 2
    assert pair["group"].nunique() == 1
    assert (found["group"] == pair["group"].iloc[0]).sum() == 2  # nothing else in it
    assert set(pair["label"]) == {0, 1}
    assert pair["labels_conflict"].all() and pair["crosses_split"].all()
    assert set(pair["part"]) == {"labelled", "test"}


@pytest.mark.needs_data
def test_featurize_refuses_fractions_that_do_not_sum_to_one():
    import torch

    good = np.full(len(ELEMENTS), 1 / len(ELEMENTS))
    bad = np.stack([good, 2 * good, good])
    with pytest.raises(ValueError, match=r"1 row\(s\) do not: row 1 \(sum 2"):
        featurize(bad)
    negative = good.copy()
    negative[0], negative[1] = -0.1, negative[1] + 0.1
    with pytest.raises(ValueError, match="non-negative"):
        featurize(negative)
    with pytest.raises(ValueError, match="sum to 1"):
        featurize(torch.tensor(bad))
    # a float32 softmax sums to 1 only to rounding, and is accepted
    featurize(torch.softmax(torch.randn(4, len(ELEMENTS)), dim=-1))
