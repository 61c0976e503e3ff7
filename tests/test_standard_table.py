"""The "standard" element table: its vendored data, published alloy values, and HEACalculator's numbers.

Reference values and where they come from
-----------------------------------------
Mixing enthalpies of pairs: Takeuchi & Inoue (2005), Mater. Trans. 46, 2817,
the table of Miedema-model enthalpies of equiatomic liquid binaries (kJ/mol).
Radii: Guo & Liu (2011), Prog. Nat. Sci.: Mater. Int. 21, 433, Table 1 (pm).
Alloy values (size mismatch delta in %, mixing enthalpy in kJ/mol, ideal
mixing entropy in J/(mol K), VEC), as printed, to the digits printed:

- CoCrFeMnNi: delta 3.27, dH -4.16, dS 13.38, VEC 8.0 (the values quoted in
  issue 21 from the literature, e.g. Zhang et al. 2014, Prog. Mater. Sci. 61, 1).
- CoCrFeNi: delta 0.30, dH -3.75, VEC 8.25 (Guo et al. 2011, J. Appl. Phys.
  109, 103505; Guo & Liu 2011).
- AlCoCrFeNi: delta 5.78, dH -12.32, VEC 7.2 (Guo et al. 2011; Zhang et al.
  2008, Adv. Eng. Mater. 10, 534).
- Al0.5CoCrCuFeNi: delta 4.17, dH -1.52, dS 14.70 (Zhang et al. 2008).
- HfNbTaTiZr: dH 2.72, VEC 4.4 (Senkov et al. 2011, J. Alloys Compd. 509,
  6043; Guo et al. 2013, Intermetallics 41, 96).
- MoNbTaW: delta 2.31, dH -6.50, VEC 5.5 (Yang & Zhang 2012, Mater. Chem.
  Phys. 132, 233, Table 1).

Each is also derived by hand below, from the published pair enthalpies and
radii written out in this file (independently of the vendored files).
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from hea_dvae import data, elements
from hea_dvae.features import ELEMENTS, FEATURES, composition_vector, featurize, get_table, standard_vec

ROOT = Path(__file__).resolve().parents[1]
COMPARISON = ROOT / "tests" / "external" / "heacalculator_comparison.json"
IDX = {symbol: i for i, symbol in enumerate(ELEMENTS)}

#: SHA-256 of the vendored data files: a change to either must be deliberate.
VENDORED_SHA256 = {
    "standard_elements.csv": "25265bf747f78697528dfae7af2018c2317a2ba4a3a43c6af4de0930a4ec4aa8",
    "takeuchi_inoue_2005.csv": "24718b262f6f37d2c3354120dbe440082193694a47c3958806938997e9b46bd4",
}

#: Takeuchi & Inoue (2005), kJ/mol, typed from the published table.
TAKEUCHI_INOUE = {
    ("Al", "Ni"): -22, ("Al", "Fe"): -11, ("Co", "Cr"): -4, ("Cr", "Fe"): -1, ("Fe", "Mn"): 0,
    ("Co", "Fe"): -1, ("Cr", "Ni"): -7, ("Mn", "Ni"): -8, ("Co", "Mn"): -5, ("Cr", "Mn"): 2,
    ("Fe", "Ni"): -2, ("Co", "Ni"): 0, ("Al", "Co"): -19, ("Al", "Cr"): -10, ("Al", "Ti"): -30,
    ("Al", "Cu"): -1, ("Co", "Cu"): 6, ("Cr", "Cu"): 12, ("Cu", "Fe"): 13, ("Cu", "Ni"): 4,
    ("Hf", "Nb"): 4, ("Hf", "Ta"): 3, ("Hf", "Ti"): 0, ("Hf", "Zr"): 0, ("Nb", "Ta"): 0,
    ("Nb", "Ti"): 2, ("Nb", "Zr"): 4, ("Ta", "Ti"): 1, ("Ta", "Zr"): 3, ("Ti", "Zr"): 0,
    ("Mo", "Nb"): -6, ("Mo", "Ta"): -5, ("Mo", "W"): 0, ("Nb", "W"): -8, ("Ta", "W"): -7,
}  # fmt: skip

#: Guo & Liu (2011), Table 1, pm, typed from the published table.
GUO_LIU_RADII = {
    "Al": 143.2, "Co": 125.1, "Cr": 124.9, "Cu": 127.8, "Fe": 124.1, "Mn": 135.0, "Ni": 124.6,
    "Ti": 146.2, "Zr": 160.3, "Nb": 142.9, "Mo": 136.3, "Hf": 157.8, "Ta": 143.0, "W": 136.7,
}  # fmt: skip

#: (formula, feature, published value, digits printed).
PUBLISHED = [
    ("CoCrFeMnNi", "delta", 3.27, 2), ("CoCrFeMnNi", "delta_h_mix", -4.16, 2),
    ("CoCrFeMnNi", "delta_s_mix", 13.38, 2), ("CoCrFeMnNi", "vac", 8.0, 1),
    ("CoCrFeNi", "delta", 0.30, 2), ("CoCrFeNi", "delta_h_mix", -3.75, 2), ("CoCrFeNi", "vac", 8.25, 2),
    ("AlCoCrFeNi", "delta", 5.78, 2), ("AlCoCrFeNi", "delta_h_mix", -12.32, 2), ("AlCoCrFeNi", "vac", 7.2, 1),
    ("Al0.5CoCrCuFeNi", "delta", 4.17, 2), ("Al0.5CoCrCuFeNi", "delta_h_mix", -1.52, 2),
    ("Al0.5CoCrCuFeNi", "delta_s_mix", 14.70, 2),
    ("HfNbTaTiZr", "delta_h_mix", 2.72, 2), ("HfNbTaTiZr", "vac", 4.4, 1),
    ("MoNbTaW", "delta", 2.31, 2), ("MoNbTaW", "delta_h_mix", -6.50, 2), ("MoNbTaW", "vac", 5.5, 1),
]  # fmt: skip


def by_hand(formula: str) -> dict:
    """delta (%) and dH (kJ/mol) from the typed published radii and pair enthalpies."""
    x = composition_vector(formula)
    present = [(s, x[IDX[s]]) for s in ELEMENTS if x[IDX[s]] > 0]
    r_mean = sum(c * GUO_LIU_RADII[s] for s, c in present)
    delta = 100 * math.sqrt(sum(c * (1 - GUO_LIU_RADII[s] / r_mean) ** 2 for s, c in present))
    h_mix = sum(4 * ca * cb * TAKEUCHI_INOUE[tuple(sorted((a, b)))]
                for (a, ca), (b, cb) in itertools.combinations(present, 2))
    return {"delta": delta, "delta_h_mix": h_mix}


# --------------------------------------------------------------------------
# The vendored files (no upstream data needed)


@pytest.mark.parametrize("name", sorted(VENDORED_SHA256))
def test_vendored_files_are_the_checked_ones(name):
    path = resources.files("hea_dvae").joinpath(elements.STANDARD_DATA, name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == VENDORED_SHA256[name], (
        f"{name} changed: check its values against the sources in its header, then update the digest")


def test_vendored_files_name_their_sources_and_licences():
    folder = resources.files("hea_dvae").joinpath(elements.STANDARD_DATA)
    notice = folder.joinpath("NOTICE.txt").read_text()
    assert "matminer" in notice and "Redistribution and use" in notice  # BSD terms kept
    assert "mendeleev" in notice and "MIT License" in notice
    assert "Takeuchi" in folder.joinpath("takeuchi_inoue_2005.csv").read_text()
    assert "Guo and C.T. Liu" in folder.joinpath("standard_elements.csv").read_text()


@pytest.mark.parametrize("pair, published", sorted(TAKEUCHI_INOUE.items()))
def test_enthalpies_are_takeuchi_inoue(pair, published):
    enthalpy = elements.takeuchi_inoue_enthalpies()
    a, b = (IDX[s] for s in pair)
    assert enthalpy[a, b] == published and enthalpy[b, a] == published


def test_enthalpy_matrix_covers_every_pair_once():
    enthalpy = elements.takeuchi_inoue_enthalpies()
    assert enthalpy.shape == (30, 30)
    np.testing.assert_array_equal(enthalpy, enthalpy.T)
    np.testing.assert_array_equal(np.diag(enthalpy), 0)
    upper = enthalpy[np.triu_indices(30, k=1)]
    assert len(upper) == 435 and np.isfinite(upper).all()
    np.testing.assert_array_equal(upper, np.round(upper))  # the table is in whole kJ/mol


@pytest.mark.parametrize("symbol", sorted(GUO_LIU_RADII))
def test_radii_are_guo_and_liu(symbol):
    assert elements.standard_radii_and_allen().loc[symbol, "radius_pm"] == GUO_LIU_RADII[symbol]


def test_allen_electronegativities_are_configuration_energies():
    # Mann, Meek & Allen (2000), in eV: Al 9.539, Si 11.33, Fe 10.64; on Pauling's scale (x 0.169) 1.61, 1.92, 1.80.
    allen = elements.standard_radii_and_allen()["allen_ev"]
    assert (allen.loc["Al"], allen.loc["Si"], allen.loc["Fe"]) == (9.539, 11.33, 10.64)
    assert allen.notna().all() and allen.between(5, 12).all()


# --------------------------------------------------------------------------
# The table


@pytest.mark.needs_data
def test_standard_table_holds_what_it_says():
    standard, corrected = get_table("standard"), get_table("corrected")
    frame = standard.frame()
    assert list(frame.columns) == ["k", "vm", "tm", "vac", "ar", "chi"]
    assert "chi_allen" in standard.frame(extra=True).columns
    for prop in ("k", "vm", "tm", "chi"):
        np.testing.assert_array_equal(standard.properties[prop], corrected.properties[prop])
    assert frame["vac"].to_dict() == {s: standard_vec(s) for s in ELEMENTS}
    assert frame.loc["Mn", "ar"] == 135.0 and frame.loc["Al", "ar"] == 143.2
    np.testing.assert_array_equal(standard.enthalpy, elements.takeuchi_inoue_enthalpies())
    assert any("Guo & Liu" in note for note in standard.notes)
    assert any("Zr k" in note for note in standard.notes)  # pymatgen has no bulk modulus of Zr


@pytest.mark.needs_data
@pytest.mark.parametrize("formula, feature, published, digits", PUBLISHED)
def test_reference_alloys_match_the_literature(formula, feature, published, digits):
    got = featurize(composition_vector(formula), "standard")[FEATURES.index(feature)]
    assert abs(got - published) <= 0.5 * 10.0**-digits + 1e-12, f"{formula} {feature}: {got} vs {published}"


@pytest.mark.parametrize("formula", sorted({f for f, feature, *_ in PUBLISHED if feature in ("delta", "delta_h_mix")}))
def test_reference_alloys_by_hand(formula):
    hand = by_hand(formula)
    for f, feature, published, digits in PUBLISHED:
        if f == formula and feature in hand:
            assert round(hand[feature], digits) == pytest.approx(published, abs=1e-12), (formula, feature)


@pytest.mark.needs_data
def test_cantor_alloy_by_hand_with_the_standard_table():
    e = dict(zip(FEATURES, featurize(composition_vector("CoCrFeMnNi"), "standard")))
    # r_bar = (125.1 + 124.9 + 124.1 + 135.0 + 124.6) / 5 = 126.74 pm
    r = np.array([125.1, 124.9, 124.1, 135.0, 124.6])
    assert e["delta"] == pytest.approx(100 * math.sqrt(np.mean((1 - r / 126.74) ** 2)), rel=1e-12)
    # Co-Cr -4, Co-Fe -1, Co-Mn -5, Co-Ni 0, Cr-Fe -1, Cr-Mn 2, Cr-Ni -7, Fe-Mn 0, Fe-Ni -2, Mn-Ni -8: sum -26
    assert e["delta_h_mix"] == pytest.approx(4 * 0.04 * -26, rel=1e-12)  # -4.16
    assert e["vac"] == pytest.approx((9 + 6 + 8 + 7 + 10) / 5)


@pytest.mark.needs_data
@pytest.mark.parametrize("table", ["paper", "corrected"])
def test_the_other_tables_miss_the_literature(table):
    # The check above can fail: the authors' radii and enthalpies do not give the published values.
    e = dict(zip(FEATURES, featurize(composition_vector("CoCrFeMnNi"), table)))
    assert abs(e["delta"] - 3.27) > 1.0  # 1.78 %
    assert abs(e["delta_h_mix"] - -4.16) > 2.0  # -6.54 kJ/mol


# --------------------------------------------------------------------------
# Against HEACalculator's numbers (tests/external/heacalculator_comparison.json)


def _comparison_script():
    spec = importlib.util.spec_from_file_location("compare_heacalculator", ROOT / "scripts" / "compare_heacalculator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _comparison() -> dict:
    return json.loads(COMPARISON.read_text())


def test_comparison_file_states_a_tolerance_or_a_reason_for_every_quantity():
    document = _comparison()
    assert document["alloys"] == 1373
    assert set(document["tables"]) == {"paper", "corrected", "standard"}
    for name, row in document["tables"]["standard"].items():
        tolerance = document["tolerance"][name]
        assert tolerance["why"], name
        assert tolerance["max_rel"] is None or tolerance["max_rel"] > 0, name


@pytest.mark.parametrize("name", ["delta", "delta_h_mix", "delta_s_mix", "vac", "tm", "delta_chi", "omega", "lambda_"])
def test_standard_table_agreed_with_the_calculator_within_the_stated_tolerance(name):
    document = _comparison()
    row, tolerance = document["tables"]["standard"][name], document["tolerance"][name]["max_rel"]
    assert tolerance is not None
    assert row["max_rel_checked"] <= tolerance, f"{name}: {row['max_rel_checked']} > {tolerance}"
    assert row["alloys_checked"] >= 1100  # the check covers most alloys
    assert row["max_abs_calculator_zero"] <= 1e-9  # where the calculator has zero, so do we


def test_delta_and_enthalpy_agree_on_every_alloy_with_the_calculator():
    standard = _comparison()["tables"]["standard"]
    for name in ("delta", "delta_h_mix"):
        assert standard[name]["max_rel"] <= 1e-9 and standard[name]["alloys_checked"] == standard[name]["alloys_compared"]
    # ... and the paper's table did not (the reason for the standard table).
    assert _comparison()["tables"]["paper"]["delta"]["median_rel"] > 0.1


@pytest.mark.needs_data
def test_our_standard_values_are_the_ones_that_were_compared():
    script = _comparison_script()
    dataset = data.load_dataset()
    x = dataset[list(ELEMENTS)].to_numpy()
    ours = script.our_values(x, "standard")
    recorded = _comparison()["tables"]["standard"]
    for name, row in recorded.items():
        got = script.checksums(ours[name])
        for key in ("mean", "weighted_mean"):
            assert got[key] == pytest.approx(row["ours"][key], rel=1e-9), (name, key)
        assert got["n_infinite"] == row["ours"]["n_infinite"], name


def test_checksums_see_one_alloy_move():
    script = _comparison_script()
    values = np.linspace(1.0, 5.0, 1373)
    moved = values.copy()
    moved[[10, 700]] = moved[[700, 10]]  # same mean, two alloys swapped
    assert script.checksums(moved)["mean"] == pytest.approx(script.checksums(values)["mean"], rel=1e-12)
    assert script.checksums(moved)["weighted_mean"] != pytest.approx(script.checksums(values)["weighted_mean"], rel=1e-9)
    nudged = values.copy()
    nudged[5] *= 1.001
    assert script.checksums(nudged)["weighted_mean"] != pytest.approx(script.checksums(values)["weighted_mean"], rel=1e-9)


def test_the_book_s_literature_table_shows_the_standard_table_at_the_published_digits():
    from hea_dvae.features import LITERATURE_VALUES, tables_against_literature

    table = tables_against_literature()
    assert len(table) == len(LITERATURE_VALUES)
    assert (table["standard"].round(2) == table["published"]).all()
    # The paper's table misses the Cantor alloy's published delta and enthalpy by far.
    assert abs(table.loc[("CoCrFeMnNi", "delta"), "paper"] - 3.27) > 1.0
    assert abs(table.loc[("CoCrFeMnNi", "delta_h_mix"), "paper"] - -4.16) > 2.0
